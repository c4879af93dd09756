"""What the caller's mind is told about a trainee turn (or a silence): a `TraineeObservation`
with the decided text, the pace, and the voice of the whole turn against the trainee's baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from voicetrainer.analysis.prosody import rising_end
from voicetrainer.config import TRACK_BUCKET_S
from voicetrainer.persona.dialog import TraineeObservation
from voicetrainer.session.pipeline import SegmentRecord, VoiceAccumulator
from voicetrainer.stream.features import hz_to_semitones
from voicetrainer.types import VoiceStats, Word


def words_per_minute(words: Sequence[Word], *, min_words: int = 2) -> float | None:
    """Words / (last word end - first word start), per minute; None for too few words."""
    if len(words) < min_words or words[-1].end_s <= words[0].start_s:
        return None
    return len(words) / (words[-1].end_s - words[0].start_s) * 60


def turn_voice(segments: Sequence[SegmentRecord], start_s: float) -> VoiceStats | None:
    """The voice of every finished segment from `start_s` on (the whole turn), or None."""
    recs = [r for r in segments if r.segment.start_s >= start_s - 1e-6]
    if not recs:
        return None
    acc = VoiceAccumulator()
    for r in recs:
        acc.merge(r.voice)
    return acc.stats()


RISE_TAIL_S = 0.75  # the end of a turn compared with the rest, on the 250 ms pitch track
RISE_MIN_POINTS = 2  # voiced track points needed in the tail and in the rest


def turn_rising_end(tracks: dict, start_s: float, end_s: float) -> bool | None:
    """Whether the trainee's pitch rose at the end of the turn `start_s`..`end_s` (a question said
    without a question word), from the channel's pitch track; None when there is too little voice."""
    ts, hz = tracks.get("t_s") or [], tracks.get("pitch_hz") or []
    pitch = [h if h is not None else math.nan for t, h in zip(ts, hz) if start_s - 1e-6 <= t <= end_s + 1e-6]
    if not pitch:
        return None
    return rising_end(np.asarray(pitch, dtype=float), frame_s=TRACK_BUCKET_S, tail_s=RISE_TAIL_S,
                      min_voiced_frames=RISE_MIN_POINTS)


def observation(*, text: str = "", words: Sequence[Word] = (), t_s: float, voice: VoiceStats | None = None,
                baseline: VoiceStats | None = None, interrupted: bool = False,
                silence_s: float = 0.0, rising: bool | None = None) -> TraineeObservation:
    pitch_rise = loud_rise = None
    if voice and baseline and voice.voiced_frames and baseline.voiced_frames:
        pitch_rise = float(hz_to_semitones(voice.pitch_median_hz) - hz_to_semitones(baseline.pitch_median_hz))
        loud_rise = voice.loudness_dbfs - baseline.loudness_dbfs
        if math.isnan(loud_rise):
            loud_rise = None
    return TraineeObservation(
        text=text, t_s=t_s, words=list(words), interrupted_caller=interrupted, silence_s=silence_s,
        pitch_rise_semitones=pitch_rise, loudness_rise_db=loud_rise, wpm=words_per_minute(words),
        rising_end=rising,
    )
