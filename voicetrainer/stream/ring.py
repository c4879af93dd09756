"""AudioRing: the last seconds of one channel in a fixed buffer, addressable by session time.
Written by the streaming pipeline, read by the ASR stage (a turn's audio) and the grader."""

from __future__ import annotations

import numpy as np

from voicetrainer.config import SAMPLE_RATE


class AudioRing:
    """The last `capacity_s` seconds of one channel, addressable by session time."""

    def __init__(self, capacity_s: float):
        self.capacity = int(capacity_s * SAMPLE_RATE)
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0  # total samples ever written

    def write(self, samples: np.ndarray) -> None:
        n = len(samples)
        pos = self._written % self.capacity
        first = min(n, self.capacity - pos)
        self._buf[pos : pos + first] = samples[:first]
        if first < n:
            self._buf[: n - first] = samples[first:]
        self._written += n

    @property
    def end_s(self) -> float:
        return self._written / SAMPLE_RATE

    @property
    def start_s(self) -> float:
        return max(0, self._written - self.capacity) / SAMPLE_RATE

    def read(self, start_s: float, end_s: float) -> np.ndarray:
        """A copy of [start_s, end_s), clipped to what the ring still holds."""
        a = max(int(round(start_s * SAMPLE_RATE)), self._written - self.capacity, 0)
        b = min(int(round(end_s * SAMPLE_RATE)), self._written)
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        ia, ib = a % self.capacity, b % self.capacity
        if ia < ib or (ib == 0 and b > a):
            return self._buf[ia : ib or self.capacity].copy()
        return np.concatenate([self._buf[ia:], self._buf[:ib]])
