"""Voice activity: frame energy against an adaptive noise floor, and a speech/noise model.

The noise floor is the quietest frame level of the last `floor_window_s` seconds (minimum
statistics, as in Martin 2001): speech always dips to the floor between words or syllables
within a second or two, so the floor cannot creep up during long speech (the old "rise slowly
while loud" rule did, and cut the soft ends of long utterances), while a steady noise that
appears (a fan, a gated microphone opening at -50 dBFS) becomes the floor after one window.
It works on telephone-band audio too: it looks only at level, not at spectrum.

Level alone cannot tell a voice from an air vent at 10 dB SNR: `SileroSpeechModel` scores
speech against noise from the audio itself, with the Silero VAD ONNX model that ships inside
faster-whisper (no download; onnxruntime is already a faster-whisper dependency). Backends
that take audio sit behind `SpeechModel.push`; `load_speech_model` falls back to None (energy
only) and says why when the model cannot be loaded. `voicetrainer.stream.frontend` combines
them with the near-talker and crosstalk gates.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from voicetrainer import get_logger
from voicetrainer.config import FRAME_MS, SAMPLE_RATE, VadConfig

log = get_logger(__name__)

SILERO_CHUNK = 512  # samples per Silero step at 16 kHz (32 ms)
SILERO_CONTEXT = 64  # samples of the previous chunk the model sees with each step
SILERO_STATE = (1, 1, 128)  # LSTM state shape of the v6 ONNX export


class VoiceDetector(Protocol):
    def is_speech(self, level_dbfs: float) -> bool:
        """One 20 ms frame's level in dBFS -> is it speech?"""


class SpeechModel(Protocol):
    """A backend that takes audio: ``push(samples) -> P(speech)`` of the latest audio."""

    def push(self, samples: np.ndarray, *, active: bool = True) -> float:
        """One frame of 16 kHz float32 samples -> probability (0-1) that the newest audio is
        speech. `active=False`: the frame is at the noise floor; a model may skip audio that
        is all inactive (and call it non-speech) to save time."""

    def reset(self) -> None: ...


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

    @property
    def seen(self) -> int:
        """Frames fed so far."""
        return self._seen

    @property
    def warm(self) -> bool:
        return self._seen > self._warmup

    def update(self, level_dbfs: float) -> float:
        """Feed one frame's level; return the noise floor in dBFS."""
        n = self._seen
        self._seen += 1
        mins = self._mins
        while mins and mins[-1][1] >= level_dbfs:
            mins.pop()
        mins.append((n, level_dbfs))
        if mins[0][0] <= n - self._window:
            mins.popleft()
        self.floor_dbfs = max(mins[0][1], self.cfg.floor_min_dbfs)
        return self.floor_dbfs

    def is_speech(self, level_dbfs: float) -> bool:
        self.update(level_dbfs)
        if not self.warm:
            return False
        return level_dbfs > self.floor_dbfs + self.cfg.margin_db and level_dbfs > self.cfg.min_speech_dbfs


class SileroSpeechModel:
    """Streaming Silero VAD (the ONNX model inside faster-whisper), one instance per channel.

    Frames (20 ms) are collected into 32 ms model steps; `push` returns the probability of the
    newest complete step, so the score lags the audio by at most one step. About 0.1 ms of CPU
    per step (measured on the 2-core machine: 0.085 ms); a step whose frames were all at the
    noise floor (`active=False`) is not run and scores 0, which roughly halves the cost on a
    call where each side listens half the time.
    """

    def __init__(self, session):
        self._session = session
        self._buf = np.zeros(SILERO_CONTEXT + SILERO_CHUNK, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(SILERO_STATE, dtype=np.float32)
        self._c = np.zeros(SILERO_STATE, dtype=np.float32)
        self._buf[:] = 0.0
        self._fill = 0  # new samples in _buf after the context
        self._active = False  # a frame of the step being filled was above the noise floor
        self.prob = 0.0

    def push(self, samples: np.ndarray, *, active: bool = True) -> float:
        x = np.asarray(samples, dtype=np.float32)
        self._active |= active
        while len(x):
            take = min(SILERO_CHUNK - self._fill, len(x))
            a = SILERO_CONTEXT + self._fill
            self._buf[a : a + take] = x[:take]
            self._fill += take
            x = x[take:]
            if self._fill == SILERO_CHUNK:
                if self._active:
                    out, self._h, self._c = self._session.run(
                        None, {"input": self._buf[None, :], "h": self._h, "c": self._c})
                    self.prob = float(out.reshape(-1)[0])
                else:
                    self.prob = 0.0
                self._active = active and len(x) > 0  # the rest of this frame starts the next step
                self._buf[:SILERO_CONTEXT] = self._buf[-SILERO_CONTEXT:]
                self._fill = 0
        return self.prob


_SESSION = None
_SESSION_ERROR: str | None = None


def load_speech_model(cfg: VadConfig = VadConfig()) -> SpeechModel | None:
    """A fresh per-channel speech model for `cfg.backend`, or None for the energy VAD alone.

    The ONNX session is loaded once per process and shared (it is stateless; each channel keeps
    its own LSTM state). A missing model or onnxruntime logs one warning and falls back.
    """
    global _SESSION, _SESSION_ERROR
    if cfg.backend == "energy" or SAMPLE_RATE != 16_000:
        return None
    if _SESSION is None and _SESSION_ERROR is None:
        try:
            from faster_whisper.vad import get_vad_model

            _SESSION = get_vad_model().session
        except Exception as e:  # a broken optional model must not stop grading
            _SESSION_ERROR = f"{type(e).__name__}: {e}"
            log.warning("Silero VAD unavailable (%s); using the energy VAD alone", _SESSION_ERROR)
    return SileroSpeechModel(_SESSION) if _SESSION is not None else None
