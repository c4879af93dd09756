"""Render cache: every caller line as a WAV on disk before the call needs it.

Public API::

    cache = RenderCache()                          # <user data dir>/tts-cache, every engine (CallerVoices)
    cache = RenderCache(phone_line=True)           # ... heard through a telephone line
    cache = RenderCache(tmp_path, backend=FakeTTS())
    wav = cache.get("Let me finish!", voice)       # Path; renders on a miss
    result = cache.prefill(persona)                # every line x every mood voice it can use
    cache.has(text, voice)                         # True when a live call would not wait

Files are mono 16-bit WAV at the backend's rate (22050 Hz for CallerVoices, whatever the
engine): read the rate from the file and resample with soxr for the output device. The key is a
SHA-256 of the text, the exact voice settings (engine, model, mood band), the engine id (engines,
versions, prosody version) and the telephone-line flag, so editing a line, a voice, or upgrading
an engine never plays stale audio. Writes are atomic (temp file + rename),
so a crash never leaves a half-written WAV under a valid key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.atomic import atomic_path
from voicetrainer.errors import TTSError

from .tts import TTSBackend, TTSEngineUnavailable, UnknownVoiceError, VoiceSettings, check_wav

log = get_logger(__name__)

PHONE_LINE_VERSION = 1  # bumped when the telephone-line rendering changes (part of the key)


@dataclass
class PrefillResult:
    """What prefill did.

    Attributes:
        rendered: lines synthesised now.
        cached: lines already in the cache.
        failed: (text, voice, error message) for lines that could not be synthesised.
        unknown_voices: voice names the engine does not have (lines with them are not tried
            again after the first failure).
    """

    rendered: int = 0
    cached: int = 0
    failed: list[tuple[str, VoiceSettings, str]] = field(default_factory=list)
    unknown_voices: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.rendered + self.cached + len(self.failed)


def default_cache_dir() -> Path:
    from voicetrainer.config import user_data_dir

    return user_data_dir() / "tts-cache"


class RenderCache:
    """WAV files of caller lines, keyed by text + voice settings + engine.

    Args:
        cache_dir: folder for the WAVs (created); default ``user_data_dir() / "tts-cache"``.
        backend: the TTSBackend; default ``CallerVoices`` (espeak-ng and Piper, mood prosody).
        phone_line: every line as heard over a telephone line (prosody.phone_line: 300-3400 Hz,
            8 kHz mu-law, light hiss and hum).
    """

    def __init__(self, cache_dir: str | Path | None = None, backend: TTSBackend | None = None, *,
                 phone_line: bool = False):  # fmt: skip
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._backend = backend
        self.phone_line = phone_line

    @property
    def backend(self) -> TTSBackend:
        if self._backend is None:
            from .voices import CallerVoices

            self._backend = CallerVoices()
        return self._backend

    @property
    def sample_rate_hz(self) -> int:
        """Rate of the cached WAVs (the backend's native rate)."""
        return self.backend.sample_rate_hz

    def key(self, text: str, voice: VoiceSettings) -> str:
        h = hashlib.sha256()
        line = f"phone-line/{PHONE_LINE_VERSION}" if self.phone_line else "direct"
        for part in (self.backend.engine_id, voice.key(), line, text):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()

    def path_for(self, text: str, voice: VoiceSettings) -> Path:
        k = self.key(text, voice)
        return self.cache_dir / k[:2] / f"{k}.wav"

    def has(self, text: str, voice: VoiceSettings) -> bool:
        return self.path_for(text, voice).is_file()

    def get(self, text: str, voice: VoiceSettings) -> Path:
        """Path to the WAV of ``text`` spoken with ``voice``; renders (and verifies) on a miss.
        Raises TTSError when the line cannot be synthesised."""
        path = self.path_for(text, voice)
        if path.is_file():
            return path
        with atomic_path(path, suffix=".wav") as tmp:
            self.backend.render(text, voice, tmp)
            check_wav(tmp, sample_rate_hz=self.backend.sample_rate_hz, text=text)
            if self.phone_line:
                self._through_phone_line(tmp, text)
        log.debug("cached %r (%s) -> %s", text[:40], voice.key(), path.name)
        return path

    @staticmethod
    def _through_phone_line(path: Path, text: str) -> None:
        import soundfile as sf

        from .prosody import phone_line, text_seed

        y, sr = sf.read(path, dtype="float32")
        sf.write(path, phone_line(y, sr=sr, seed=text_seed(text)), sr, subtype="PCM_16", format="WAV")

    def warm(self, persona) -> None:
        """Load the speech engine of ``persona``'s voice now, by rendering a short phrase to a
        scratch file: lines made during the call (the agent's name, a promise repeated back) are
        rendered on demand, and a neural engine's first render also loads its model (seconds).
        Best effort: a failure here shows again, and is handled, when a line is rendered."""
        import tempfile

        from .tts import voice_for_mood

        voice = voice_for_mood(persona.voice, persona.temperament.start_anger)
        with tempfile.TemporaryDirectory(prefix="vt-warm-") as tmp:
            try:
                self.backend.render("Okay.", voice, Path(tmp) / "warm.wav")
            except TTSError as e:
                log.debug("warming the voice of %s: %s", persona.id, e)

    def prefill(self, persona, *, progress: Callable[[int, int], None] | None = None) -> PrefillResult:
        """Render every line of ``persona`` in every voice the dialog engine can use for it
        (see ``voicetrainer.persona.dialog.planned_renders``). Failures are collected, not
        raised, so one bad line does not stop the rest (except TTSEngineUnavailable: no engine); ``progress(done, total)`` is called
        after each line."""
        from .dialog import planned_renders

        plan = planned_renders(persona)
        result = PrefillResult()
        for i, (text, voice) in enumerate(plan):
            if voice.voice in result.unknown_voices:
                result.failed.append((text, voice, f"unknown voice {voice.voice!r}"))
            elif self.has(text, voice):
                result.cached += 1
            else:
                try:
                    self.get(text, voice)
                    result.rendered += 1
                except TTSEngineUnavailable:
                    raise
                except UnknownVoiceError as e:
                    result.unknown_voices.add(voice.voice)
                    result.failed.append((text, voice, str(e)))
                    log.warning("persona %s: %s", persona.id, e)
                except TTSError as e:
                    result.failed.append((text, voice, str(e)))
                    log.warning("persona %s: %s", persona.id, e)
            if progress:
                progress(i + 1, len(plan))
        log.info(
            "prefill %s: %d rendered, %d cached, %d failed", persona.id, result.rendered, result.cached, len(result.failed)
        )
        return result

    def close(self) -> None:
        close = getattr(self._backend, "close", None)
        if close:
            close()

    def __enter__(self) -> "RenderCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
