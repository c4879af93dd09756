"""The caller's voice: every engine behind the one TTSBackend method, shaped by the mood.

Public API::

    backend = CallerVoices()                       # the default backend of RenderCache
    backend.render("Let me finish!", voice_for_mood(persona.voice, 9.5), Path("x.wav"))
    issues = voice_issues(persona.voice)           # [(field, message)] for `personas validate`

``voice.engine`` picks the synthesiser: ``espeak`` (pyttsx3 + espeak-ng, in a worker process:
rate, pitch and pitch range are its own controls) or ``piper`` (neural, onnxruntime: rate is its
``length_scale``, pitch level and range are shifted with librosa). Then every engine's line goes
through ``prosody.shape_line`` for the band (pauses, clipped ends, vocal effort, loudness, sighs)
and is written at OUTPUT_RATE_HZ, whatever the engine's own rate (soxr), so one cache holds them
all.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.errors import TTSError

from .piper_voice import MissingVoiceError, PiperBackend, model_problem, piper_version, resolve_model
from .prosody import PROSODY_VERSION, prosody_for_band, shape_line
from .tts import (
    ENGINES,
    ESPEAK_SAMPLE_RATE_HZ,
    PITCH_UNITS_PER_ST,
    Pyttsx3Backend,
    UnknownVoiceError,
    VoiceSettings,
    _write_wav,
    espeak_engine_id,
)

log = get_logger(__name__)

OUTPUT_RATE_HZ = ESPEAK_SAMPLE_RATE_HZ  # every cached line, whichever engine made it


class CallerVoices:
    """Routes each line to its engine, then shapes it for the mood band.

    Args:
        espeak: the espeak-ng backend (default: a Pyttsx3Backend started on first espeak line).
        settings: config Settings (its ``voices_dir`` is where Piper voices are found by name).
    """

    sample_rate_hz = OUTPUT_RATE_HZ

    def __init__(self, *, espeak: Pyttsx3Backend | None = None, settings=None):
        self._espeak = espeak
        self._settings = settings
        self._piper: dict[str, PiperBackend] = {}
        self._lock = threading.Lock()
        # versions of both engines and of the shaping: an upgrade never replays old audio
        self.engine_id = f"caller-voices/prosody-{PROSODY_VERSION}/{espeak_engine_id()}/piper-{piper_version()}"

    @property
    def espeak(self) -> Pyttsx3Backend:
        with self._lock:
            if self._espeak is None:
                self._espeak = Pyttsx3Backend()
            return self._espeak

    def piper(self, model: str) -> PiperBackend:
        """The (cached) Piper backend of ``model`` ("" = built-in); MissingVoiceError if absent."""
        with self._lock:
            backend = self._piper.get(model)
            if backend is None:
                problem = model_problem(model, self._settings)
                if problem:
                    raise MissingVoiceError(problem)
                backend = self._piper[model] = PiperBackend(resolve_model(model, self._settings))
            return backend

    def render(self, text: str, voice: VoiceSettings, out_path: Path) -> None:
        """Write ``text`` in ``voice`` (engine, model, mood band) to ``out_path``, shaped for the
        band, at OUTPUT_RATE_HZ. Raises TTSError (UnknownVoiceError for a missing voice)."""
        if voice.engine not in ENGINES:
            raise UnknownVoiceError(f"unknown speech engine {voice.engine!r} (known: {', '.join(ENGINES)})",
                                    voice=voice.engine)  # fmt: skip
        prosody = prosody_for_band(voice.band)
        if voice.engine == "piper":
            try:
                backend = self.piper(voice.model)
            except MissingVoiceError as e:
                raise UnknownVoiceError(str(e), voice=voice.model or "piper") from e
            y, sr = backend.synthesize(text, rate_wpm=voice.rate_wpm, noise_scale=prosody.noise_scale,
                                       noise_w_scale=prosody.noise_w_scale)  # fmt: skip
            shift_st = (voice.pitch - 50) / PITCH_UNITS_PER_ST  # the persona's pitch + the band's raise
            y = shape_line(y, sr=sr, prosody=prosody, pitch_shift_st=shift_st, emphasis=True, volume=voice.volume,
                           text=text)  # fmt: skip
        else:
            import soundfile as sf

            raw = Path(out_path).with_name(Path(out_path).name + ".espeak.wav")
            try:
                self.espeak.render(text, voice, raw)
                y, sr = sf.read(raw, dtype="float32")
            finally:
                raw.unlink(missing_ok=True)
            y = shape_line(y, sr=sr, prosody=prosody, volume=voice.volume, text=text)
        if sr != OUTPUT_RATE_HZ:
            import soxr

            y = soxr.resample(y, sr, OUTPUT_RATE_HZ, quality="HQ").astype(np.float32)
        if not len(y):
            raise TTSError(f"synthesis of line {text[:50]!r} produced no audio")
        _write_wav(Path(out_path), y, OUTPUT_RATE_HZ)

    def close(self) -> None:
        if self._espeak is not None:
            self._espeak.close()

    def __enter__(self) -> "CallerVoices":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def voice_issues(spec, settings=None) -> list[tuple[str, str]]:
    """Problems with a persona's voice that the schema cannot see: a Piper voice (or Piper)
    that is not installed. [(field path, message naming what to install)]; [] when usable."""
    if getattr(spec, "engine", "espeak") != "piper":
        return []
    problem = model_problem(spec.model, settings)
    if problem is None:
        return []
    return [("voice.model" if spec.model else "voice.engine", problem)]
