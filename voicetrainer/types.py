"""Shared value types: the lowest layer, imported by every other (audio, stream, asr, analysis,
report, persona, session). Plain dataclasses with units in their names; no behaviour beyond
conversions, and no imports from the rest of the package."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Word:
    """One recognised word on the session clock (seconds from the start of the call)."""

    word: str
    start_s: float
    end_s: float
    probability: float | None = None


@dataclass
class VoiceStats:
    """Voice figures of a stretch of speech (a segment, a turn, a call or a baseline clip).

    Pitch in Hertz and semitones (re 100 Hz), loudness in dBFS over speech frames, spectral
    tilt in dB (high over low band), and speech seconds.
    """

    pitch_median_hz: float = math.nan
    pitch_sd_semitones: float = math.nan
    pitch_range_semitones: float = math.nan  # 90th - 10th percentile
    loudness_dbfs: float = math.nan
    loudness_sd_db: float = math.nan
    tilt_db: float = math.nan
    voiced_frames: int = 0
    speech_s: float = 0.0
    syllable_rate: float = math.nan  # loudness peaks (syllable nuclei) per second of speech

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else (round(v, 2) if isinstance(v, float) else v))
                for k, v in self.__dict__.items()}
