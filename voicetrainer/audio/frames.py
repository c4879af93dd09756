"""Frames: the unit every streaming stage consumes.

A `Frame` is 20 ms of 16 kHz float32 audio for one or more channels, with its start time on the
session clock. `Reframer` turns blocks of any size and sample rate into exact frames, resampling
with a streaming soxr resampler, so the microphone and a file yield identical frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Frame:
    """20 ms of audio.

    Attributes:
        samples: float32 in [-1, 1], [shape=(FRAME_SAMPLES, channels)].
        start_s: time of the first sample on the session clock, in seconds.
        index: frame number since the start of the stream (start_s = index * 0.02).
    """

    samples: np.ndarray
    start_s: float
    index: int

    @property
    def end_s(self) -> float:
        return self.start_s + FRAME_SAMPLES / SAMPLE_RATE

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def channel(self, i: int) -> np.ndarray:
        """[shape=(FRAME_SAMPLES,)] view of channel i."""
        return self.samples[:, i]


class Reframer:
    """Blocks of any length and rate in, exact 16 kHz `Frame`s out.

    Holds at most one partial frame; resampling state lives in a soxr `ResampleStream`.
    """

    def __init__(self, in_rate: int, channels: int, *, start_index: int = 0):
        if in_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {in_rate}")
        self.in_rate = int(in_rate)
        self.channels = int(channels)
        self._resampler = None
        if self.in_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.in_rate, SAMPLE_RATE, self.channels, dtype="float32", quality="HQ"
            )
        self._pending = np.zeros((FRAME_SAMPLES, self.channels), dtype=np.float32)
        self._fill = 0
        self._index = start_index

    def push(self, block: np.ndarray, *, last: bool = False) -> list[Frame]:
        """Add a block [shape=(n, channels)] at the input rate; return the whole frames now ready."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[:, None]
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block, last=last)
            if block.ndim == 1:
                block = block[:, None]
        frames: list[Frame] = []
        pos = 0
        n = len(block)
        while pos < n:
            take = min(FRAME_SAMPLES - self._fill, n - pos)
            self._pending[self._fill : self._fill + take] = block[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == FRAME_SAMPLES:
                frames.append(self._emit())
        if last and self._fill:
            self._pending[self._fill :] = 0.0  # pad the final partial frame with silence
            frames.append(self._emit())
        return frames

    def _emit(self) -> Frame:
        frame = Frame(self._pending.copy(), self._index * FRAME_SAMPLES / SAMPLE_RATE, self._index)
        self._index += 1
        self._fill = 0
        return frame


def rms_dbfs(x: np.ndarray, *, floor_dbfs: float = -120.0) -> float:
    """Root-mean-square level of `x` in dBFS (0 dBFS = full-scale square wave)."""
    ms = float(np.dot(x, x)) / max(len(x), 1)
    return 10.0 * np.log10(ms) if ms > 10 ** (floor_dbfs / 10) else floor_dbfs
