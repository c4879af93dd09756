"""Grader inputs, good and bad: each case with its decided outcome (issue 2 / issue 8).

Bad input -> exit 2 and one line naming the file and the reason, no traceback. Odd but valid
audio (telephone u-law, 44.1/48 kHz, float, clipped) is graded, with a warning where the audio
limits what can be measured. Files are generated in tmp dirs from the JFK clip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.cli import main
from voicetrainer.errors import AudioInputError
from voicetrainer.session.grader import grade

from conftest import shared_audio_path

JFK = shared_audio_path() / "speech" / "jfk.wav"
pytestmark = pytest.mark.skipif(not JFK.exists(), reason=f"shared real audio not found ({JFK}); set VOICETRAINER_SHARED")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    audio, rate = sf.read(JFK, dtype="float32")
    assert rate == 16000
    return audio


def resample(x: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, 16000, rate).astype(np.float32)


# ------------------------------------------------------------------ bad input: exit 2, one line

def make_bad(kind: str, d: Path, jfk: np.ndarray) -> Path:
    p = d / f"{kind}.wav"
    if kind == "missing":
        return p
    if kind == "zero_byte":
        p.write_bytes(b"")
    elif kind == "header_only":
        sf.write(p, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
    elif kind == "truncated":
        sf.write(p, jfk, 16000, subtype="PCM_16")
        with open(p, "r+b") as f:
            f.truncate(44 + len(jfk))  # half of the samples
    elif kind == "random_bytes":
        p.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif kind == "text_named_wav":
        p.write_text("This is a meeting note, not a recording.\n" * 200)
    elif kind == "silence_only":
        sf.write(p, np.zeros(16000 * 10, np.float32), 16000, subtype="PCM_16")
    elif kind == "white_noise_only":
        sf.write(p, (np.random.default_rng(3).standard_normal(16000 * 20) * 0.05).astype(np.float32), 16000)
    return p


BAD = {
    "missing": "file not found",
    "zero_byte": "file is empty (0 bytes)",
    "header_only": "has a header but no audio samples",
    "truncated": "file is truncated: the header promises 352000 bytes of audio, only 176000 (50%)",
    "random_bytes": "not a readable audio file",
    "text_named_wav": "not a readable audio file",
    "silence_only": "no trainee speech found",
    "white_noise_only": "no trainee speech found",
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_exits_2_with_one_line_naming_file_and_reason(kind, tmp_path, jfk, capsys):
    path = make_bad(kind, tmp_path, jfk)
    out = tmp_path / "out"
    rc = main(["grade", str(path), "--out", str(out), "--no-history", "--no-html"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert str(path) in err and BAD[kind] in err, err
    assert not (out / "report.json").exists()


def test_truncated_file_message_points_to_recover(tmp_path, jfk):
    with pytest.raises(AudioInputError, match="voicetrainer recover"):
        grade(make_bad("truncated", tmp_path, jfk))


def test_noise_the_vad_takes_for_speech_gets_no_invented_words(tmp_path, transcriber):
    """Brown noise fools the energy VAD for a moment; the recogniser must still add no words."""
    rng = np.random.default_rng(1)
    b = np.cumsum(rng.standard_normal(16000 * 20))
    b -= np.convolve(b, np.ones(1600) / 1600, "same")
    p = tmp_path / "brown.wav"
    sf.write(p, (b / np.abs(b).max() * 0.3).astype(np.float32), 16000)
    try:
        report = grade(p, transcriber=transcriber)
    except AudioInputError as e:  # the VAD saw through it: the other decided outcome
        assert "no trainee speech found" in str(e)
        return
    assert all(t.words == [] and t.text == "" for t in report.turns), [t.text for t in report.turns]
    assert report.metrics["trainee_words"] == 0


# ------------------------------------------------------------------ odd but valid: graded

def _graded(report, *, rate: int, duration_s: float = 11.0):
    assert report.source["sample_rate_hz"] == rate
    assert report.duration_s == pytest.approx(duration_s, abs=0.05)
    text = " ".join(t.text for t in report.turns).lower()
    assert "your country" in text, text
    return text


@pytest.mark.parametrize("rate", [44100, 48000])
def test_high_sample_rates_are_resampled_and_graded(rate, tmp_path, jfk, transcriber):
    p = tmp_path / f"jfk_{rate}.wav"
    sf.write(p, resample(jfk, rate), rate, subtype="PCM_16")
    report = grade(p, transcriber=transcriber)
    _graded(report, rate=rate)
    assert not any("telephone" in w or "clipped" in w for w in report.warnings)


def test_float_wav_is_graded(tmp_path, jfk, transcriber):
    p = tmp_path / "jfk_float.wav"
    sf.write(p, jfk, 16000, subtype="FLOAT")
    assert sf.info(p).subtype == "FLOAT"
    _graded(grade(p, transcriber=transcriber), rate=16000)


def test_8k_ulaw_telephone_audio_is_graded_and_flagged(tmp_path, jfk, transcriber):
    p = tmp_path / "jfk_phone.wav"
    sf.write(p, resample(jfk, 8000), 8000, subtype="ULAW")
    report = grade(p, transcriber=transcriber)
    _graded(report, rate=8000)
    assert any("telephone-band" in w for w in report.warnings), report.warnings


def test_clipping_over_1_percent_is_graded_with_a_quality_warning(tmp_path, jfk, transcriber):
    hot = np.clip(jfk * 8.0, -1.0, 1.0)
    assert np.mean(np.abs(hot) >= 0.999) > 0.01
    p = tmp_path / "jfk_clipped.wav"
    sf.write(p, hot, 16000, subtype="PCM_16")
    report = grade(p, transcriber=transcriber)
    _graded(report, rate=16000)
    assert any("clipped" in w and "quality" in w for w in report.warnings), report.warnings
    clean = grade(JFK, transcriber=transcriber)
    assert not any("clipped" in w for w in clean.warnings)


# ------------------------------------------------------------------ ASR fault on one turn

class FlakyTranscriber:
    """Raises on the first call, then returns one word per call: a recogniser that failed once."""

    def __init__(self):
        self.calls = 0

    def transcribe(self, audio, *, offset_s: float = 0.0):
        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("CUDA-free CPU says no (injected)")
        w = Word("hello", offset_s + 0.1, offset_s + 0.5, 0.9)
        return Transcript([w], "hello")


def test_asr_failure_marks_that_turn_and_the_report_still_completes(tmp_path, jfk):
    gap = np.zeros(16000 * 4, np.float32)
    p = tmp_path / "two_turns.wav"
    sf.write(p, np.concatenate([jfk[: 16000 * 3], gap, jfk[16000 * 3 : 16000 * 6], gap]), 16000)
    from voicetrainer.session.grader import GradeOptions

    flaky = FlakyTranscriber()
    per_turn = {"pack_asr_s": 0.0} if "pack_asr_s" in GradeOptions.__dataclass_fields__ else {}
    report = grade(p, GradeOptions(merge_asr_s=0.0, **per_turn), transcriber=flaky)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    assert len(trainee) == 2 and flaky.calls >= 2
    assert trainee[0].asr_error and "injected" in trainee[0].asr_error and trainee[0].text == ""
    assert trainee[1].asr_error is None and trainee[1].text.startswith("hello")
    assert any("speech recognition failed on 1 stretch" in w for w in report.warnings), report.warnings
    d = report.to_dict()
    assert d["turns"][0]["asr_error"] and json.dumps(d)


class FirstSecondsFailTranscriber:
    """Fails on any audio that starts in the call's first 2 s (a packed job starts at offset 0):
    a recogniser that chokes on one stretch of speech and handles the rest."""

    def __init__(self):
        self.offsets = []

    def transcribe(self, audio, *, offset_s: float = 0.0):
        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        self.offsets.append(offset_s)
        if offset_s < 2.0:
            raise RuntimeError("bad stretch (injected)")
        return Transcript([Word("hello", offset_s + 0.1, offset_s + 0.5, 0.9)], "hello")


def test_failed_packed_job_is_retried_turn_by_turn(tmp_path, jfk):
    """Default options pack both turns into one recogniser job. When it fails, each piece is
    retried alone: only the turn that really fails is marked, the other one keeps its text."""
    gap = np.zeros(16000 * 4, np.float32)
    p = tmp_path / "two_turns.wav"
    sf.write(p, np.concatenate([jfk[: 16000 * 3], gap, jfk[16000 * 3 : 16000 * 6], gap]), 16000)
    asr = FirstSecondsFailTranscriber()
    report = grade(p, transcriber=asr)
    assert asr.offsets[0] == 0.0 and len(asr.offsets) == 3, asr.offsets  # packed, then 2 pieces
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    assert len(trainee) == 2
    assert trainee[0].asr_error and "injected" in trainee[0].asr_error and trainee[0].text == ""
    assert trainee[1].asr_error is None and trainee[1].text == "hello"
    assert any("speech recognition failed on 1 stretch" in w for w in report.warnings), report.warnings
    assert report.metrics["calm"]["score"] is not None  # the rest of the report is there


# ------------------------------------------------------------------ batches and long files

def test_one_bad_file_in_a_batch_never_stops_the_others(tmp_path, jfk):
    good = tmp_path / "good.wav"
    sf.write(good, jfk, 16000, subtype="PCM_16")
    bad = [make_bad(k, tmp_path, jfk) for k in ("zero_byte", "random_bytes", "truncated")]
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "voicetrainer", "grade", str(bad[0]), str(good), str(bad[1]), str(bad[2]),
         "--out", str(out), "--no-history", "--no-html", "-q"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for b in bad:
        assert sum(str(b) in line for line in proc.stderr.splitlines()) == 1, proc.stderr
    report = json.loads((out / "good" / "report.json").read_text())
    assert "your country" in " ".join(t["text"] for t in report["turns"]).lower()
    import csv

    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["error", "ok", "error", "error"]
    assert (out / "index.html").exists()


LONG_CHILD = textwrap.dedent("""
    import json, resource, sys
    from voicetrainer.session.grader import grade
    def rss_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    grade(sys.argv[2])                          # warm-up on a short file: imports, buffers
    before = rss_mb()
    report = grade(sys.argv[1])                 # 2 hours, no transcriber
    print(json.dumps({"before_mb": before, "after_mb": rss_mb(), "duration_s": report.duration_s,
                      "trainee_turns": sum(t.speaker == "trainee" for t in report.turns)}))
""")


@pytest.mark.slow
def test_two_hour_file_is_graded_in_bounded_memory(tmp_path, jfk):
    """2 h of 16 kHz audio is 230 MB as PCM16 and 460 MB as float32: streaming must hold neither."""
    p = tmp_path / "two_hours.wav"
    minute = 60 * 16000
    rng = np.random.default_rng(5)
    room = (rng.standard_normal(minute) * 3).astype(np.int16)  # -80 dBFS room noise
    burst = (jfk * 32767).astype(np.int16)
    with sf.SoundFile(p, "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        for m in range(120):
            block = room.copy()
            if m % 10 == 5:  # a burst of speech every 10 minutes: 12 turns
                block[: len(burst)] = burst
            f.write(block)
    assert sf.info(p).duration == 7200
    short = tmp_path / "short.wav"
    sf.write(short, jfk, 16000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", LONG_CHILD, str(p), str(short)],
                          capture_output=True, text=True, cwd=REPO, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["duration_s"] == 7200 and res["trainee_turns"] == 12
    growth = res["after_mb"] - res["before_mb"]
    assert growth < 60, res  # measured: 0 MB growth over a 57 MB peak; the audio is never held whole


def test_file_names_that_look_like_markup_are_printed_as_they_are(tmp_path, jfk, capsys):
    weird = tmp_path / "[bold]call.wav"  # rich would eat "[bold]" as a style
    weird.write_bytes(b"")
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(1600, np.float32), 16000)
    rc = main(["grade", str(weird), str(good), "--out", str(tmp_path / "out"), "--no-history", "--no-html", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "internal error" not in err
    assert f"{weird}: file is empty (0 bytes)" in err
