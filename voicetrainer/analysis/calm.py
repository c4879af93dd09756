"""Vocal calm: how far a stretch of speech is from the same person's calm baseline.

Components, each a rise over the baseline (a lower or quieter voice is never penalised):
pitch median (semitones), pitch spread (SD, semitones), pitch range (p90-p10, semitones),
loudness (dB), vocal effort as spectral tilt (dB; works on peak-normalised audio, where loudness
says nothing), and speaking rate (%). Each rise beyond a small tolerance costs points; the score
is 100 minus the points, clipped to 0-100, higher = calmer. All components go into the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from voicetrainer.stream.features import hz_to_semitones
from voicetrainer.types import VoiceStats


@dataclass(frozen=True)
class CalmWeights:
    """Points per unit of rise beyond tolerance (units in the names).

    Tuned on acted angry vs neutral speech (scripts/evaluate.py reports the AUC).
    """

    pitch_pts_per_st: float = 6.0
    pitch_tol_st: float = 0.5
    spread_pts_per_st: float = 8.0
    spread_tol_st: float = 0.3
    range_pts_per_st: float = 2.0
    range_tol_st: float = 1.0
    loudness_pts_per_db: float = 2.5
    loudness_tol_db: float = 1.5
    tilt_pts_per_db: float = 3.0
    tilt_tol_db: float = 1.0
    rate_pts_per_pct: float = 0.3
    rate_tol_pct: float = 20.0  # the syllable-nucleus rate of steady read speech varies +-25 %
    rate_min_speech_s: float = 3.0  # rates of shorter stretches (either side) are not compared


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def calm_score(
    voice: VoiceStats, baseline: VoiceStats, *, rate: float | None = None,
    baseline_rate: float | None = None, weights: CalmWeights = CalmWeights(),
) -> dict:
    """Calm figures of `voice` against `baseline`, as a report-ready dict.

    Args:
        voice, baseline: voice statistics of the speech to judge and of calm speech.
        rate, baseline_rate: speaking rate (words or syllables per minute) of each, if known.

    Returns:
        ``{"score", "pitch_median_hz", "pitch_sd_semitones", "pitch_range_semitones",
        "loudness_dbfs", "loudness_sd_db", "tilt_db", "rate", "baseline": {...},
        "components": {name: {"delta", "penalty"}}}``
    """
    w = weights
    comps: dict[str, dict] = {}

    def add(name: str, delta, tol: float, per: float, unit: str):
        if _nan(delta):
            comps[name] = {"delta": None, "penalty": 0.0, "unit": unit}
            return
        pen = max(0.0, delta - tol) * per
        comps[name] = {"delta": round(float(delta), 2), "penalty": round(pen, 1), "unit": unit}

    pitch_rise = (
        float(hz_to_semitones(voice.pitch_median_hz) - hz_to_semitones(baseline.pitch_median_hz))
        if not _nan(voice.pitch_median_hz) and not _nan(baseline.pitch_median_hz) else math.nan
    )
    add("pitch_rise", pitch_rise, w.pitch_tol_st, w.pitch_pts_per_st, "semitones")
    add("pitch_spread_rise", voice.pitch_sd_semitones - baseline.pitch_sd_semitones,
        w.spread_tol_st, w.spread_pts_per_st, "semitones")
    add("pitch_range_rise", voice.pitch_range_semitones - baseline.pitch_range_semitones,
        w.range_tol_st, w.range_pts_per_st, "semitones")
    add("loudness_rise", voice.loudness_dbfs - baseline.loudness_dbfs,
        w.loudness_tol_db, w.loudness_pts_per_db, "dB")
    add("vocal_effort_rise", voice.tilt_db - baseline.tilt_db, w.tilt_tol_db, w.tilt_pts_per_db, "dB")
    enough = min(voice.speech_s, baseline.speech_s) >= w.rate_min_speech_s
    rate_change = (
        100.0 * (rate / baseline_rate - 1.0) if rate and baseline_rate and enough else math.nan
    )
    add("rate_change", rate_change, w.rate_tol_pct, w.rate_pts_per_pct, "%")
    total = sum(c["penalty"] for c in comps.values())
    has_voice = voice.voiced_frames > 0 and baseline.voiced_frames > 0
    score = round(max(0.0, min(100.0, 100.0 - total)), 1) if has_voice else None
    return {
        "score": score,
        **{k: v for k, v in voice.to_dict().items() if k not in ("voiced_frames",)},
        "rate": round(rate, 1) if rate else None,
        "baseline": {**baseline.to_dict(), "rate": round(baseline_rate, 1) if baseline_rate else None},
        "components": comps,
    }
