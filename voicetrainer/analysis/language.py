"""What the trainee *said*: apology, empathy, ownership, timeframes, jargon, blame, "calm down"...

One detector shared by the caller's mood (``voicetrainer.persona.dialog``) and the skills rubric
(``voicetrainer.analysis.rubric``), so the caller reacts to exactly what the report cites.

Public API::

    moves = detect_moves("I'm so sorry, I'll refund it by Friday", words=words, facts=["order 4821"])
    # -> [Move(kind="apology", quote="I'm so sorry", start_char=0, end_char=12, t_s=3.1, why="apology"),
    #     Move(kind="next_step", ...), Move(kind="timeframe", quote="by Friday", ...)]
    phrases = load_phrases()                  # voicetrainer/data/phrases.yaml
    phrases = PhraseLists.from_mapping({...}) # e.g. a rubric file's overrides
    phrases = load_phrases().merged({"jargon": [...]})

Patterns are case-insensitive regular expressions matched at word boundaries; a space in a
pattern matches any run of whitespace, `` ?`` optional whitespace. ``repeat_back`` is not a phrase
list: it fires when the trainee repeats one of the caller's ``facts`` (a number, also spoken as
words -- "forty two" or "four two" for 42 -- or the fact's content words).

Pure functions, no state; compiled patterns are cached per PhraseLists value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import ConfigError
from voicetrainer.report.schema import Word

log = get_logger(__name__)

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

# (winner, loser): a loser match overlapping a winner match of the same text is dropped.
PRECEDENCE = (("dismissive", "apology"), ("greeting", "timeframe"), ("clarifying_question", "empathy"))

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

# A repeat_back quote that would span more than this many characters cites the first match only.
MAX_REPEAT_QUOTE_CHARS = 60


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
    """Patterns per move kind (tuples of regex strings) and the stopwords for repeat_back.

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
                        re.compile(_to_regex(item))
                    except re.error as e:
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


def _to_regex(pattern: str) -> str:
    """A phrase pattern -> a regex: ' ?' = optional whitespace, ' ' = any whitespace run."""
    p = pattern.strip().replace("’", "'")
    p = p.replace(" ?", r"\s*").replace(" ", r"\s+")
    return rf"(?<![\w']){'(?:' + p + ')'}(?![\w'])"


@functools.lru_cache(maxsize=32)
def _compiled(phrases: PhraseLists) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    out: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for kind in PHRASE_KINDS:
        out[kind] = [(p, re.compile(_to_regex(p), re.IGNORECASE)) for p in getattr(phrases, kind)]
    return out


# --------------------------------------------------------------------------------------------
# numbers spoken as words

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
_ORDINALS = {
    "first": "one", "second": "two", "third": "three", "fourth": "four", "fifth": "five", "sixth": "six",
    "seventh": "seven", "eighth": "eight", "ninth": "nine", "tenth": "ten", "eleventh": "eleven",
    "twelfth": "twelve", "thirteenth": "thirteen", "fifteenth": "fifteen", "twentieth": "twenty",
    "thirtieth": "thirty",
}  # fmt: skip
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?", re.IGNORECASE)


@dataclass(frozen=True)
class _Tok:
    text: str  # lowercased
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _number_word(tok: str) -> str | None:
    tok = _ORDINALS.get(tok, tok)
    if tok in _UNITS or tok in _TENS or tok in _SCALES:
        return tok
    return None


def _chunk_values(words: list[str]) -> list[int]:
    """Number words -> the numbers they say, chunked where a new number must begin.

    "forty two" -> [42]; "ninety nine" -> [99]; "four eight two one" -> [4, 8, 2, 1];
    "two hundred and five" (the "and" removed by the caller) -> [205].
    """
    values: list[int] = []
    total, current, last = 0, 0, None  # last: "unit" | "teen" | "tens" | "scale"
    started = False
    for w in words:
        if w in _SCALES:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total, current = total + current, 0
            last, started = "scale", True
            continue
        v = _UNITS.get(w, _TENS.get(w))
        kind = "tens" if w in _TENS else ("teen" if v >= 10 else "unit")
        new_number = started and (
            last in ("unit", "teen")
            or (last == "tens" and kind != "unit")
        )
        if new_number:
            values.append(total + current)
            total, current = 0, 0
        current += v
        last, started = kind, True
    if started:
        values.append(total + current)
    return values


def _numbers(text: str) -> list[tuple[str, int, int]]:
    """Numbers in text as digit strings with spans: written digits ("$89.99" -> "89", "99") and
    spoken ones ("forty two" -> "42"); a run of spoken single digits also gives their
    concatenation ("four eight two one" -> "4821")."""
    out: list[tuple[str, int, int]] = []
    for m in re.finditer(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+", text):  # "4,800" is one number
        out.append((m.group(0).replace(",", "").lstrip("0") or "0", m.start(), m.end()))
    toks = _tokens(text)
    i = 0
    while i < len(toks):
        if _number_word(toks[i].text) is None or (toks[i].text == "oh" and not _run_has_digit(toks, i)):
            i += 1
            continue
        j, run = i, []
        while j < len(toks):
            w = _number_word(toks[j].text)
            if j > i and text[toks[j - 1].end : toks[j].start].strip(" -"):
                break  # punctuation between words ends a spoken number
            if w is not None:
                run.append(w)
                j += 1
            elif toks[j].text == "and" and run and j + 1 < len(toks) and _number_word(toks[j + 1].text):
                j += 1
            else:
                break
        start, end = toks[i].start, toks[j - 1].end
        values = _chunk_values(run)
        for v in values:
            out.append((str(v), start, end))
        if len(values) > 1:
            out.append(("".join(str(v) for v in values), start, end))
        i = j
    return out


def _run_has_digit(toks: list[_Tok], i: int) -> bool:
    """'oh' counts as zero only next to other number words ("four oh two")."""
    neighbours = [toks[k].text for k in (i - 1, i + 1) if 0 <= k < len(toks)]
    return any(_number_word(n) is not None and n != "oh" for n in neighbours)


# --------------------------------------------------------------------------------------------
# content words (for repeat_back)


def _stem(word: str) -> str:
    w = word.lower().replace("'s", "")
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) - len(suffix) >= 4 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _content_tokens(text: str, stopwords: frozenset[str]) -> list[_Tok]:
    return [
        t
        for t in _tokens(text)
        if len(t.text) >= 3 and t.text not in stopwords and not t.text.isdigit() and _number_word(t.text) is None
    ]


def _repeat_back_moves(text: str, facts: Sequence[str], stopwords: frozenset[str]) -> list[Move]:
    moves = []
    text_numbers = _numbers(text)
    text_content = _content_tokens(text, stopwords)
    for fact in facts:
        if not fact or not fact.strip():
            continue
        fact_numbers = {n for n, _, _ in _numbers(fact)}
        # a single-digit number ("3") alone is too common to count as a repeated fact
        meaningful = {n for n in fact_numbers if len(n) >= 2} or (
            fact_numbers if fact.strip().isdigit() else set()
        )
        hits = [(s, e, n) for n, s, e in text_numbers if n in meaningful]
        if hits:
            s, e, n = min(hits)
            moves.append(Move("repeat_back", text[s:e], s, e, None, f"repeated the caller's facts: {n!r}"))
            continue
        fact_stems = {_stem(t.text) for t in _content_tokens(fact, stopwords)}
        if not fact_stems or (meaningful and len(fact_stems) < 2):
            continue  # "order 48213": saying "order" is not repeating the fact
        matched = [t for t in text_content if _stem(t.text) in fact_stems]
        distinct = {_stem(t.text) for t in matched}
        need = 1 if len(fact_stems) == 1 else 2
        if len(distinct) >= need:
            first, last = matched[0], matched[-1]
            if last.end - first.start > MAX_REPEAT_QUOTE_CHARS:
                last = first
            words = ", ".join(sorted(distinct))
            moves.append(
                Move("repeat_back", text[first.start : last.end], first.start, last.end, None,
                     f"repeated the caller's facts: {words}")
            )  # fmt: skip
    return moves


# --------------------------------------------------------------------------------------------
# word times


def _align_words(text: str, words: Sequence[Word]) -> list[tuple[int, int, float]]:
    """(start_char, end_char, start_s) of each word found, in order, in the text."""
    spans = []
    cursor = 0
    low = text.lower()
    for w in words:
        word, start_s = (w["word"], w["start_s"]) if isinstance(w, Mapping) else (w.word, w.start_s)
        token = str(word).strip().lower().replace("’", "'")
        token = token.strip(".,!?;:\"()[]")
        if not token:
            continue
        at = low.find(token, cursor)
        if at < 0 or at - cursor > 40 + len(token) * 2:  # not found nearby: skip this word
            continue
        spans.append((at, at + len(token), float(start_s)))
        cursor = at + len(token)
    return spans


def _time_at(spans: list[tuple[int, int, float]], start: int, end: int) -> float | None:
    for s, e, t in spans:
        if e > start and s < end:
            return t
    return None


# --------------------------------------------------------------------------------------------


def detect_moves(
    text: str,
    *,
    words: Sequence[Word] | None = None,
    facts: Sequence[str] = (),
    phrases: PhraseLists | None = None,
) -> list[Move]:
    """Find the trainee's conversational moves in one utterance (or a whole transcript).

    Args:
        text: what the trainee said. May be "" when ``words`` are given (they are joined).
        words: the same utterance as words with times (``voicetrainer.report.schema.Word``, or
            mappings with "word" and "start_s" as in report JSON);
            used only to stamp each move with ``t_s`` (start of its first word, in seconds).
        facts: the caller's account facts ("order 48213", "$89.99", "charged twice on March 3")
            or the caller's previous utterances; ``repeat_back`` fires when the trainee repeats
            one (a number of 2+ digits, written or spoken, or its content words: all of them for
            a one-word fact, at least two otherwise).
        phrases: pattern lists; default ``load_phrases()``.

    Returns:
        Moves ordered by position in the text (then by kind in MOVE_KINDS order). Several kinds
        may cover the same words ("I'll refund it by Friday" is next_step and timeframe); one
        kind never reports overlapping spans twice.
    """
    if words and not text:
        text = " ".join(str(w["word"] if isinstance(w, Mapping) else w.word).strip() for w in words)
    if not text:
        return []
    phrases = phrases if phrases is not None else load_phrases()
    norm = text.replace("’", "'").replace("‘", "'")  # same length: spans stay valid

    found: dict[str, list[tuple[int, int, str]]] = {k: [] for k in MOVE_KINDS}
    for kind, patterns in _compiled(phrases).items():
        for source, rx in patterns:
            for m in rx.finditer(norm):
                if m.end() > m.start():
                    found[kind].append((m.start(), m.end(), source))

    for winner, loser in PRECEDENCE:
        found[loser] = [
            f for f in found[loser] if not any(f[0] < w[1] and w[0] < f[1] for w in found[winner])
        ]

    moves: list[Move] = []
    for kind in PHRASE_KINDS:
        for s, e in _non_overlapping((s, e) for s, e, _ in found[kind]):
            quote = text[s:e]
            why = f"jargon: {quote.lower()!r}" if kind == "jargon" else WHY[kind]
            moves.append(Move(kind, quote, s, e, None, why))

    if facts:
        stop = frozenset(w.lower() for w in phrases.stopwords)
        moves.extend(_repeat_back_moves(norm, facts, stop))
        # quotes must be the text as spoken, not the normalised copy
        moves = [m if m.kind != "repeat_back" else _requote(m, text) for m in moves]

    if words:
        spans = _align_words(norm, words)
        moves = [_with_time(m, _time_at(spans, m.start_char, m.end_char)) for m in moves]

    order = {k: i for i, k in enumerate(MOVE_KINDS)}
    moves.sort(key=lambda m: (m.start_char, order[m.kind], m.end_char))
    log.debug("detect_moves: %d moves in %r", len(moves), text[:60])
    return moves


def _non_overlapping(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans of one kind merge into one ("I'm so sorry" + "sorry about this")."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _requote(m: Move, text: str) -> Move:
    return Move(m.kind, text[m.start_char : m.end_char], m.start_char, m.end_char, m.t_s, m.why)


def _with_time(m: Move, t_s: float | None) -> Move:
    return Move(m.kind, m.quote, m.start_char, m.end_char, t_s, m.why)


def count_kinds(moves: Iterable[Move]) -> dict[str, int]:
    """How many moves of each kind (kinds with none are absent)."""
    counts: dict[str, int] = {}
    for m in moves:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    return counts
