"""The rubric file: validated into frozen dataclasses (`load_rubric`).

The rubric file (YAML; the shipped default is ``voicetrainer/data/rubric.yaml``, which documents
every field) says, per skill, a base score and the points of each *move* (a phrase kind found by
`voicetrainer.analysis.language.detect_moves`, the detector that also drives the caller's mood)
and of each delivery *signal*, and one "say this instead" example per skill and per penalty.
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
from voicetrainer.report.schema import SKILLS
from voicetrainer.rules import RULES

log = get_logger(__name__)

DEFAULT_RUBRIC_PATH = Path(__file__).resolve().parents[2] / "data" / "rubric.yaml"

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
        instead: "say this instead" examples: {move kind or signal name: example}, and under
            "default" the example shown when the skill lost points without a penalty.
    """

    name: str
    label: str
    description: str
    base: float
    base_from: str | None = None
    needs_caller: bool = False
    moves: Mapping[str, Rule] = field(default_factory=dict)
    signals: Mapping[str, Rule] = field(default_factory=dict)
    instead: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Engagement:
    """No credit for saying nothing relevant.

    Attributes:
        moves: the move kinds that show the trainee dealt with the caller's problem.
        min_count: fewer such moves than this in a call with trainee words caps ``skills``.
        cap: the highest score those skills can get then (0-100).
        skills: skills whose base rewards only the absence of faults (patience, clarity).
    """

    moves: tuple[str, ...] = ()
    min_count: int = 0
    cap: float = 100.0
    skills: tuple[str, ...] = ()


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
        engagement: the cap on fault-free skills when the trainee said nothing relevant.
    """

    name: str
    path: str
    thresholds: Thresholds
    weights: Mapping[str, float]
    labels: Mapping[str, str]
    skills: Mapping[str, SkillSpec]
    phrases: Mapping[str, Any] | None = None
    engagement: Engagement = field(default_factory=Engagement)


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
    instead: dict[str, str] = Field(default_factory=dict)

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

    @field_validator("instead")
    @classmethod
    def _known_examples(cls, v: dict[str, str]) -> dict[str, str]:
        known = ("default", *_move_kinds(), *SIGNALS)
        bad = [k for k in v if k not in known]
        if bad:
            raise ValueError(f"no move or signal {bad[0]!r}; 'instead' keys are: {', '.join(known)}")
        return v


class _EngagementIn(_Strict):
    moves: list[str] = Field(default_factory=list)
    min_count: int = Field(default=0, ge=0)
    cap: float = Field(default=100.0, ge=0, le=100)
    skills: list[str] = Field(default_factory=list)

    @field_validator("moves")
    @classmethod
    def _known_moves(cls, v: list[str]) -> list[str]:
        kinds = _move_kinds()
        bad = [k for k in v if k not in kinds]
        if bad:
            raise ValueError(f"unknown move {bad[0]!r}; known moves: {', '.join(kinds)}")
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
    engagement: _EngagementIn = Field(default_factory=_EngagementIn)

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
        stray = [k for k in self.engagement.skills if k not in self.skills]
        if stray:
            raise ValueError(f"engagement.skills names unknown skill {stray[0]!r}")
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
            instead=dict(s.instead),
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
        engagement=Engagement(tuple(model.engagement.moves), model.engagement.min_count,
                              model.engagement.cap, tuple(model.engagement.skills)),
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


def phrase_lists(phrases: Mapping[str, Any] | None):
    """The detector's PhraseLists: its shipped lists, each kind in ``phrases`` replacing its list."""
    import json

    lang = _language()
    if not phrases:
        return lang.load_phrases()
    key = json.dumps(phrases, sort_keys=True, default=str)
    if key not in _PHRASE_CACHE:
        _PHRASE_CACHE[key] = lang.load_phrases().merged(phrases)
    return _PHRASE_CACHE[key]

