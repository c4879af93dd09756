"""Report schema ``voicetrainer.report/1`` as dataclasses.

Keys documented in ../shared/ARCHITECTURE.md are a contract: do not rename or remove them.
More keys may be added freely. Times are seconds from the start of the call (``*_s``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from voicetrainer.report.metrics import Metrics  # noqa: F401  (the typed ``metrics`` object)
from voicetrainer.types import Word  # noqa: F401  (re-exported: the report's word type)

SCHEMA = "voicetrainer.report/1"
SKILLS = ("empathy", "listening", "patience", "calm", "clarity", "expectations", "courtesy")

Speaker = Literal["caller", "trainee"]

# Report.outcome values (how the call ended) and how pages name them; None = no caller engine
OUTCOME_LABELS = {
    "resolved": "resolved",
    "hung_up": "the caller hung up",
    "turn_limit": "the caller gave up (turn limit)",
    "ended_by_trainee": "ended by the trainee",
}


def finite(v: Any) -> float | None:
    """A finite float, or None for None / NaN / inf / booleans / non-numbers: how report values
    (which may be missing or NaN in older or partial reports) are read for scoring and plots."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class Turn:
    """One speaker's turn: consecutive speech with nobody else taking the floor in between."""

    speaker: Speaker
    start_s: float
    end_s: float
    text: str = ""
    words: list[Word] = field(default_factory=list)
    text_source: Literal["asr", "known", "none"] = "asr"
    asr_error: str | None = None  # set when recognition failed for this turn only
    pauses_s: list[float] = field(default_factory=list)  # pauses between words inside the turn
    wpm: float | None = None
    calm: dict[str, Any] | None = None  # per-turn voice figures (trainee turns)


@dataclass
class Interruption:
    by: Speaker
    start_s: float
    overlap_s: float
    kind: Literal["interruption", "backchannel"]
    stopped_first: Speaker | None = None  # who stopped talking first during the overlap
    words: int | None = None


@dataclass
class Evidence:
    t_s: float
    quote: str
    why: str


@dataclass
class Skill:
    score: float | None  # 0-100; None when the call gives no basis to score it
    evidence: list[Evidence] = field(default_factory=list)
    summary: str = ""
    say_instead: str | None = None  # the rubric's example of what would have earned the lost points


@dataclass
class Report:
    duration_s: float
    turns: list[Turn] = field(default_factory=list)
    interruptions: list[Interruption] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    skills: dict[str, Skill] = field(default_factory=dict)
    overall: float | None = None
    latency: dict[str, float | None] | None = None
    source: dict[str, Any] = field(default_factory=dict)  # input file(s), channels, sample rate, mode
    warnings: list[str] = field(default_factory=list)  # audio quality and missing-metric notes
    tracks: dict[str, Any] = field(default_factory=dict)  # downsampled pitch/loudness for plots
    events: list[dict[str, Any]] = field(default_factory=list)  # mood changes, caller decisions
    # how the call ended: resolved | hung_up | turn_limit | ended_by_trainee; None = no caller engine
    outcome: str | None = None
    outcome_reason: str | None = None  # why, in words ("the caller hung up: mood 10/10 after ...")
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"schema": d.pop("schema"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        d = dict(d)
        d.pop("schema", None)
        turns = [
            Turn(**{**t, "words": [Word(**w) for w in t.get("words", [])]}) for t in d.pop("turns", [])
        ]
        inter = [Interruption(**i) for i in d.pop("interruptions", [])]
        skills = {
            k: Skill(
                score=v.get("score"),
                evidence=[Evidence(**e) for e in v.get("evidence", [])],
                summary=v.get("summary", ""),
                say_instead=v.get("say_instead"),
            )
            for k, v in d.pop("skills", {}).items()
        }
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(turns=turns, interruptions=inter, skills=skills, **{k: v for k, v in d.items() if k in known})
