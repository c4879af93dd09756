"""The rubric: seven skills scored 0-100 with timestamped evidence, from a data file.

The rubric file (YAML; the shipped default is ``voicetrainer/data/rubric.yaml``, which documents
every field) says, per skill, a base score and the points of each *move* (a phrase kind found by
`voicetrainer.analysis.language.detect_moves`, the detector that also drives the caller's mood)
and of each delivery *signal* (interruptions, quick replies, pace, fillers, dead air, vocal
calm per turn). `score_skills` applies it to a `Report`; nothing is re-measured, so an old
session can be re-graded with a new rubric from its report alone.

Evidence lines point at the exact words: a move's time is the start of its first word.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voicetrainer import get_logger
from voicetrainer.errors import ConfigError
from voicetrainer.report.schema import SKILLS, Evidence, Report, Skill, Turn, finite
from voicetrainer.rules import RULES

log = get_logger(__name__)

DEFAULT_RUBRIC_PATH = Path(__file__).resolve().parents[1] / "data" / "rubric.yaml"

# Delivery signals a rubric may give points to (see rubric.yaml for their definitions).
SIGNALS = ("interruption", "quick_reply", "off_pace_turn", "filler_rate", "long_silence", "tense_turn", "steady_turn")
SIGNAL_LABELS = {
    "interruption": "interrupted",
    "quick_reply": "rushed reply",
    "off_pace_turn": "pace",
    "filler_rate": "fillers",
    "long_silence": "dead air",
    "tense_turn": "tense turn",
    "steady_turn": "steady turn",
}
QUOTE_WORDS = 8  # words quoted from a turn for signal evidence
MIN_FACT_WORDS = 3  # caller turns shorter than this are not facts the trainee could repeat back
# repeat-back compares a trainee turn with this many of the caller's latest turns (plus the given
# facts): what was just said; comparing with every earlier turn is quadratic in a long call
RECENT_CALLER_TURNS = 8


def _language():
    """The shared phrase detector (imported lazily: loading a rubric stays cheap)."""
    from voicetrainer.analysis import language

    return language


def _move_kinds() -> tuple[str, ...]:
    return tuple(_language().MOVE_KINDS)


# ----------------------------------------------------------------------------------------------
# The rubric as frozen dataclasses (what the rest of the code sees)


@dataclass(frozen=True)
class Rule:
    """Points for one move or signal.

    Attributes:
        points: added to the skill's score per counted occurrence (negative = a penalty).
        max_count: occurrences counted at most (later ones are cited for 0 points); None = all.
    """

    points: float
    max_count: int | None = None


@dataclass(frozen=True)
class SkillSpec:
    """How one skill is scored.

    Attributes:
        name: the skill's key in the report (one of SKILLS, or an extra skill).
        label, description: shown in report.html.
        base: the score before any move or signal.
        base_from: "calm_score" = start from the call's vocal calm score instead of `base`.
        needs_caller: not scored on a trainee-only recording (nothing to measure it against).
        moves: {move kind: Rule}.
        signals: {signal name: Rule}.
    """

    name: str
    label: str
    description: str
    base: float
    base_from: str | None = None
    needs_caller: bool = False
    moves: Mapping[str, Rule] = field(default_factory=dict)
    signals: Mapping[str, Rule] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """Delivery thresholds (units in the names).

    Attributes:
        wpm_min, wpm_max: the pacing band in words per minute.
        pace_min_words: trainee turns with fewer words are not judged for pace.
        long_silence_s: dead air at least this long (seconds) is a long silence.
        quick_reply_s: a reply starting sooner than this after the caller stopped is rushed.
        filler_rate_max: fillers per 100 words above which clarity loses points.
        calm_turn_min: per-turn vocal calm (0-100) below this is a tense turn.
        calm_turn_steady: per-turn vocal calm at least this is a steady turn.
    """

    wpm_min: float = RULES.wpm_min  # defaults: voicetrainer/rules.py, shared with live and plots
    wpm_max: float = RULES.wpm_max
    pace_min_words: int = 6
    long_silence_s: float = RULES.long_silence_s
    quick_reply_s: float = 0.2
    filler_rate_max: float = 4.0
    calm_turn_min: float = 55.0
    calm_turn_steady: float = 85.0


@dataclass(frozen=True)
class Rubric:
    """A validated rubric. Build with `load_rubric`.

    Attributes:
        name: the rubric's name (for history records).
        path: the file it came from.
        thresholds: delivery thresholds.
        weights: {skill: weight} for the overall score.
        labels: {move kind: how evidence names it}.
        skills: {skill: SkillSpec}, in report order.
        phrases: the rubric's ``phrases:`` section (overrides for the phrase detector), or None.
    """

    name: str
    path: str
    thresholds: Thresholds
    weights: Mapping[str, float]
    labels: Mapping[str, str]
    skills: Mapping[str, SkillSpec]
    phrases: Mapping[str, Any] | None = None


# ----------------------------------------------------------------------------------------------
# Validation models (pydantic: errors carry the field path)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RuleIn(_Strict):
    points: float = Field(ge=-100, le=100)
    max_count: int | None = Field(default=None, ge=1)


def _coerce_rules(v: Any) -> Any:
    if v is None:
        return {}
    if isinstance(v, Mapping):
        return {k: ({"points": r} if isinstance(r, (int, float)) and not isinstance(r, bool) else r) for k, r in v.items()}
    return v


class _SkillIn(_Strict):
    label: str | None = None
    description: str | None = None
    base: float = Field(default=50.0, ge=0, le=100)
    base_from: Literal["calm_score"] | None = None
    needs_caller: bool = False
    moves: dict[str, _RuleIn] = Field(default_factory=dict)
    signals: dict[str, _RuleIn] = Field(default_factory=dict)

    _rules = field_validator("moves", "signals", mode="before")(_coerce_rules)

    @field_validator("moves")
    @classmethod
    def _known_moves(cls, v: dict[str, _RuleIn]) -> dict[str, _RuleIn]:
        kinds = _move_kinds()
        bad = [k for k in v if k not in kinds]
        if bad:
            raise ValueError(f"unknown move {bad[0]!r}; known moves: {', '.join(kinds)}")
        return v

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, v: dict[str, _RuleIn]) -> dict[str, _RuleIn]:
        bad = [k for k in v if k not in SIGNALS]
        if bad:
            raise ValueError(f"unknown signal {bad[0]!r}; known signals: {', '.join(SIGNALS)}")
        return v


class _ThresholdsIn(_Strict):
    wpm_min: float = Field(default=RULES.wpm_min, gt=0)
    wpm_max: float = Field(default=RULES.wpm_max, gt=0)
    pace_min_words: int = Field(default=6, ge=1)
    long_silence_s: float = Field(default=RULES.long_silence_s, gt=0)
    quick_reply_s: float = Field(default=0.2, ge=0)
    filler_rate_max: float = Field(default=4.0, ge=0)
    calm_turn_min: float = Field(default=55.0, ge=0, le=100)
    calm_turn_steady: float = Field(default=85.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "_ThresholdsIn":
        if self.wpm_min >= self.wpm_max:
            raise ValueError(f"wpm_min ({self.wpm_min:g}) must be below wpm_max ({self.wpm_max:g})")
        return self


class _RubricIn(_Strict):
    version: Literal[1] = 1
    name: str = "custom"
    extends: Literal["default", "none"] | None = None
    thresholds: _ThresholdsIn = Field(default_factory=_ThresholdsIn)
    weights: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    skills: dict[str, _SkillIn]
    phrases: dict[str, Any] | None = None

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if not (w >= 0 and math.isfinite(w)):
                raise ValueError(f"weight of {k!r} must be a number >= 0, got {w!r}")
        return v

    @model_validator(mode="after")
    def _complete(self) -> "_RubricIn":
        missing = [s for s in SKILLS if s not in self.skills]
        if missing:
            raise ValueError(f"skills missing: {', '.join(missing)} (every rubric scores all of: {', '.join(SKILLS)})")
        stray = [k for k in self.weights if k not in self.skills]
        if stray:
            raise ValueError(f"weights given for unknown skill {stray[0]!r}")
        return self


def _merge(base: Any, over: Any) -> Any:
    """``over`` deep-merged onto ``base``: mappings merge key by key, a null value deletes."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(base.get(k), v)
        return out
    return copy.deepcopy(over)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError("rubric file not found", path=path) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the rubric file ({e})", path=path) from e
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where} ({getattr(e, 'problem', None) or e})", path=path) from e
    if not isinstance(doc, dict):
        raise ConfigError("a rubric file must be a YAML mapping with a 'skills:' section", path=path)
    return doc


def _field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Load and validate a rubric.

    Args:
        path: a rubric YAML file; None = the shipped default. A file is merged over the
            default unless it says ``extends: none``.
    Raises:
        ConfigError: naming the file and the field (e.g. ``skills.empathy.moves.apology.points``).
    """
    default_doc = _read_yaml(DEFAULT_RUBRIC_PATH)
    if path is None:
        doc, src = default_doc, DEFAULT_RUBRIC_PATH
    else:
        src = Path(path)
        user = _read_yaml(src)
        doc = user if user.get("extends") == "none" else _merge(default_doc, user)
        if "name" not in user:
            doc["name"] = src.stem
    try:
        model = _RubricIn.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""
        raise ConfigError(msg + more, path=src, field=_field_path(err["loc"])) from e
    if model.phrases is not None:
        _check_phrases(model.phrases, src)
    labels = {k: k.replace("_", " ") for k in _move_kinds()} | model.labels
    skills = {}
    for name in list(SKILLS) + [k for k in model.skills if k not in SKILLS]:
        s = model.skills[name]
        skills[name] = SkillSpec(
            name=name,
            label=s.label or name.title(),
            description=s.description or "",
            base=s.base,
            base_from=s.base_from,
            needs_caller=s.needs_caller,
            moves={k: Rule(r.points, r.max_count) for k, r in s.moves.items()},
            signals={k: Rule(r.points, r.max_count) for k, r in s.signals.items()},
        )
    weights = {name: float(model.weights.get(name, 1.0)) for name in skills}
    return Rubric(
        name=model.name,
        path=str(src),
        thresholds=Thresholds(**model.thresholds.model_dump()),
        weights=weights,
        labels=labels,
        skills=skills,
        phrases=model.phrases,
    )


# ----------------------------------------------------------------------------------------------
# Phrase lists: the detector's own, with the rubric's `phrases:` section merged over them


def _check_phrases(phrases: Mapping[str, Any], src: Path) -> None:
    """Fail at load time, naming the rubric file and the phrase kind, if the section is bad."""
    lang = _language()
    try:
        lang.load_phrases().merged(phrases, source=src)
    except ConfigError as e:
        raise ConfigError(e.reason, path=src, field="phrases" + (f".{e.field}" if e.field else "")) from e


_PHRASE_CACHE: dict[str, Any] = {}


def _phrase_lists(phrases: Mapping[str, Any] | None):
    """The detector's PhraseLists: its shipped lists, each kind in ``phrases`` replacing its list."""
    import json

    lang = _language()
    if not phrases:
        return lang.load_phrases()
    key = json.dumps(phrases, sort_keys=True, default=str)
    if key not in _PHRASE_CACHE:
        _PHRASE_CACHE[key] = lang.load_phrases().merged(phrases)
    return _PHRASE_CACHE[key]


# ----------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class _Hit:
    """One occurrence of a move or signal, before points are applied."""

    kind: str  # move kind or signal name
    t_s: float
    quote: str
    detail: str = ""  # for signals: what was measured; for moves: the detector's `why`
    span: tuple[int, int, int] | None = None  # moves: (turn index, start_char, end_char)
    value: float | None = None  # signals: the measured value (e.g. a turn's calm score)


def _fmt_points(p: float) -> str:
    return f"+{p:g}" if p >= 0 else f"\u2212{-p:g}"  # a real minus sign, as in "(−15)"


def _turn_text(turn: Turn) -> str:
    return turn.text or " ".join(w.word.strip() for w in turn.words)


def _quote_words(turn: Turn, from_s: float | None = None, n: int = QUOTE_WORDS) -> str:
    words = [w for w in turn.words if from_s is None or w.end_s >= from_s - 0.05]
    toks = [w.word.strip() for w in words] if words else _turn_text(turn).split()
    q = " ".join(toks[:n])
    return q + ("…" if len(toks) > n else "")


def _char_time(turn: Turn, text: str, char: int) -> float:
    """Start time of the word containing character ``char`` of ``text`` (the turn's text)."""
    if not turn.words:
        return turn.start_s
    # walk the text, matching words in order
    pos = 0
    for w in turn.words:
        tok = w.word.strip()
        at = text.find(tok, pos) if tok else -1
        if at < 0:
            continue
        if char < at + len(tok):
            return w.start_s
        pos = at + len(tok)
    return turn.words[-1].start_s


def find_moves(report: Report, *, facts: Sequence[str] = (), phrases: Mapping[str, Any] | None = None) -> list[_Hit]:
    """Moves in the trainee's turns, with the caller's earlier words as facts to repeat back."""
    detect_moves = _language().detect_moves
    lists = _phrase_lists(phrases)
    caller_texts = {_turn_text(t) for t in report.turns if t.speaker == "caller"}
    given = [f for f in facts if f and f not in caller_texts]  # persona facts; caller words come in order
    heard: list[str] = []
    hits: list[_Hit] = []
    seen: set[tuple[str, tuple[int, int, int]]] = set()
    for i, turn in enumerate(report.turns):
        text = _turn_text(turn)
        if turn.speaker == "caller":
            if len(text.split()) >= MIN_FACT_WORDS:  # "Hello." is not a fact to repeat back
                heard.append(text)
            continue
        if not text.strip():
            continue
        words = turn.words or None  # the detector aligns them to the text for each move's time
        recent = list(dict.fromkeys(heard[-RECENT_CALLER_TURNS:]))
        for mv in detect_moves(text, words=words, facts=tuple(given + recent), phrases=lists):
            span = (i, mv.start_char, mv.end_char)
            if (mv.kind, span) in seen:  # the same words repeat two facts: one move
                continue
            seen.add((mv.kind, span))
            t = mv.t_s if mv.t_s is not None else _char_time(turn, text, mv.start_char)
            hits.append(_Hit(mv.kind, round(float(t), 3), mv.quote, mv.why, span))
    return hits



def find_signals(report: Report, th: Thresholds) -> dict[str, list[_Hit]]:
    """Delivery signals of the trainee, each occurrence with a time and a quote."""
    out: dict[str, list[_Hit]] = {s: [] for s in SIGNALS}
    turns = sorted(report.turns, key=lambda t: t.start_s)
    trainee = [t for t in turns if t.speaker == "trainee"]

    def turn_at(t_s: float) -> Turn | None:
        best = None
        for t in trainee:
            if t.start_s - 0.5 <= t_s <= t.end_s + 0.5:
                return t
            if t.start_s >= t_s and best is None:
                best = t
        return best

    for it in report.interruptions:
        if it.by == "trainee" and it.kind == "interruption":
            t = turn_at(it.start_s)
            quote = _quote_words(t, it.start_s, 6) if t else ""
            out["interruption"].append(_Hit("interruption", round(it.start_s, 3), quote,
                                            f"interrupted the caller for {it.overlap_s:.1f} s"))  # fmt: skip
    for prev, cur in zip(turns, turns[1:]):
        if prev.speaker == "caller" and cur.speaker == "trainee":
            gap = cur.start_s - prev.end_s
            if 0 <= gap < th.quick_reply_s:
                out["quick_reply"].append(_Hit("quick_reply", round(cur.start_s, 3), _quote_words(cur),
                                               f"replied {gap:.2f} s after the caller stopped"))  # fmt: skip
    # dead air the trainee was expected to fill: silences ending with the trainee speaking
    end = None
    for k, t in enumerate(turns):
        if end is not None and t.speaker == "trainee" and t.start_s - end >= th.long_silence_s:
            out["long_silence"].append(_Hit("long_silence", round(end, 3), "",
                                            f"{t.start_s - end:.0f} s of dead air before the trainee spoke"))  # fmt: skip
        end = t.end_s if end is None else max(end, t.end_s)
    for t in trainee:
        wpm = finite(t.wpm)
        if wpm is not None and len(t.words) >= th.pace_min_words and not th.wpm_min <= wpm <= th.wpm_max:
            how = "too fast" if wpm > th.wpm_max else "too slow"
            out["off_pace_turn"].append(_Hit("off_pace_turn", round(t.start_s, 3), _quote_words(t),
                                             f"{wpm:.0f} words/min, {how} (band {th.wpm_min:g}–{th.wpm_max:g})"))  # fmt: skip
        calm = finite((t.calm or {}).get("score")) if isinstance(t.calm, Mapping) else None
        if calm is not None and calm < th.calm_turn_min:
            out["tense_turn"].append(_Hit("tense_turn", round(t.start_s, 3), _quote_words(t),
                                          f"tense voice: calm {calm:.0f}/100{_calm_detail(t.calm)}"))  # fmt: skip
        elif calm is not None and calm >= th.calm_turn_steady:
            out["steady_turn"].append(_Hit("steady_turn", round(t.start_s, 3), _quote_words(t),
                                           f"steady voice: calm {calm:.0f}/100", value=calm))  # fmt: skip
    rate = finite((report.metrics or {}).get("filler_rate"))
    if rate is not None and rate > th.filler_rate_max:
        fillers = [f for f in (report.metrics or {}).get("fillers") or [] if isinstance(f, Mapping)]
        t0 = finite(fillers[0].get("t_s")) if fillers else None
        if t0 is None:
            t0 = trainee[0].start_s if trainee else 0.0
        quote = ", ".join(dict.fromkeys(str(f.get("word", "")).strip() for f in fillers if f.get("word"))) or "fillers"
        out["filler_rate"].append(_Hit("filler_rate", round(t0, 3), quote,
                                       f"{rate:.1f} fillers per 100 words (max {th.filler_rate_max:g})"))  # fmt: skip
    # the steadiest turns first, so max_count keeps the best examples
    out["steady_turn"].sort(key=lambda h: -(h.value or 0.0))
    return out


def _calm_detail(calm: Mapping[str, Any]) -> str:
    comps = calm.get("components") if isinstance(calm, Mapping) else None
    if not isinstance(comps, Mapping):
        return ""
    worst = max(
        ((k, c) for k, c in comps.items() if isinstance(c, Mapping) and finite(c.get("penalty"))),
        key=lambda kc: kc[1]["penalty"],
        default=None,
    )
    if worst is None or finite(worst[1].get("delta")) is None:
        return ""
    k, c = worst
    return f" ({k.replace('_', ' ')} {c['delta']:+g} {c.get('unit', '')})".rstrip(" )") + ")"


def _signal_basis(report: Report) -> dict[str, bool]:
    """Which signals this report can measure at all (a mono recording has no caller)."""
    has_caller = any(t.speaker == "caller" for t in report.turns)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    return {
        "interruption": has_caller and (report.metrics or {}).get("interruptions_by_trainee", 0) is not None,
        "quick_reply": has_caller,
        "long_silence": has_caller,
        "off_pace_turn": any(finite(t.wpm) is not None for t in trainee),
        "filler_rate": finite((report.metrics or {}).get("filler_rate")) is not None,
        "tense_turn": any(isinstance(t.calm, Mapping) and finite(t.calm.get("score")) is not None for t in trainee),
        "steady_turn": any(isinstance(t.calm, Mapping) and finite(t.calm.get("score")) is not None for t in trainee),
    }


def _score_one(
    spec: SkillSpec, rubric: Rubric, moves: list[_Hit], signals: dict[str, list[_Hit]],
    *, has_text: bool, has_caller: bool, basis: dict[str, bool], calm_score: float | None,
) -> Skill:  # fmt: skip
    if spec.needs_caller and not has_caller:
        return Skill(score=None, summary="Not scored: a trainee-only recording has no caller to measure this against.")
    if spec.base_from == "calm_score":
        if calm_score is None:
            return Skill(score=None, summary="Not scored: no vocal calm figure for this call (too little voiced speech).")
        base = calm_score
    else:
        base = spec.base
    scored = spec.base_from is not None or (has_text and bool(spec.moves)) or any(basis.get(s) for s in spec.signals)
    if not scored:
        return Skill(score=None, summary="Not scored: the call has no trainee words or measurements for this skill.")
    items: list[tuple[float, Evidence, str, float]] = []  # (t_s, evidence, label, points counted)
    # the same words found as two kinds ("Thank you for calling": greeting and gratitude) count
    # once per skill, as the kind worth the most points
    claim: dict[tuple[int, int, int], str] = {}
    for m in moves:
        if m.kind in spec.moves and m.span is not None:
            prev = claim.get(m.span)
            if prev is None or abs(spec.moves[m.kind].points) > abs(spec.moves[prev].points):
                claim[m.span] = m.kind
    mine = [m for m in moves if m.kind in spec.moves and (m.span is None or claim.get(m.span) == m.kind)]
    for kind, rule in spec.moves.items():
        for k, h in enumerate(sorted((m for m in mine if m.kind == kind), key=lambda m: m.t_s)):
            label = rubric.labels.get(kind, kind)
            detail = h.detail.split(": ", 1)[1] if ": " in h.detail else ""  # "jargon: 'cache'"
            items.append(_evidence(h, f"{label}: {detail}" if detail else label, label, rule, k))
    for name, rule in spec.signals.items():
        for k, h in enumerate(signals.get(name, [])):
            items.append(_evidence(h, h.detail, SIGNAL_LABELS[name], rule, k))
    score = base + sum(p for *_, p in items)
    score = round(max(0.0, min(100.0, score)), 1)
    items.sort(key=lambda x: x[0])
    return Skill(score=score, evidence=[e for _, e, _, _ in items], summary=_summary(spec, base, items))


def _evidence(h: _Hit, label: str, short: str, rule: Rule, k: int) -> tuple[float, Evidence, str, float]:
    """(time, evidence line, short label for the summary, points counted) of the k-th hit."""
    counted = rule.max_count is None or k < rule.max_count
    if rule.points == 0:
        why = label
    elif counted:
        why = f"{label} ({_fmt_points(rule.points)})"
    else:
        why = f"{label} ({_fmt_points(rule.points)}, not counted: limit {rule.max_count})"
    return (h.t_s, Evidence(t_s=h.t_s, quote=h.quote, why=why), short, rule.points if counted else 0.0)


def _summary(spec: SkillSpec, base: float, items: list[tuple[float, Evidence, str, float]]) -> str:
    from collections import Counter

    plus = Counter(lbl for _, _, lbl, p in items if p > 0)
    minus = Counter(lbl for _, _, lbl, p in items if p < 0)

    def part(c: Counter) -> str:
        return ", ".join(f"{lbl} ×{n}" if n > 1 else lbl for lbl, n in c.most_common())

    start = f"vocal calm {base:.0f}" if spec.base_from == "calm_score" else f"base {base:g}"
    bits = [f"Started from {start}."]
    if plus:
        bits.append(f"Credit: {part(plus)}.")
    if minus:
        bits.append(f"Cost: {part(minus)}.")
    if not plus and not minus:
        bits.append("Nothing in the call moved this score.")
    return " ".join(bits)


def score_skills(report: Report, rubric: Rubric, *, facts: Sequence[str] = ()) -> tuple[dict[str, Skill], float | None]:
    """Score every skill of the rubric on a graded report.

    Args:
        report: turns with words and times, interruptions, metrics (incl. ``calm.score``),
            per-turn ``wpm`` and ``calm``. Not modified.
        rubric: from `load_rubric`.
        facts: things the caller told (persona facts, caller lines); a trainee repeating them
            back earns listening credit. Caller turns in the report are used as well.
    Returns:
        ({skill: Skill(score 0-100 or None, evidence sorted by time, summary)}, overall), where
        overall is the weighted mean of the scored skills (None if none is scored).
    """
    th = rubric.thresholds
    has_text = any(t.speaker == "trainee" and _turn_text(t).strip() for t in report.turns)
    moves = find_moves(report, facts=facts, phrases=rubric.phrases) if has_text else []
    signals = find_signals(report, th)
    basis = _signal_basis(report)
    calm = (report.metrics or {}).get("calm")
    calm_score = finite(calm.get("score")) if isinstance(calm, Mapping) else None
    has_caller = any(t.speaker == "caller" for t in report.turns)
    skills = {
        name: _score_one(spec, rubric, moves, signals, has_text=has_text, has_caller=has_caller, basis=basis,
                         calm_score=calm_score)  # fmt: skip
        for name, spec in rubric.skills.items()
    }
    num = sum(rubric.weights.get(n, 1.0) * s.score for n, s in skills.items() if s.score is not None)
    den = sum(rubric.weights.get(n, 1.0) for n, s in skills.items() if s.score is not None)
    overall = round(num / den, 1) if den > 0 else None
    log.debug("skills scored with rubric %s: overall %s", rubric.name, overall)
    return skills, overall
