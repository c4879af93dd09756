"""`Metrics`: the report's ``metrics`` object as a typed value (schema ``voicetrainer.report/1``).

The grader builds a `Metrics` and the report stores ``Metrics.to_dict()`` (the JSON contract
keeps its keys); readers that want types use ``Metrics.from_dict(report.metrics)``. Keys other
code adds later (``recovery`` from practice sessions, anything new) are kept in `extra`.
Units are in the names; None = not measured (e.g. no caller channel).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Metrics:
    """
    Attributes:
        trainee_wpm: trainee words / trainee speaking time (first to last word of each turn).
        articulation_wpm: words per minute of speech, pauses inside turns excluded.
        trainee_words, trainee_speaking_s: what `trainee_wpm` is made of.
        talk_ratio: trainee talk time / both parties' talk time (two-party calls).
        mean_response_gap_s: mean gap from the caller's end to the trainee's start.
        response_gaps: ``[{t_s, gap_s}]`` per trainee turn that began after the caller stopped.
        longest_silence_s: the longest stretch nobody spoke.
        long_silences: ``[{start_s, duration_s}]`` dead air at least the rubric's long_silence_s.
        interruptions_by_trainee, interruptions_by_caller, backchannels_by_trainee: counts.
        filler_rate: fillers per 100 trainee words; fillers: ``[{t_s, word}]``.
        pauses_in_turns, mean_pause_s: pauses inside trainee turns.
        calm: the vocal calm of the call against the baseline (``score`` 0-100 and parts).
        recovery: recovery after caller escalations (`voicetrainer.analysis.recovery`).
        audio_quality: per channel, measured on the audio (`voicetrainer.stream.quality`):
            ``{channel: {high_band_db, telephone_band, snr_db, noise_dbfs, clipped_fraction,
            crosstalk_db}}``.
        extra: any other key, kept as it came.
    """

    trainee_wpm: float | None = None
    articulation_wpm: float | None = None
    trainee_words: int = 0
    trainee_speaking_s: float | None = None
    talk_ratio: float | None = None
    mean_response_gap_s: float | None = None
    response_gaps: list[dict[str, float]] = field(default_factory=list)
    longest_silence_s: float | None = None
    long_silences: list[dict[str, float]] = field(default_factory=list)
    interruptions_by_trainee: int | None = None
    interruptions_by_caller: int | None = None
    backchannels_by_trainee: int | None = None
    filler_rate: float | None = None
    fillers: list[dict[str, Any]] = field(default_factory=list)
    pauses_in_turns: int = 0
    mean_pause_s: float | None = None
    calm: dict[str, Any] = field(default_factory=dict)
    recovery: dict[str, Any] | None = None
    audio_quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report's ``metrics`` object (`extra` keys at the top level; no recovery key
        until there is a recovery analysis)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("extra", "recovery")}
        if self.recovery is not None:
            d["recovery"] = self.recovery
        return {**d, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Metrics":
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        d = dict(d or {})
        return cls(**{k: d.pop(k) for k in list(d) if k in names}, extra=d)
