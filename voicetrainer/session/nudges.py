"""The live view's one tip at a time: "let them finish", "lower your voice, breathe",
"a little softer", "slow down" — each against the shared `Rules` and the trainee's own baseline."""

from __future__ import annotations

import math

from voicetrainer.rules import RULES, Rules
from voicetrainer.stream.features import hz_to_semitones
from voicetrainer.types import VoiceStats

HOLD_S = 4.0  # a tip stays this long before another may replace it


class Nudges:
    """At most one tip at a time, held `HOLD_S` seconds (session clock)."""

    def __init__(self, rules: Rules = RULES, baseline: VoiceStats | None = None):
        self.rules = rules
        self.baseline = baseline if baseline is not None and baseline.voiced_frames else None
        self.text: str | None = None
        self._until_s = 0.0

    def set(self, text: str, now_s: float, hold_s: float = HOLD_S) -> None:
        if self.text is None or now_s >= self._until_s:
            self.text, self._until_s = text, now_s + hold_s

    def current(self, now_s: float) -> str | None:
        if self.text and now_s >= self._until_s:
            self.text = None
        return self.text

    def voice(self, now_s: float, *, pitch_hz: float | None, level_dbfs: float) -> None:
        """The trainee is speaking at `pitch_hz` / `level_dbfs`: too high or too loud for them?"""
        b = self.baseline
        if b is None:
            return
        if pitch_hz and float(hz_to_semitones(pitch_hz) - hz_to_semitones(b.pitch_median_hz)) > self.rules.pitch_rise_semitones:
            self.set("lower your voice, breathe", now_s)
        elif not math.isnan(b.loudness_dbfs) and level_dbfs > b.loudness_dbfs + self.rules.loudness_rise_db:
            self.set("a little softer", now_s)

    def pace(self, now_s: float, wpm: float | None) -> None:
        if wpm is not None and wpm > self.rules.rushing_wpm:
            self.set("slow down", now_s)
