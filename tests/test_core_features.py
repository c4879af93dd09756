"""Streaming features with known answers: YIN pitch of tones (batch and streaming), tilt, histograms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voicetrainer.config import FRAME_SAMPLES, PitchConfig
from voicetrainer.stream.features import Histogram, PitchTracker, spectral_tilt_db, yin, yin_frames


def stream_pitch(y: np.ndarray, cfg: PitchConfig = PitchConfig()) -> np.ndarray:
    """f0 per 20 ms frame from the streaming PitchTracker, fed one frame at a time."""
    tracker = PitchTracker(cfg)
    points = []
    for i in range(len(y) // FRAME_SAMPLES):
        points += tracker.push(y[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], i)
    points += tracker.flush()
    assert [p.index for p in points] == list(range(len(y) // FRAME_SAMPLES))
    return np.array([p.f0_hz for p in points])


@pytest.mark.parametrize("f_hz", [220.0, 110.0, 330.0])
def test_yin_tone_pitch_within_1_percent(signals, f_hz):
    y = signals.tone(f_hz, 1.0)
    f0 = yin(y)
    steady = f0[5:]  # the first frames see zero padding before the tone
    assert np.all(np.isfinite(steady))
    assert np.all(np.abs(steady - f_hz) <= 0.01 * f_hz), (f_hz, np.nanmin(steady), np.nanmax(steady))


def test_streaming_pitch_tracker_equals_batch_yin_on_220_hz(signals):
    cfg = PitchConfig()
    y = signals.tone(220.0, 1.0, harmonics=3)
    streamed = stream_pitch(y, cfg)
    batch = yin(y, fmin=cfg.fmin_hz, fmax=cfg.fmax_hz, window_ms=cfg.window_ms / 2, threshold=cfg.threshold)
    # PitchTracker's frame is at least 512 samples; both see the same tail of history, so once the
    # history is full the two must agree to floating-point precision.
    tail = slice(5, None)
    assert np.allclose(streamed[tail], batch[tail], rtol=1e-4, equal_nan=True)
    assert np.all(np.abs(streamed[tail] - 220.0) <= 2.2)


def test_pitch_tracker_batch_size_does_not_change_results(signals):
    y = signals.tone(180.0, 0.8, harmonics=4) + signals.noise(0.8, dbfs=-50)
    a = stream_pitch(y, PitchConfig(batch_frames=1))
    b = stream_pitch(y, PitchConfig(batch_frames=7))
    assert np.allclose(a, b, equal_nan=True, rtol=1e-6)


def test_noise_and_silence_are_unvoiced(signals):
    f0_noise = yin(signals.noise(1.0, dbfs=-30, seed=4))
    f0_silence = yin(np.zeros(16000, dtype=np.float32))
    assert np.mean(np.isnan(f0_noise)) > 0.9
    assert np.all(np.isnan(f0_silence))


def test_yin_frames_rejects_too_short_frames():
    with pytest.raises(ValueError, match="frame_length"):
        yin_frames(np.zeros((2, 100)), sr=16000, fmin=65.0, fmax=500.0, window=160)
    with pytest.raises(ValueError, match="fmin"):
        yin(np.zeros(16000), fmin=600.0, fmax=500.0)


def test_spectral_tilt_ignores_gain_but_sees_bright_voices():
    t = np.arange(8000) / 16000

    def voice(rolloff: float) -> np.ndarray:  # 150 Hz, 20 harmonics, amplitude 1/k**rolloff
        return sum(np.sin(2 * np.pi * 150 * k * t) / k**rolloff for k in range(1, 21))

    frames = lambda y: np.lib.stride_tricks.sliding_window_view(y, 512)[::320][:10]  # noqa: E731
    t_dull = spectral_tilt_db(frames(voice(2.0)), sr=16000)  # relaxed voice: steep roll-off
    t_quiet = spectral_tilt_db(frames(voice(2.0) * 0.05), sr=16000)
    t_bright = spectral_tilt_db(frames(voice(0.5)), sr=16000)  # pressed voice: strong harmonics
    assert np.allclose(t_dull, t_quiet, atol=0.01)  # peak normalisation does not move it
    assert np.median(t_bright) > np.median(t_dull) + 10


def test_histogram_statistics_match_numpy():
    rng = np.random.default_rng(0)
    v = rng.normal(3.0, 2.0, 5000)
    h = Histogram(-20, 20, 0.05)
    h.add(v[:2500])
    h2 = Histogram(-20, 20, 0.05)
    h2.add(np.concatenate([v[2500:], [np.nan]]))
    h.merge(h2)
    assert h.n == 5000
    assert math.isclose(h.mean, v.mean(), rel_tol=1e-9)
    assert math.isclose(h.sd, v.std(ddof=1), rel_tol=1e-9)
    assert abs(h.quantile(0.5) - np.median(v)) <= 0.05
    assert abs(h.quantile(0.9) - np.quantile(v, 0.9)) <= 0.05
