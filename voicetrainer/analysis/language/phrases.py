"""Move kinds, the `Move` value, and the phrase lists (phrases.yaml) compiled to regexes.

A phrase pattern is a case-insensitive regular expression matched at word boundaries on the
*normalised* utterance (see `normalize`; lowercased, so patterns are lowercased too; a pattern
starts at the beginning of a word): a space matches any run of whitespace, `` ?``
optional whitespace, an apostrophe is optional (``i'll`` also matches Whisper's ``ill``), and
``{name}`` expands to one of the shared `MACROS` (``{num}``: a number, digits or "a few"...).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from voicetrainer.errors import ConfigError

MOVE_KINDS = (
    "apology",
    "empathy",
    "ownership",
    "timeframe",
    "next_step",
    "repeat_back",
    "clarifying_question",
    "jargon",
    "blame",
    "calm_down",
    "policy",
    "gratitude",
    "greeting",
    "dismissive",
)

# Kinds found from phrase lists (all but repeat_back, which compares with the caller's facts).
PHRASE_KINDS = tuple(k for k in MOVE_KINDS if k != "repeat_back")

# Kinds that credit the trainee; a sarcastic sentence or a "sorry, but <refusal>" loses them.
WARM_KINDS = ("apology", "empathy", "gratitude", "ownership")

WHY = {
    "apology": "apology",
    "empathy": "empathy",
    "ownership": "ownership",
    "timeframe": "concrete timeframe",
    "next_step": "concrete next step",
    "repeat_back": "repeated the caller's facts",
    "clarifying_question": "clarifying question",
    "jargon": "jargon",
    "blame": "blamed the caller",
    "calm_down": "told the caller to calm down",
    "policy": "hid behind policy",
    "gratitude": "thanked the caller",
    "greeting": "greeting",
    "dismissive": "dismissive",
}

# Shared pieces of patterns, written {name} in phrases.yaml. Spoken numbers are digits by the
# time patterns run ("forty eight hours" -> "48 hours"), except a lone "one".
MACROS = {
    "num": r"(?:\d+(?:[.:,]\d+)?(?:\s*(?:-|to|or)\s*\d+)?|a|an|one|a\s+few|a\s+couple(?:\s+of)?|couple\s+of|several|few|half\s+an)",
    "unit": r"(?:(?:business|working|calendar|banking)\s+)?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?)",
    "weekday": r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thurs|fri|sat|sun)",
    "will": r"(?:will|shall|(?:i|we|you|it|they|he|she|that|there|this)'?ll|(?:am|i'?m|are|we'?re|you'?re|they'?re|is|it'?s)\s+going\s+to|(?:i'?m|we'?re|it'?s)?\s*gonna)",
    "we": r"(?:i|we)",
}


@dataclass(frozen=True)
class Move:
    """One thing the trainee did with words.

    Attributes:
        kind: one of MOVE_KINDS.
        quote: the matched words, as spoken (a slice of the text).
        start_char, end_char: the span of ``quote`` in the text (``text[start_char:end_char]``).
        t_s: start time in seconds of the first matched word, when ``words`` with times were
            given and could be aligned to the text; else None.
        why: short human label for reports and logs, e.g. "apology", "concrete timeframe",
            "jargon: 'cache'", "repeated the caller's facts: '4821'".
    """

    kind: str
    quote: str
    start_char: int
    end_char: int
    t_s: float | None
    why: str


@dataclass(frozen=True)
class PhraseLists:
    """Patterns per move kind (tuples of regex strings), their exceptions, and helper lists.

    Attributes:
        <kind>: patterns that find the move (one field per kind of PHRASE_KINDS).
        not_<kind>: exceptions: a match of <kind> overlapping one of these is not that move
            ("sorry?" is not an apology, "anything else today" is no timeframe).
        sarcasm: a sentence with one of these is dismissive, and its apologies, empathy,
            thanks and ownership do not count.
        refusal: an apology or empathy followed in its sentence by but/however/unfortunately
            and one of these is dismissive ("sorry, but there's nothing I can do").
        stopwords: words ignored when comparing the trainee's words with the caller's facts.

    Build with ``PhraseLists.from_mapping(mapping)`` (the shape of phrases.yaml) or
    ``load_phrases(path)``. Plain frozen data: hashable, comparable, safe to share.
    """

    apology: tuple[str, ...] = ()
    empathy: tuple[str, ...] = ()
    ownership: tuple[str, ...] = ()
    timeframe: tuple[str, ...] = ()
    next_step: tuple[str, ...] = ()
    clarifying_question: tuple[str, ...] = ()
    jargon: tuple[str, ...] = ()
    blame: tuple[str, ...] = ()
    calm_down: tuple[str, ...] = ()
    policy: tuple[str, ...] = ()
    gratitude: tuple[str, ...] = ()
    greeting: tuple[str, ...] = ()
    dismissive: tuple[str, ...] = ()
    not_apology: tuple[str, ...] = ()
    not_empathy: tuple[str, ...] = ()
    not_ownership: tuple[str, ...] = ()
    not_timeframe: tuple[str, ...] = ()
    not_next_step: tuple[str, ...] = ()
    not_clarifying_question: tuple[str, ...] = ()
    not_jargon: tuple[str, ...] = ()
    not_blame: tuple[str, ...] = ()
    not_calm_down: tuple[str, ...] = ()
    not_policy: tuple[str, ...] = ()
    not_gratitude: tuple[str, ...] = ()
    not_greeting: tuple[str, ...] = ()
    not_dismissive: tuple[str, ...] = ()
    sarcasm: tuple[str, ...] = ()
    refusal: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in fields(self):  # lists given directly become tuples: hashable, immutable
            value = getattr(self, f.name)
            if isinstance(value, str):
                raise ConfigError("must be a list of patterns, not one string", field=f.name)
            if not isinstance(value, tuple):
                object.__setattr__(self, f.name, tuple(value))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]], *, source: str | Path | None = None) -> "PhraseLists":
        """From a mapping kind -> list of patterns. Unknown keys and bad regexes raise ConfigError
        naming ``source`` (a file path, for messages) and the key."""
        if not isinstance(mapping, Mapping):
            raise ConfigError("phrase lists must be a mapping of kind -> list of patterns", path=source)
        known = {f.name for f in fields(cls)}
        values: dict[str, tuple[str, ...]] = {}
        for key, items in mapping.items():
            if key not in known:
                raise ConfigError(
                    f"unknown phrase kind {key!r}; known: {', '.join(sorted(known))}", path=source, field=str(key)
                )
            if isinstance(items, str) or not isinstance(items, Iterable):
                raise ConfigError("must be a list of patterns", path=source, field=str(key))
            patterns = []
            for i, item in enumerate(items):
                if not isinstance(item, str) or not item.strip():
                    raise ConfigError("must be a non-empty string", path=source, field=f"{key}[{i}]")
                if key != "stopwords":
                    try:
                        re.compile(to_regex(item))
                    except (re.error, KeyError) as e:
                        raise ConfigError(f"not a valid pattern ({e}): {item!r}", path=source, field=f"{key}[{i}]") from e
                patterns.append(item.strip())
            values[key] = tuple(patterns)
        return cls(**values)

    def merged(self, overrides: Mapping[str, Iterable[str]], *, source: str | Path | None = None) -> "PhraseLists":
        """A copy where each kind present in ``overrides`` replaces this one's list."""
        base = {f.name: getattr(self, f.name) for f in fields(self)}
        new = PhraseLists.from_mapping(overrides, source=source)
        for key in overrides:
            base[key] = getattr(new, key)
        return PhraseLists(**base)


def default_phrases_path() -> Path:
    return Path(str(resources.files("voicetrainer") / "data" / "phrases.yaml"))


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> PhraseLists:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError as e:
        raise ConfigError("phrase list file not found", path=path) from e
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML ({e})", path=path) from e
    return PhraseLists.from_mapping(doc or {}, source=path)


def load_phrases(path: str | Path | None = None) -> PhraseLists:
    """Phrase lists from a YAML file (default: voicetrainer/data/phrases.yaml), read with safe_load."""
    p = Path(path) if path is not None else default_phrases_path()
    try:
        mtime = p.stat().st_mtime_ns
    except FileNotFoundError as e:
        raise ConfigError("phrase list file not found", path=p) from e
    return _load_cached(str(p), mtime)


# --------------------------------------------------------------------------------------------
# pattern compilation

_MACRO_RE = re.compile(r"\{(\w+)\}")


def to_regex(pattern: str) -> str:
    """A phrase pattern -> a regex: ' ?' = optional whitespace, ' ' = any whitespace run,
    "'" = an optional apostrophe, {name} = a macro. Raises KeyError for an unknown macro."""
    p = pattern.strip().replace("’", "'")
    p = re.sub(r"(\\.)|([A-Z])", lambda m: m.group(1) or m.group(2).lower(), p)  # text is lowercased
    p = p.replace(" ?", r"\s*").replace(" ", r"\s+")
    p = re.sub(r"'(?![?*+])", "'?", p)
    p = _MACRO_RE.sub(lambda m: MACROS[m.group(1)], p)
    return rf"\b(?<![\w']){'(?:' + p + ')'}(?!\w)"


@functools.lru_cache(maxsize=32)
def compiled(phrases: PhraseLists) -> dict[str, re.Pattern[str]]:
    """{list name: one regex, the alternation of the list's patterns} for every pattern list
    (not stopwords). One scan per list: matching stays fast on a two-hour call."""
    out: dict[str, re.Pattern[str]] = {}
    for f in fields(phrases):
        patterns = getattr(phrases, f.name)
        if f.name != "stopwords" and patterns:
            out[f.name] = re.compile("|".join(to_regex(p) for p in patterns))
    return out
