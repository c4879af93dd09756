"""The thresholds that more than one part of the program applies, defined once.

The grader and the report read them through the rubric (`voicetrainer/data/rubric.yaml`
``thresholds``, whose defaults come from here, and which ``--rubric FILE`` may change); the live
nudges, the caller's mind and the plots take the same `Rules` (``Rules.from_thresholds`` turns
a rubric's thresholds into one), so a call is judged by one rule everywhere. The lowest layer:
no imports from the rest of the package.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rules:
    """
    Attributes:
        long_silence_s: dead air at least this long (seconds) is a long silence: listed by the
            grader, cited by the rubric, shaded in the timeline plot.
        wpm_min, wpm_max: the pacing band in words per minute (rubric, pacing plot, live view).
        rushing_wpm: faster than this (words per minute) is rushing: the live "slow down" nudge
            and the caller's mind (which adds `rushing_per_patience_wpm` per point of the
            persona's patience 0-10: a patient caller tolerates more).
        rushing_per_patience_wpm: see `rushing_wpm`.
        baseline_min_voiced_frames: voiced 20 ms frames a clip needs to serve as a voice
            baseline (40 = 0.8 s): the grader, practice and the calm drill.
        pitch_rise_semitones: live nudge "lower your voice" above the baseline median by this.
        loudness_rise_db: live nudge "a little softer" above the baseline loudness by this.
    """

    long_silence_s: float = 3.0
    wpm_min: float = 120.0
    wpm_max: float = 160.0
    rushing_wpm: float = 175.0
    rushing_per_patience_wpm: float = 3.0
    baseline_min_voiced_frames: int = 40  # 0.8 s of voiced 20 ms frames
    pitch_rise_semitones: float = 3.0
    loudness_rise_db: float = 6.0

    @property
    def wpm_band(self) -> tuple[float, float]:
        return (self.wpm_min, self.wpm_max)

    def rushing_wpm_for(self, patience: float) -> float:
        """The rushing threshold of a caller with `patience` 0-10 (175 .. 205 wpm by default)."""
        return self.rushing_wpm + self.rushing_per_patience_wpm * patience

    @classmethod
    def from_thresholds(cls, thresholds: Any) -> "Rules":
        """The rules with every same-named field of a rubric's thresholds (a dataclass or a
        pydantic model) taken from it."""
        base = cls()
        names = {f.name for f in dataclasses.fields(cls)}
        found = {n: getattr(thresholds, n) for n in names if getattr(thresholds, n, None) is not None}
        return dataclasses.replace(base, **found)


RULES = Rules()  # the defaults, for code that has no rubric at hand
