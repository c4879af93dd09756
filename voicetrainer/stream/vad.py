"""Voice activity: frame energy against an adaptive noise floor.

The noise floor is the quietest frame level of the last `floor_window_s` seconds (minimum
statistics, as in Martin 2001): speech always dips to the floor between words or syllables
within a second or two, so the floor cannot creep up during long speech (the old "rise slowly
while loud" rule did, and cut the soft ends of long utterances), while a steady noise that
appears (a fan, a gated microphone opening at -50 dBFS) becomes the floor after one window.
It works on telephone-band audio too: it looks only at level, not at spectrum. Backends sit
behind `VoiceDetector.is_speech`.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from voicetrainer.config import FRAME_MS, VadConfig


class VoiceDetector(Protocol):
    def is_speech(self, level_dbfs: float) -> bool:
        """One 20 ms frame's level in dBFS -> is it speech?"""


class EnergyVad:
    """Minimum-statistics energy detector. One instance per channel; call once per frame.

    The first `warmup_frames` only feed the floor (a recording or a microphone almost always
    starts before anyone speaks). Cost per frame is O(1) amortised (monotonic deque).
    """

    def __init__(self, cfg: VadConfig = VadConfig(), *, warmup_frames: int = 5):
        self.cfg = cfg
        self._warmup = warmup_frames
        self._window = max(1, round(cfg.floor_window_s * 1000 / FRAME_MS))  # frames
        self.reset()

    def reset(self) -> None:
        self.floor_dbfs = self.cfg.floor_init_dbfs
        self._seen = 0
        self._mins: deque[tuple[int, float]] = deque()  # (frame, level), levels increasing

    def is_speech(self, level_dbfs: float) -> bool:
        cfg = self.cfg
        n = self._seen
        self._seen += 1
        mins = self._mins
        while mins and mins[-1][1] >= level_dbfs:
            mins.pop()
        mins.append((n, level_dbfs))
        if mins[0][0] <= n - self._window:
            mins.popleft()
        self.floor_dbfs = max(mins[0][1], cfg.floor_min_dbfs)
        if self._seen <= self._warmup:
            return False
        return level_dbfs > self.floor_dbfs + cfg.margin_db and level_dbfs > cfg.min_speech_dbfs
