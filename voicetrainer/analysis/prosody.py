"""Intonation: does a turn end with a rising pitch, as a spoken question does?

Used by the caller's mind (``persona.reply``) through ``TraineeObservation.rising_end``: the live
session fills it from the pitch track of the turn, so "the account number?" said with a rise is
heard as a question even without a question word.
"""

from __future__ import annotations

import numpy as np

TAIL_S = 0.5  # the end of the turn compared with the rest
MIN_RISE_SEMITONES = 2.0  # median pitch of the tail this far above the body's is a rise
MIN_VOICED_FRAMES = 5  # fewer voiced frames in the tail or the body: unknown


def rising_end(pitch_hz: np.ndarray, *, frame_s: float, tail_s: float = TAIL_S,
               min_rise_semitones: float = MIN_RISE_SEMITONES, min_voiced_frames: int = MIN_VOICED_FRAMES) -> bool | None:
    """True when the last `tail_s` seconds of voiced pitch sit at least `min_rise_semitones` above
    the median of the rest of the turn; None when there is too little voiced speech to say.

    Args:
        pitch_hz: pitch per frame [shape=(n,)], NaN or 0 where unvoiced.
        frame_s: frame hop in seconds.
        min_voiced_frames: fewer voiced frames in the tail or the body: None (unknown).
    """
    if frame_s <= 0:
        raise ValueError(f"frame_s must be positive, got {frame_s!r}")
    p = np.asarray(pitch_hz, dtype=float)
    voiced = np.flatnonzero(np.isfinite(p) & (p > 0))
    if len(voiced) < 2 * min_voiced_frames:
        return None
    end = voiced[-1]
    tail_from = end - int(round(tail_s / frame_s))
    tail = p[voiced[voiced > tail_from]]
    body = p[voiced[voiced <= tail_from]]
    if len(tail) < min_voiced_frames or len(body) < min_voiced_frames:
        return None
    rise = 12.0 * np.log2(np.median(tail) / np.median(body))
    return bool(rise >= min_rise_semitones)
