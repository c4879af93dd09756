"""Streaming loudness, pitch (YIN) and spectral tilt on bounded buffers.

`yin` and `spectral_tilt_db` are pure, vectorised functions over a matrix of frames;
`PitchTracker` feeds them from a fixed-size sliding buffer, a batch of frames at a time, so
the per-frame cost is a copy of 320 samples and the FFT work is shared across the batch.
`Histogram` keeps distribution statistics of a whole call in constant memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, PitchConfig

REF_HZ = 100.0  # semitone scale reference: 0 st = 100 Hz
TILT_SPLIT_HZ = 1000.0  # spectral tilt = energy 1-4 kHz over 80 Hz-1 kHz, in dB
TILT_HIGH_HZ = 4000.0
TILT_LOW_HZ = 80.0


def hz_to_semitones(f_hz: np.ndarray | float | None) -> np.ndarray | float:
    """Semitones relative to 100 Hz: the one conversion every module uses (NaN, None and
    non-positive frequencies give NaN). A difference of two is the interval between them."""
    if f_hz is None:
        return math.nan
    if isinstance(f_hz, (float, int, np.floating)):  # the per-frame path: no array overhead
        return 12.0 * math.log2(f_hz / REF_HZ) if f_hz > 0 else math.nan
    f = np.asarray(f_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        st = np.where(f > 0, 12.0 * np.log2(np.where(f > 0, f, 1.0) / REF_HZ), np.nan)
    return float(st) if st.ndim == 0 else st


def semitones_to_hz(st: np.ndarray | float) -> np.ndarray | float:
    """The inverse of `hz_to_semitones` (NaN stays NaN)."""
    hz = REF_HZ * 2.0 ** (np.asarray(st, dtype=np.float64) / 12.0)
    return float(hz) if hz.ndim == 0 else hz


def _check_yin(sr: int, fmin: float, fmax: float, frame_length: int, window: int) -> tuple[int, int]:
    if not 0 < fmin < fmax < sr / 2:
        raise ValueError(f"need 0 < fmin < fmax < sr/2, got fmin={fmin} Hz, fmax={fmax} Hz, sr={sr} Hz")
    tau_min = max(2, int(math.floor(sr / fmax)))
    tau_max = int(math.ceil(sr / fmin))
    if frame_length < window + tau_max + 1:
        raise ValueError(
            f"frame_length={frame_length} samples is too short for window={window} and "
            f"fmin={fmin} Hz (needs >= {window + tau_max + 1})"
        )
    return tau_min, tau_max


def yin_frames(
    frames: np.ndarray, *, sr: int, fmin: float, fmax: float, window: int, threshold: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """YIN f0 for each row of `frames`.

    Args:
        frames: [shape=(n, frame_length)] float audio; frame_length >= window + sr/fmin + 1.
        sr: sample rate in Hertz. fmin, fmax: search range in Hertz.
        window: integration window W in samples.
        threshold: absolute threshold on the cumulative mean normalised difference.

    Returns:
        f0_hz [shape=(n,)], NaN where unvoiced; aperiodicity [shape=(n,)] (CMND minimum, 0 = periodic).
    """
    frames = np.asarray(frames, dtype=np.float64)
    n, frame_length = frames.shape
    tau_min, tau_max = _check_yin(sr, fmin, fmax, frame_length, window)
    nfft = 1 << int(math.ceil(math.log2(frame_length + window)))
    head = frames[:, :window]
    spec = np.fft.rfft(frames, nfft, axis=1)
    spec_head = np.fft.rfft(head, nfft, axis=1)
    r = np.fft.irfft(spec * np.conj(spec_head), nfft, axis=1)[:, : tau_max + 1]  # r[tau]
    sq = np.concatenate([np.zeros((n, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    e0 = sq[:, window][:, None]
    taus = np.arange(tau_max + 1)
    e_tau = sq[:, taus + window] - sq[:, taus]
    d = np.maximum(e0 + e_tau - 2.0 * r, 0.0)
    d[:, 0] = 0.0
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(cum > 0, d[:, 1:] * taus[1:] / cum, 1.0)
    seg = cmnd[:, tau_min : tau_max + 1]
    # first trough below threshold, as in de Cheveigne & Kawahara (2002)
    below = seg < threshold
    trough = np.zeros_like(below)
    trough[:, 1:-1] = (seg[:, 1:-1] <= seg[:, :-2]) & (seg[:, 1:-1] < seg[:, 2:])
    cand = below & trough
    has = cand.any(axis=1)
    idx = np.where(has, cand.argmax(axis=1), seg.argmin(axis=1))
    rows = np.arange(n)
    aper = seg[rows, idx]
    # parabolic interpolation around the chosen lag
    i = np.clip(idx, 1, seg.shape[1] - 2)
    a, b, c = seg[rows, i - 1], seg[rows, i], seg[rows, i + 1]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    shift = np.clip(shift, -1.0, 1.0)
    tau = tau_min + i + np.where(idx == i, shift, 0.0)
    f0 = np.where(has, sr / tau, np.nan)
    return f0, aper


def spectral_tilt_db(frames: np.ndarray, *, sr: int, nfft: int = 512) -> np.ndarray:
    """High-band (1-4 kHz) over low-band (80 Hz-1 kHz) energy per row, in dB.

    Vocal effort raises it (a strained or shouting voice has stronger high harmonics) and it
    does not depend on overall gain, so it still works on peak-normalised audio.
    """
    frames = np.asarray(frames, dtype=np.float64)
    seg = frames[:, -nfft:] * np.hanning(min(nfft, frames.shape[1]))
    power = np.abs(np.fft.rfft(seg, nfft, axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    lo = power[:, (freqs >= TILT_LOW_HZ) & (freqs < TILT_SPLIT_HZ)].sum(axis=1)
    hi = power[:, (freqs >= TILT_SPLIT_HZ) & (freqs < TILT_HIGH_HZ)].sum(axis=1)
    return 10.0 * np.log10((hi + 1e-12) / (lo + 1e-12))


def yin(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, fmin: float = 65.0, fmax: float = 500.0,
    window_ms: float = 20.0, hop_length: int = FRAME_SAMPLES, threshold: float = 0.2,
) -> np.ndarray:
    """f0 in Hertz for a whole signal, one value per hop (NaN = unvoiced). [shape=(n_frames,)]

    Frame i covers samples ending at (i + 1) * hop_length; frames before enough history is
    available are zero-padded, exactly as the streaming `PitchTracker` sees them.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be mono [shape=(n,)], got shape {y.shape}")
    window = int(sr * window_ms / 1000)
    tau_max = int(math.ceil(sr / fmin))
    frame_length = window + tau_max + 1
    n_frames = len(y) // hop_length
    padded = np.concatenate([np.zeros(frame_length), y[: n_frames * hop_length]])
    ends = frame_length + (np.arange(n_frames) + 1) * hop_length
    view = sliding_window_view(padded, frame_length)
    frames = view[ends - frame_length]
    f0, _ = yin_frames(frames, sr=sr, fmin=fmin, fmax=fmax, window=window, threshold=threshold)
    return f0


@dataclass(frozen=True, slots=True)
class PitchPoint:
    """Pitch and tilt for one 20 ms frame (frame `index`, starting at `t_s`)."""

    index: int
    t_s: float
    f0_hz: float  # NaN when unvoiced
    aperiodicity: float
    tilt_db: float


class PitchTracker:
    """Streaming YIN over a fixed sliding buffer; results arrive in batches.

    ``push(samples, index)`` takes one frame ([shape=(320,)]) and returns the `PitchPoint`s of
    the batch it completes (empty list otherwise); ``flush()`` returns the remainder.
    ``push(..., needed=False)`` says nobody will read that frame's pitch (it is not speech):
    its point comes back with NaN f0, aperiodicity and tilt, and costs no YIN (in a call about
    half the frames of a channel are silence).
    """

    def __init__(self, cfg: PitchConfig = PitchConfig(), *, sr: int = SAMPLE_RATE):
        self.cfg = cfg
        self.sr = sr
        self.window = int(sr * cfg.window_ms / 2000)  # integration window = half the analysis window
        self.tau_max = int(math.ceil(sr / cfg.fmin_hz))
        self.frame_length = max(self.window + self.tau_max + 1, 512)
        self.hop = FRAME_SAMPLES
        self.batch = max(1, cfg.batch_frames)
        self._history = self.frame_length - self.hop  # samples kept from before the batch
        self._buf = np.zeros(self._history + self.batch * self.hop, dtype=np.float32)
        self._n = 0  # frames in the current batch
        self._needed = np.ones(self.batch, dtype=bool)  # frames of the batch whose pitch is wanted
        self._first_index = 0
        _check_yin(sr, cfg.fmin_hz, cfg.fmax_hz, self.frame_length, self.window)

    def reset(self) -> None:
        self._buf[:] = 0.0
        self._n = 0

    def push(self, samples: np.ndarray, index: int, *, needed: bool = True) -> list[PitchPoint]:
        if self._n == 0:
            self._first_index = index
        start = self._history + self._n * self.hop
        self._buf[start : start + self.hop] = samples
        self._needed[self._n] = needed
        self._n += 1
        if self._n == self.batch:
            return self._run()
        return []

    def flush(self) -> list[PitchPoint]:
        return self._run() if self._n else []

    def _run(self) -> list[PitchPoint]:
        n = self._n
        used = self._history + n * self.hop
        view = sliding_window_view(self._buf[:used], self.frame_length)[:: self.hop]
        want = np.flatnonzero(self._needed[:n])
        f0, aper, tilt = (np.full(n, np.nan) for _ in range(3))
        if len(want):
            frames = view[:n][want]
            f0[want], aper[want] = yin_frames(
                frames, sr=self.sr, fmin=self.cfg.fmin_hz, fmax=self.cfg.fmax_hz,
                window=self.window, threshold=self.cfg.threshold,
            )
            tilt[want] = spectral_tilt_db(frames, sr=self.sr)
        # keep the tail as history for the next batch
        self._buf[: self._history] = self._buf[used - self._history : used]
        self._n = 0
        step = self.hop / self.sr
        i0 = self._first_index
        return [
            PitchPoint(i0 + k, (i0 + k) * step, float(f0[k]), float(aper[k]), float(tilt[k]))
            for k in range(n)
        ]


class Histogram:
    """Distribution of a stream of values in constant memory (fixed bins + exact moments).

    Quantiles are exact to half a bin; mean and standard deviation are exact.
    """

    __slots__ = ("lo", "hi", "bin", "counts", "n", "_sum", "_sumsq")

    def __init__(self, lo: float, hi: float, bin_width: float):
        self.lo, self.hi, self.bin = lo, hi, bin_width
        self.counts = np.zeros(int(math.ceil((hi - lo) / bin_width)), dtype=np.int64)
        self.n = 0
        self._sum = 0.0
        self._sumsq = 0.0

    def add(self, values) -> None:
        if isinstance(values, tuple) and len(values) <= 1:
            # the streaming path adds one frame's value at a time: skip numpy's per-call overhead
            # (same bin, same sums as the array path below)
            if values:
                self._add_one(float(values[0]))
            return
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if not len(v):
            return
        idx = np.clip(((v - self.lo) / self.bin).astype(np.int64), 0, len(self.counts) - 1)
        np.add.at(self.counts, idx, 1)
        self.n += len(v)
        self._sum += float(v.sum())
        self._sumsq += float(np.dot(v, v))

    def _add_one(self, x: float) -> None:
        if not math.isfinite(x):
            return
        i = int((x - self.lo) / self.bin)  # truncates toward zero, like astype(np.int64)
        self.counts[min(max(i, 0), len(self.counts) - 1)] += 1
        self.n += 1
        self._sum += x
        self._sumsq += x * x

    def merge(self, other: "Histogram") -> None:
        self.counts += other.counts
        self.n += other.n
        self._sum += other._sum
        self._sumsq += other._sumsq

    @property
    def mean(self) -> float:
        return self._sum / self.n if self.n else float("nan")

    @property
    def sd(self) -> float:
        if self.n < 2:
            return float("nan")
        var = (self._sumsq - self._sum**2 / self.n) / (self.n - 1)
        return math.sqrt(max(var, 0.0))

    def quantile(self, q: float) -> float:
        if not self.n:
            return float("nan")
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, q * self.n, side="left"))
        return self.lo + (min(i, len(self.counts) - 1) + 0.5) * self.bin
