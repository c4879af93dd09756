"""TTS: the real pyttsx3/espeak-ng worker, its fault isolation, the test double, the render cache."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.errors import TTSError
from voicetrainer.persona.cache import RenderCache
from voicetrainer.persona.dialog import planned_renders
from voicetrainer.persona.loader import load_persona
from voicetrainer.persona.tts import (
    ESPEAK_SAMPLE_RATE_HZ,
    FakeTTS,
    Pyttsx3Backend,
    TTSBackend,
    UnknownVoiceError,
    VoiceSettings,
    check_wav,
    espeak_engine_id,
    mood_band,
    voice_for_mood,
)

LINE = "I have been charged twice this month and nobody is helping me at all."


def _espeak_available() -> bool:
    try:
        import pyttsx3  # noqa: F401

        return "espeak-ng-unknown" not in espeak_engine_id()
    except Exception:  # noqa: BLE001
        return False


needs_espeak = pytest.mark.skipif(not _espeak_available(), reason="pyttsx3 or libespeak-ng1 not installed")


@pytest.fixture(scope="module")
def espeak():
    with Pyttsx3Backend(timeout_s=10) as backend:
        yield backend


def rms(path: Path) -> float:
    y, _ = sf.read(path, dtype="float32")
    return float(np.sqrt(np.mean(y**2)))


# ------------------------------------------------------------------------ real engine


@needs_espeak
def test_rendered_line_is_non_silent_wav_at_expected_rate(espeak, tmp_path):
    out = tmp_path / "line.wav"
    espeak.render(LINE, VoiceSettings("en-us", 170, 50, 0.9), out)
    info = sf.info(out)
    assert info.samplerate == ESPEAK_SAMPLE_RATE_HZ == espeak.sample_rate_hz
    assert info.channels == 1 and info.subtype == "PCM_16"
    y, _ = sf.read(out, dtype="float32")
    assert 2.0 < len(y) / info.samplerate < 8.0  # 14 words at 170 wpm ~ 5 s
    assert np.max(np.abs(y)) > 0.1
    assert rms(out) > 0.01
    assert check_wav(out, sample_rate_hz=ESPEAK_SAMPLE_RATE_HZ, text=LINE) == pytest.approx(len(y) / 22050)
    assert not list(tmp_path.glob("*.raw.wav")), "temporary file removed"


@needs_espeak
def test_higher_rate_gives_shorter_audio(espeak, tmp_path):
    # Alternating order: pyttsx3's rate property used to land one line late (40-60 % of lines),
    # which this order catches; the worker now sends rate and pitch inside the text.
    durations: dict[int, list[float]] = {120: [], 180: [], 260: []}
    for i, rate in enumerate((260, 120, 180, 120, 260, 180)):
        out = tmp_path / f"r{i}.wav"
        espeak.render(LINE, VoiceSettings("en-us", rate, 50, 0.9), out)
        durations[rate].append(sf.info(out).duration)
    for rate, ds in durations.items():
        assert max(ds) - min(ds) < 0.05, (rate, ds)  # same settings, same length
    slow, mid, fast = (durations[r][0] for r in (120, 180, 260))
    assert slow > mid > fast
    assert slow / fast > 1.6  # 260/120 = 2.2 in words per minute


def f0_hz(path: Path) -> float:
    """Median autocorrelation pitch of the loudest 40 ms frames (70-400 Hz)."""
    y, sr = sf.read(path, dtype="float64")
    n = int(0.04 * sr)
    frames = np.stack([y[i : i + n] for i in range(0, len(y) - n, n)])
    loud = frames[np.argsort((frames**2).sum(axis=1))[-20:]]
    lags = np.arange(int(sr / 400), int(sr / 70))
    f0s = []
    for f in loud:
        f = f - f.mean()
        ac = np.array([np.dot(f[:-lag], f[lag:]) for lag in lags])
        f0s.append(sr / lags[int(np.argmax(ac))])
    return float(np.median(f0s))


@needs_espeak
def test_higher_pitch_setting_gives_higher_voice(espeak, tmp_path):
    lo, hi, lo2 = tmp_path / "lo.wav", tmp_path / "hi.wav", tmp_path / "lo2.wav"
    espeak.render(LINE, VoiceSettings("en-us", 170, 15, 0.9), lo)
    espeak.render(LINE, VoiceSettings("en-us", 170, 85, 0.9), hi)
    espeak.render(LINE, VoiceSettings("en-us", 170, 15, 0.9), lo2)
    assert f0_hz(hi) > 1.3 * f0_hz(lo)
    assert f0_hz(lo2) == pytest.approx(f0_hz(lo), rel=0.1)


@needs_espeak
def test_volume_is_applied_to_the_samples(espeak, tmp_path):
    loud, quiet = tmp_path / "loud.wav", tmp_path / "quiet.wav"
    espeak.render("Let me finish!", VoiceSettings("en-us", 170, 50, 1.0), loud)
    espeak.render("Let me finish!", VoiceSettings("en-us", 170, 50, 0.5), quiet)
    assert rms(quiet) / rms(loud) == pytest.approx(0.5, rel=0.05)


@needs_espeak
def test_anger_is_audible_faster_louder(espeak, tmp_path):
    base = VoiceSettings("en-us+f3", 170, 50, 0.9)
    calm, furious = voice_for_mood(base, 1.0), voice_for_mood(base, 9.5)
    a, b = tmp_path / "calm.wav", tmp_path / "furious.wav"
    espeak.render(LINE, calm, a)
    espeak.render(LINE, furious, b)
    assert sf.info(b).duration < sf.info(a).duration
    assert rms(b) > rms(a)


@needs_espeak
def test_unknown_voice_fails_clearly_and_worker_recovers(espeak, tmp_path):
    with pytest.raises(UnknownVoiceError, match="unknown voice .zz-nope."):
        espeak.render("Hello there.", VoiceSettings("zz-nope"), tmp_path / "bad.wav")
    assert not (tmp_path / "bad.wav").exists()
    espeak.render("Hello there.", VoiceSettings("en-us"), tmp_path / "ok.wav")  # previous voice not stuck
    assert sf.info(tmp_path / "ok.wav").frames > 0


@needs_espeak
def test_worker_keeps_audio_saved_print_off_the_protocol(tmp_path):
    out = tmp_path / "w.wav"
    req = {"text": "Hello.", "voice": "en-us", "rate_wpm": 170, "pitch": 50, "out": str(out)}
    proc = subprocess.run(
        [sys.executable, "-m", "voicetrainer.persona._tts_worker"],
        input=json.dumps(req) + "\n", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert [json.loads(x)["ok"] for x in lines] == [True, True]
    assert "Audio saved" not in proc.stdout
    assert out.exists()


@needs_espeak
def test_many_lines_in_a_row_all_land(espeak, tmp_path):
    # pyttsx3 quirks seen here: a dropped second file, an empty WAV now and then, runAndWait
    # returning before the file is written. Every request must still give its own audio.
    durations = set()
    for i in range(12):
        out = tmp_path / f"n{i}.wav"
        espeak.render(f"Line number {i}, said {'again ' * (i % 4)}by the caller.", VoiceSettings("en-us", 200, 50, 0.9), out)
        durations.add(round(check_wav(out, sample_rate_hz=22050), 2))
    assert len(durations) >= 4


# ------------------------------------------------------------------------ fault isolation (no espeak needed)

HANGS = "import json,time; print(json.dumps({'ok': True, 'ready': True}), flush=True); time.sleep(60)"
DIES = "import json,sys; print(json.dumps({'ok': True, 'ready': True}), flush=True); sys.stdin.readline(); sys.exit(3)"
EMPTY = (
    "import json,sys\nprint(json.dumps({'ok': True, 'ready': True}), flush=True)\n"
    "for line in sys.stdin:\n    r = json.loads(line)\n    open(r['out'], 'wb').close()\n"
    "    print(json.dumps({'ok': True}), flush=True)\n"
)


def test_hanging_engine_times_out_retries_then_fails_the_line(tmp_path):
    backend = Pyttsx3Backend(timeout_s=0.4, retries=1, worker_cmd=[sys.executable, "-c", HANGS])
    t0 = time.monotonic()
    with pytest.raises(TTSError, match=r"could not synthesise line 'Let me finish!'.*2 attempts.*hung"):
        backend.render("Let me finish!", VoiceSettings(), tmp_path / "x.wav")
    elapsed = time.monotonic() - t0
    backend.close()
    assert backend.restarts == 2
    assert elapsed < 10
    assert not (tmp_path / "x.wav").exists()


def test_dying_engine_and_empty_wav_fail_the_line_clearly(tmp_path):
    for code, what in ((DIES, "worker exited"), (EMPTY, "wrote no audio")):
        backend = Pyttsx3Backend(timeout_s=5, retries=1, worker_cmd=[sys.executable, "-c", code])
        with pytest.raises(TTSError, match=what):
            backend.render("Hello?", VoiceSettings(), tmp_path / "x.wav")
        backend.close()


# ------------------------------------------------------------------------ mood -> voice


def test_voice_follows_mood_monotonically():
    base = VoiceSettings("en-us", 170, 50, 0.9)
    voices = [voice_for_mood(base, m) for m in (0, 2, 4, 6, 7, 8, 9, 10)]
    for a, b in zip(voices, voices[1:], strict=False):
        assert b.rate_wpm >= a.rate_wpm and b.pitch >= a.pitch and b.pitch_range >= a.pitch_range
        assert b.band >= a.band  # loudness, effort and pauses follow the band (persona.prosody)
    assert voices[-1].rate_wpm > voices[0].rate_wpm
    assert voices[-1].pitch > voices[0].pitch and voices[-1].pitch_range > voices[0].pitch_range
    assert voices[0].band == 0 and voices[-1].band == 3
    assert {v.volume for v in voices} == {0.9}  # the persona's volume; the band's gain is applied to samples
    assert [mood_band(m) for m in (0, 3.4, 3.5, 6.5, 8.5, 10)] == [0, 0, 1, 2, 3, 3]
    assert voice_for_mood(VoiceSettings("en", 170, 95, 1.0), 10).pitch == 100


# ------------------------------------------------------------------------ test double


def test_fake_tts_is_deterministic_and_follows_settings(tmp_path):
    fake = FakeTTS()
    assert isinstance(fake, TTSBackend)
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    fake.render(LINE, VoiceSettings(rate_wpm=150), a)
    fake.render(LINE, VoiceSettings(rate_wpm=150), b)
    fake.render(LINE, VoiceSettings(rate_wpm=300), c)
    assert a.read_bytes() == b.read_bytes()
    assert sf.info(c).duration < sf.info(a).duration
    assert sf.info(a).samplerate == 22050
    assert check_wav(a, sample_rate_hz=22050) > 1.0
    assert len(fake.calls) == 3
    with pytest.raises(TTSError):
        FakeTTS(fail_texts=frozenset({"boom"})).render("boom", VoiceSettings(), tmp_path / "d.wav")


# ------------------------------------------------------------------------ render cache


def test_cache_renders_once_and_keys_on_text_voice_and_engine(tmp_path):
    fake = FakeTTS()
    cache = RenderCache(tmp_path, backend=fake)
    v = VoiceSettings("en-us", 170, 50, 0.9)
    assert not cache.has("Hello?", v)
    p1 = cache.get("Hello?", v)
    assert cache.has("Hello?", v)
    assert cache.get("Hello?", v) == p1 and len(fake.calls) == 1
    p2 = cache.get("Hello?", VoiceSettings("en-us", 171, 50, 0.9))
    p3 = cache.get("Hello!", v)
    assert len({p1, p2, p3}) == 3 and len(fake.calls) == 3
    other_engine = RenderCache(tmp_path, backend=FakeTTS(engine_id="fake-tts/2"))
    assert not other_engine.has("Hello?", v)
    assert sf.info(p1).samplerate == cache.sample_rate_hz == 22050
    assert not list(tmp_path.rglob(".render-*")), "no temp files left"


def test_cache_failed_render_leaves_nothing(tmp_path):
    cache = RenderCache(tmp_path, backend=FakeTTS(fail_texts=frozenset({"bad line"})))
    with pytest.raises(TTSError):
        cache.get("bad line", VoiceSettings())
    assert not list(tmp_path.rglob("*.wav"))


def test_prefill_covers_every_voice_the_dialog_can_ask_for(tmp_path):
    persona = load_persona("refund-outside-policy")
    fake = FakeTTS(fail_texts=frozenset({persona.lines.jargon[0]}))
    cache = RenderCache(tmp_path, backend=fake)
    seen = []
    result = cache.prefill(persona, progress=lambda done, total: seen.append((done, total)))
    plan = planned_renders(persona)
    assert result.total == len(plan) == seen[-1][0] == seen[-1][1]
    assert len(result.failed) == 4  # the failing line, in each of the 4 mood voices
    assert result.rendered == len(plan) - 4
    assert all(cache.has(t, v) for t, v in plan if t != persona.lines.jargon[0])
    again = cache.prefill(persona)
    assert again.cached == len(plan) - 4 and again.rendered == 0


@needs_espeak
def test_cache_with_real_engine(tmp_path, espeak):
    cache = RenderCache(tmp_path, backend=espeak)
    v = voice_for_mood(load_persona("confused-elderly").voice, 4)
    path = cache.get("Hello? Are you still there, dear?", v)
    assert check_wav(path, sample_rate_hz=22050) > 1.0
    assert "espeak-ng-1." in espeak.engine_id and "pyttsx3-" in espeak.engine_id


FATAL = "import json; print(json.dumps({'ok': False, 'fatal': True, 'error': 'pyttsx3 missing'}), flush=True)"


def test_engine_that_cannot_start_stops_prefill_at_once(tmp_path):
    from voicetrainer.persona.tts import TTSEngineUnavailable

    backend = Pyttsx3Backend(timeout_s=5, worker_cmd=[sys.executable, "-c", FATAL])
    with pytest.raises(TTSEngineUnavailable, match="libespeak-ng1"):
        backend.render("Hello?", VoiceSettings(), tmp_path / "x.wav")
    cache = RenderCache(tmp_path, backend=backend)
    with pytest.raises(TTSEngineUnavailable):
        cache.prefill(load_persona("confused-elderly"))
    assert backend.restarts == 0


def test_prepare_warms_the_voice_engine_when_every_line_comes_from_the_cache(tmp_path):
    """Lines made during a call (the agent's name, a promise repeated back) are rendered on
    demand: a call whose cached lines needed no engine still loads it before the call starts,
    so the first such reply does not wait for a neural voice's model to load (2.2 s measured)."""
    from voicetrainer.config import Settings
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.practice import CallSetup, prepare

    setup = CallSetup(persona="billing-double-charge", tts_cache=tmp_path / "cache", db=None, html=False)
    first = FakeTTS()
    prepare(setup, Settings(), tts_backend=first)
    assert len(first.calls) > 20  # the cache was filled: the engine was used anyway
    again = FakeTTS()
    prepare(setup, Settings(), tts_backend=again)
    assert [text for text, _ in again.calls] == ["Okay."]  # nothing to render, but the engine is warm
