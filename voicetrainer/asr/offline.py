"""The recogniser for offline grading: Whisper's encoder sees the speech it is given, not 30 s.

The grader sends the recogniser packed jobs of speech only (`ChannelAnalyzer` ``pack_s``): its
own VAD already cut the silences out, so a job is 2-28 s of speech. Whisper pads every input to
a 30 s encoder window, and on a 2-core CPU the encoder is most of the recognition time (of the
8 jobs of the bench's 3-minute call, 60-70 % of the ASR time was encoding): encoding the job
itself (plus 1 s, at least `MIN_WINDOW_S`) instead saves what the padding cost (a third of the
encoder on that call). This is what only a grader that knows the speech spans can do; the
quick alternative (scripts/quick_grader.py) encodes a full window per VAD chunk.

Short windows can make Whisper loop ("5, 5, 5, ..."); the decoder is capped near the length the
speech can have and a looping job is recognised again with the full window (`asr.WhisperTranscriber`
does both), here by the same model instance (one model load, not two).
"""

from __future__ import annotations

import threading

import numpy as np

from voicetrainer import get_logger
from voicetrainer.asr.whisper import FULL_WINDOW_S, WhisperTranscriber, _short_window_class, resolve_model_path
from voicetrainer.config import AsrConfig
from voicetrainer.errors import ModelError

log = get_logger(__name__)

TAIL_S = 1.0  # silence the encoder sees after the speech
MIN_WINDOW_S = 15.0  # the encoder sees at least this much (short jobs: Whisper is less sure below)
# encoder windows are rounded up to a multiple of this many mel frames (5 s): a handful of input
# shapes instead of one per job length, so CTranslate2's allocator cache stays bounded (with one
# shape per job, peak memory grew with the call: 720 MB on a 1-hour call against 562 MB)
WINDOW_STEP_FRAMES = 500

_local = threading.local()  # .full: this thread's current call encodes the full 30 s window
_models: dict[tuple, object] = {}
_lock = threading.Lock()


def _offline_class():
    base = _short_window_class()

    class OfflineWhisper(base):
        """`ShortWindowWhisper`, except for calls made through `FullWindow` in this thread."""

        tail_frames = 100

        def encode(self, features):
            whole = super(base, self).encode  # WhisperModel.encode
            if getattr(_local, "full", False):
                return whole(features)
            f = features if features.ndim == 3 else features[None]
            # faster-whisper pads the normalised log-mel with exact zeros; speech never is
            content = np.flatnonzero(np.any(f[0] != 0, axis=0))
            n = int(content[-1]) + 1 if len(content) else 0
            n = max(self.min_frames, n + self.tail_frames)
            n = min(f.shape[-1], -(-n // WINDOW_STEP_FRAMES) * WINDOW_STEP_FRAMES)  # even: the convolution's stride is 2
            return whole(np.ascontiguousarray(f[..., :n]))

    return OfflineWhisper


def load_offline_model(cfg: AsrConfig, *, min_window_s: float = MIN_WINDOW_S):
    """Load (once per process) the offline model for `cfg`."""
    path = resolve_model_path(cfg.model)
    key = (str(path), cfg.compute_type, cfg.cpu_threads, min_window_s)
    with _lock:
        if key not in _models:
            try:
                model = _offline_class()(str(path), device="cpu", compute_type=cfg.compute_type,
                                         cpu_threads=cfg.cpu_threads, num_workers=2, local_files_only=True)
            except Exception as e:
                raise ModelError(f"could not load the speech model from {path}: {e}") from e
            model.min_frames = int(round(min(min_window_s, FULL_WINDOW_S) * 100))  # 100 mel frames a second
            model.tail_frames = int(round(TAIL_S * 100))
            _models[key] = model
            log.info("loaded speech model %s for grading (%s, %d threads, >= %g s window)", path,
                     cfg.compute_type, cfg.cpu_threads, min_window_s)
        return _models[key]


class FullWindow:
    """The same model, its encoder seeing the whole 30 s window for calls made through this."""

    def __init__(self, model):
        self.model = model

    def transcribe(self, audio, **options):
        _local.full = True
        try:
            segments, info = self.model.transcribe(audio, **options)
            return list(segments), info  # the encoder runs while the segments are read
        finally:
            _local.full = False


class OfflineTranscriber(WhisperTranscriber):
    """`WhisperTranscriber` for grading: encoder window = the job (>= `MIN_WINDOW_S`), decoder
    capped by the job's length, full-window retry of a looping job on the same model."""

    def __init__(self, cfg: AsrConfig = AsrConfig(), *, min_window_s: float = MIN_WINDOW_S):
        self.cfg = cfg
        self.window_s = min_window_s
        self.model = load_offline_model(cfg, min_window_s=min_window_s)
        self._full = FullWindow(self.model)
        self.full_window_retries = 0
