"""Shared test fixtures: the shared real-audio folder, one speech model per session, signal builders.

Real clips are read in place from ``../shared/audio`` (beside the repository; override with
``$VOICETRAINER_SHARED``). Tests that need them skip, saying so, only when that folder is missing.
Known-answer helpers (text normalisation, WER, alignments, constructed two-channel calls) come
from ``scripts/evaluate.py`` so that the tests and the README's accuracy table measure the same way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from script_modules import load_script

REPO = Path(__file__).resolve().parents[1]
SR = 16_000  # Hz

os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
os.environ.setdefault("MPLCONFIGDIR", str(REPO / ".cache" / "matplotlib"))
# No test may touch the user's real history, baselines or voice cache.
os.environ.setdefault("VOICETRAINER_DATA", tempfile.mkdtemp(prefix="voicetrainer-test-data-"))


def shared_audio_path() -> Path:
    env = os.environ.get("VOICETRAINER_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "audio"


def _load_evaluate():
    return load_script("evaluate")


@pytest.fixture(scope="session")
def evaluation():
    """scripts/evaluate.py as a module: normalise, wer, aligned_words, build_call, ..."""
    return _load_evaluate()


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    path = shared_audio_path()
    if not (path / "MANIFEST.tsv").exists():
        pytest.skip(f"shared real audio not found at {path} (set VOICETRAINER_SHARED)")
    return path


@pytest.fixture(scope="session")
def transcriber():
    """The bundled Whisper tiny.en, loaded once for the whole test session (shared with the
    grader's per-process cache, so in-process CLI runs reuse it too)."""
    from voicetrainer.config import Settings
    from voicetrainer.session.batch import _get_transcriber

    return _get_transcriber(Settings())


def analyse_file(path, transcriber=None, *, trainee_channel: int = 1, settings=None):
    """`grade()` of one file without the rubric scoring: returns (CallResult, Report).

    Core tests use it so that they measure the core alone, through exactly the grader's options
    (ASR chunking, workers, ...); the CallResult (segments) is captured on its way to
    `build_report`.
    """
    from voicetrainer.config import Settings
    from voicetrainer.session import grader

    captured = {}
    real_build, real_skills = grader.build_report, grader._score_skills

    def build(call, result, **kw):
        captured["result"] = result
        return real_build(call, result, **kw)

    grader.build_report, grader._score_skills = build, (lambda *a, **k: None)
    try:
        report = grader.grade(path, grader.GradeOptions(trainee_channel=trainee_channel),
                              settings or Settings(), transcriber=transcriber)
    finally:
        grader.build_report, grader._score_skills = real_build, real_skills
    return captured["result"], report


@pytest.fixture(scope="session")
def analyse():
    return analyse_file


@pytest.fixture()
def no_history(tmp_path, monkeypatch):
    """Keep CLI runs out of the user's history database and data folder."""
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    return tmp_path


# ----------------------------------------------------------------------------- synthetic signals

def db_to_amp(dbfs: float) -> float:
    return 10 ** (dbfs / 20)


def tone(f_hz: float, dur_s: float, *, dbfs: float = -20.0, sr: int = SR, harmonics: int = 1) -> np.ndarray:
    """A (harmonic) tone whose RMS is `dbfs`; [shape=(n,)] float32."""
    t = np.arange(int(round(dur_s * sr))) / sr
    y = sum(np.sin(2 * np.pi * f_hz * k * t) / k for k in range(1, harmonics + 1))
    y = y / np.sqrt(np.mean(y**2)) * db_to_amp(dbfs)
    return y.astype(np.float32)


def voice(dur_s: float, *, f0_hz: float = 140.0, dbfs: float = -22.0, sr: int = SR) -> np.ndarray:
    """Speech-like: a harmonic tone with a 4 Hz syllable envelope (dips of ~12 dB), 10 ms ramps."""
    y = tone(f0_hz, dur_s, dbfs=dbfs, sr=sr, harmonics=8)
    t = np.arange(len(y)) / sr
    env = 0.625 + 0.375 * np.cos(2 * np.pi * 4.0 * t)  # 1.0 .. 0.25 (-12 dB)
    ramp = min(len(y) // 2, int(0.01 * sr))
    env[:ramp] *= np.linspace(0, 1, ramp)
    env[len(y) - ramp :] *= np.linspace(1, 0, ramp)
    return (y * env).astype(np.float32)


def noise(dur_s: float, *, dbfs: float = -60.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """White Gaussian noise with RMS `dbfs`."""
    return (np.random.default_rng(seed).standard_normal(int(round(dur_s * sr))) * db_to_amp(dbfs)).astype(np.float32)


def place(track: np.ndarray, clip: np.ndarray, start_s: float, sr: int = SR) -> None:
    a = int(round(start_s * sr))
    track[a : a + len(clip)] += clip[: len(track) - a]


def two_channel(dur_s: float, caller: list[tuple[float, float]], trainee: list[tuple[float, float]], *,
                noise_dbfs: float = -60.0) -> np.ndarray:
    """[shape=(n, 2)] call: speech-like bursts at (start_s, end_s) on channel 0 (caller) and 1
    (trainee), over a steady noise bed on both channels."""
    n = int(round(dur_s * SR))
    out = np.stack([noise(dur_s, dbfs=noise_dbfs, seed=1), noise(dur_s, dbfs=noise_dbfs, seed=2)], axis=1)
    for ch, spans, f0 in ((0, caller, 190.0), (1, trainee, 120.0)):
        for a, b in spans:
            place(out[:, ch], voice(b - a, f0_hz=f0), a)
    return out[:n]


@pytest.fixture(scope="session")
def signals():
    """Synthetic signal builders (see the functions above)."""
    return SimpleNamespace(tone=tone, voice=voice, noise=noise, place=place, two_channel=two_channel,
                           db_to_amp=db_to_amp, SR=SR)


def write_wav(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    sf.write(str(path), audio, sr, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def wav_writer():
    return write_wav
