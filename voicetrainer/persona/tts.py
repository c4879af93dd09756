"""Speech synthesis for caller lines, behind a one-method interface.

Public API::

    voice = voice_for_mood(persona.voice, mood=7.5)    # anger is audible: rate/pitch/volume
    backend = Pyttsx3Backend()                         # the real engine (pyttsx3 + espeak-ng)
    backend = FakeTTS()                                # test double: deterministic tone WAVs
    backend.render("Let me finish!", voice, Path("x.wav"))   # the one method
    check_wav(path, sample_rate_hz=backend.sample_rate_hz)   # raises TTSError if empty/silent

Every backend writes a mono 16-bit WAV at its own ``sample_rate_hz`` (22050 Hz for espeak-ng and
for FakeTTS) and exposes ``engine_id`` (part of the render-cache key, so a new engine version
never reuses old audio). Nothing is ever played by the engine itself: the app plays the WAV on
the chosen device (pyttsx3's own playback ignores it and needs aplay).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from voicetrainer import get_logger
from voicetrainer.errors import TTSError

log = get_logger(__name__)

ESPEAK_SAMPLE_RATE_HZ = 22_050  # espeak-ng's fixed output rate (pyttsx3 writes it as is)
# Bumped whenever the worker renders differently (2: rate/pitch as embedded commands, 3: pitch
# range too), so the render cache never serves audio made by an older worker.
WORKER_PROTOCOL = 3
MIN_PEAK = 1e-3  # a rendered line whose peak |sample| is below this is "silent"

# Mood (anger 0-10) -> voice. Quantised in bands so that every voice a call can use is known in
# advance and can be rendered before the call (the cache key includes the voice). What each band
# does to the voice is persona.prosody.PROSODY_BY_BAND.
MOOD_BAND_EDGES = (3.5, 6.5, 8.5)  # bands: 0 calm <3.5 <= 1 upset < 6.5 <= 2 angry < 8.5 <= 3 furious
MOOD_BAND_NAMES = ("calm", "upset", "angry", "furious")
# espeak-ng pitch units per semitone: measured here on en-us, median f0 103.5 Hz at pitch 50 and
# 125.9 Hz at 70 = 3.4 semitones per 20 units. Piper voices read ``pitch`` on the same scale.
PITCH_UNITS_PER_ST = 6.0
ENGINES = ("espeak", "piper")


@dataclass(frozen=True)
class VoiceSettings:
    """The exact voice one line is rendered with.

    Attributes:
        voice: espeak-ng voice/language with optional variant ("en-us+f3"); for Piper, what
            espeak-ng's phonemizer is told is ignored (the model's config says it).
        rate_wpm: speaking rate in words per minute.
        pitch: espeak pitch 0-100 (50 = the voice's normal; PITCH_UNITS_PER_ST per semitone).
        volume: linear gain 0-1 applied to the samples (espeak ignores pyttsx3's volume).
        engine: "espeak" (pyttsx3 + espeak-ng) or "piper" (neural, onnxruntime).
        model: Piper voice: "" = the built-in voice, else a path or a name in a voices folder.
        pitch_range: espeak pitch range 0-100 (50 = the voice's normal).
        band: the mood band 0-3 the line is shaped for (persona.prosody.PROSODY_BY_BAND).
    """

    voice: str = "en-us"
    rate_wpm: int = 170
    pitch: int = 50
    volume: float = 0.9
    engine: str = "espeak"
    model: str = ""
    pitch_range: int = 50
    band: int = 0

    def key(self) -> str:
        base = f"{self.voice}|{self.rate_wpm}|{self.pitch}|{self.volume:.3f}"
        return f"{base}|{self.engine}|{self.model}|{self.pitch_range}|{self.band}"


def mood_band(mood: float) -> int:
    """0 calm, 1 upset, 2 angry, 3 furious (edges in MOOD_BAND_EDGES)."""
    return sum(mood >= edge for edge in MOOD_BAND_EDGES)


def band_mood(band: int) -> float:
    """A representative mood inside ``band`` (for rendering every band in advance)."""
    return (0.0, 5.0, 7.5, 9.5)[band]


def voice_for_mood(base, mood: float) -> VoiceSettings:
    """The caller's voice at ``mood``: the persona's baseline (a VoiceSpec or VoiceSettings, its
    calmest voice) made faster, higher, wider in pitch, louder and more effortful by anger band
    (the band's Prosody; the loudness, effort and pauses are applied to the samples)."""
    from .prosody import prosody_for_band

    band = mood_band(mood)
    p = prosody_for_band(band)
    return VoiceSettings(
        voice=base.voice,
        rate_wpm=int(round(base.rate_wpm * p.rate_factor)),
        pitch=int(min(100, round(base.pitch + PITCH_UNITS_PER_ST * p.pitch_st))),
        volume=round(float(base.volume), 3),
        engine=getattr(base, "engine", "espeak"),
        model=getattr(base, "model", None) or "",
        pitch_range=int(min(100, round(50 * p.range_factor))),
        band=band,
    )


@runtime_checkable
class TTSBackend(Protocol):
    """A speech synthesiser. One method; ``engine_id`` and ``sample_rate_hz`` describe its output."""

    engine_id: str
    sample_rate_hz: int

    def render(self, text: str, voice: VoiceSettings, out_path: Path) -> None:
        """Write ``text`` spoken with ``voice`` to ``out_path`` (mono 16-bit WAV at
        ``sample_rate_hz``). Raises TTSError when the line cannot be synthesised."""
        ...


def check_wav(path: Path, *, sample_rate_hz: int, text: str = "") -> float:
    """Duration in seconds of a rendered line; TTSError if missing, empty, wrong rate or silent."""
    import soundfile as sf

    what = f"line {text[:50]!r}" if text else str(path)
    if not path.exists() or path.stat().st_size <= 44:
        raise TTSError(f"synthesis of {what} wrote no audio ({path})")
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for broken files
        raise TTSError(f"synthesis of {what} wrote an unreadable WAV ({e})") from e
    if sr != sample_rate_hz:
        raise TTSError(f"synthesis of {what} wrote {sr} Hz audio, expected {sample_rate_hz} Hz")
    if len(data) == 0 or float(np.max(np.abs(data))) < MIN_PEAK:
        raise TTSError(f"synthesis of {what} produced silence")
    return len(data) / sr


def _write_wav(path: Path, samples: np.ndarray, sample_rate_hz: int) -> None:
    import soundfile as sf

    sf.write(path, np.clip(samples, -1.0, 1.0).astype(np.float32), sample_rate_hz, subtype="PCM_16", format="WAV")


# --------------------------------------------------------------------------------------------
# test double


@dataclass
class FakeTTS:
    """Deterministic stand-in for a speech engine (for tests and machines without espeak-ng).

    Writes a voiced-sounding tone: duration = words / rate (plus 0.15 s), fundamental
    ``80 + 2 * pitch`` Hz with harmonics, a 4 Hz syllable envelope, and a little noise seeded by
    the text; peak amplitude ``0.6 * volume``. The same text and voice give identical bytes.

    Attributes:
        sample_rate_hz: output rate.
        fail_texts: texts for which render raises TTSError (to test failure handling).
        calls: every (text, voice) rendered, in order.
    """

    sample_rate_hz: int = ESPEAK_SAMPLE_RATE_HZ
    fail_texts: frozenset[str] = frozenset()
    calls: list[tuple[str, VoiceSettings]] = field(default_factory=list)
    engine_id: str = "fake-tts/1"

    def render(self, text: str, voice: VoiceSettings, out_path: Path) -> None:
        self.calls.append((text, voice))
        if text in self.fail_texts:
            raise TTSError(f"fake synthesis failure for line {text[:50]!r}")
        _write_wav(Path(out_path), fake_speech(text, voice, sample_rate_hz=self.sample_rate_hz), self.sample_rate_hz)


def fake_speech(text: str, voice: VoiceSettings, *, sample_rate_hz: int) -> np.ndarray:
    """The FakeTTS signal [shape=(n,)], float32 in -1..1."""
    n_words = max(1, len(text.split()))
    duration_s = n_words / voice.rate_wpm * 60.0 + 0.15
    n = int(round(duration_s * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    f0_hz = 80.0 + 2.0 * voice.pitch
    tone = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in (1, 2, 3))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    seed = int.from_bytes(hashlib.sha256((text + voice.key()).encode()).digest()[:8], "little")
    noise = np.random.default_rng(seed).standard_normal(n) * 0.05
    y = (tone * envelope + noise).astype(np.float32)
    y *= 0.6 * voice.volume / max(1e-9, float(np.max(np.abs(y))))
    return y


# --------------------------------------------------------------------------------------------
# pyttsx3 + espeak-ng in a worker process


@functools.lru_cache(maxsize=1)
def espeak_engine_id() -> str:
    """'pyttsx3-2.99/espeak-ng-1.51/worker-2' (versions are part of the cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pv = version("pyttsx3")
    except PackageNotFoundError:
        pv = "missing"
    ev = "unknown"
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        lib = ctypes.CDLL(name)
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        ev = (lib.espeak_Info(None) or b"unknown").decode()
    except (OSError, AttributeError):
        pass
    return f"pyttsx3-{pv}/espeak-ng-{ev}/worker-{WORKER_PROTOCOL}"


class _WorkerFailure(Exception):
    pass


class UnknownVoiceError(TTSError):
    """The engine does not have the requested voice (a persona's ``voice.voice``)."""

    def __init__(self, message: str, *, voice: str):
        super().__init__(message)
        self.voice = voice


class TTSEngineUnavailable(TTSError):
    """The speech engine cannot start at all (pyttsx3 or libespeak-ng1 missing): no line can be
    rendered, so callers stop instead of failing line by line."""


class Pyttsx3Backend:
    """pyttsx3 with the espeak-ng driver, run in a worker process.

    One request = one text = one file = one ``runAndWait``. A request that takes longer than
    ``timeout_s`` kills the worker (``runAndWait`` can hang); a failed or empty render is retried
    ``retries`` times in a fresh worker, then raises TTSError naming the line. Thread-safe (one
    request at a time); close() or use as a context manager to stop the worker.

    Args:
        timeout_s: longest a single line may take to render (espeak renders ~20 words in 0.02 s).
        retries: extra attempts per line after a failure.
        worker_cmd: the command that runs the worker (tests replace it with a hanging one).
        start_timeout_s: longest the worker may take to import pyttsx3 and start espeak.
    """

    sample_rate_hz = ESPEAK_SAMPLE_RATE_HZ

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        retries: int = 1,
        worker_cmd: list[str] | None = None,
        start_timeout_s: float = 20.0,
    ):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self.retries = retries
        self.start_timeout_s = start_timeout_s
        self.worker_cmd = worker_cmd or [sys.executable, "-m", "voicetrainer.persona._tts_worker"]
        self.engine_id = espeak_engine_id()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.restarts = 0  # how many times a worker was killed and replaced (for logs/tests)
        self.empty_retries = 0  # empty WAVs the worker re-rendered (a pyttsx3/espeak-ng fault)

    # -- worker management
    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            self.worker_cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
        self._proc = proc
        hello = self._read_reply(self.start_timeout_s)
        if not hello.get("ok"):
            self._kill()
            raise TTSEngineUnavailable(
                hello.get("error", "the speech worker did not start")
                + " (install pyttsx3 and libespeak-ng1: `apt-get install libespeak-ng1`)"
            )
        log.debug("tts worker started (pid %d)", proc.pid)
        return proc

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):  # pragma: no cover - best effort
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:  # pragma: no cover
                pass

    def _read_reply(self, timeout_s: float) -> dict:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout_s):
                raise _WorkerFailure(f"no answer within {timeout_s:g} s (hung)")
        finally:
            sel.close()
        line = proc.stdout.readline()
        if not line:
            raise _WorkerFailure(f"worker exited (status {proc.poll()})")
        try:
            return json.loads(line)
        except json.JSONDecodeError as e:
            raise _WorkerFailure(f"garbled answer {line[:80]!r}") from e

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __enter__(self) -> "Pyttsx3Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - safety net; close() is the way
        try:
            self._kill()
        except Exception:  # noqa: BLE001
            pass

    # -- the one method
    def render(self, text: str, voice: VoiceSettings, out_path: Path) -> None:
        out_path = Path(out_path)
        raw = out_path.with_name(out_path.name + ".raw.wav")
        last = "unknown failure"
        with self._lock:
            for attempt in range(self.retries + 1):
                raw.unlink(missing_ok=True)
                try:
                    if self._proc is None or self._proc.poll() is not None:
                        self._start()
                    req = {"text": text, "voice": voice.voice, "rate_wpm": voice.rate_wpm, "pitch": voice.pitch,
                           "range": voice.pitch_range, "out": str(raw),
                           "finish_timeout_s": 0.8 * self.timeout_s}  # fmt: skip
                    t0 = time.monotonic()
                    assert self._proc is not None and self._proc.stdin is not None
                    self._proc.stdin.write(json.dumps(req) + "\n")
                    self._proc.stdin.flush()
                    reply = self._read_reply(self.timeout_s)
                    if not reply.get("ok"):
                        if reply.get("unknown_voice"):
                            raise UnknownVoiceError(reply["error"], voice=voice.voice)
                        raise _WorkerFailure(reply.get("error", "failed"))
                    if reply.get("empty_retries"):
                        self.empty_retries += int(reply["empty_retries"])
                        log.debug("espeak-ng wrote %d empty WAV(s) for %r; re-rendered", reply["empty_retries"], text[:40])
                    check_wav(raw, sample_rate_hz=self.sample_rate_hz, text=text)
                    self._finish(raw, out_path, voice.volume)
                    log.debug("rendered %r in %.3f s", text[:40], time.monotonic() - t0)
                    return
                except (_WorkerFailure, TTSError, BrokenPipeError, OSError) as e:
                    if isinstance(e, TTSEngineUnavailable | UnknownVoiceError):
                        raw.unlink(missing_ok=True)
                        raise
                    last = str(e)
                    log.warning("tts attempt %d for %r failed: %s; restarting the worker", attempt + 1, text[:40], e)
                    self._kill()
                    self.restarts += 1
                finally:
                    raw.unlink(missing_ok=True)
        raise TTSError(
            f"could not synthesise line {text[:50]!r} with voice {voice.voice!r} after "
            f"{self.retries + 1} attempts: {last}"
        )

    def _finish(self, raw: Path, out_path: Path, volume: float) -> None:
        """Apply the volume in numpy (espeak ignores pyttsx3's volume) and write the final WAV."""
        import soundfile as sf

        data, sr = sf.read(raw, dtype="float32")
        _write_wav(out_path, data * float(volume), sr)
