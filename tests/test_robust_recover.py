"""`voicetrainer recover` and recover_on_start: interrupted sessions are repaired and graded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.audio.recorder import SessionRecorder
from voicetrainer.cli import main
from voicetrainer.report.jsonio import write_atomic
from voicetrainer.session.recover import recover_and_grade

from conftest import shared_audio_path

JFK = shared_audio_path() / "speech" / "jfk.wav"
pytestmark = pytest.mark.skipif(not JFK.exists(), reason=f"shared real audio not found ({JFK}); set VOICETRAINER_SHARED")
RATE = 16000


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def crashed_session(root: Path, name: str = "s1", *, trainee_speaks: bool = True) -> Path:
    """A session as a crash leaves it: audio flushed, header stale, manifest "recording",
    writer process gone, half an event line at the end."""
    jfk, _ = sf.read(JFK, dtype="float32")
    caller, trainee = jfk[: 3 * RATE], jfk[3 * RATE : 7 * RATE]
    n = 9 * RATE
    audio = np.zeros((n, 2), np.float32)
    audio[: len(caller), 0] = caller
    if trainee_speaks:
        audio[int(3.6 * RATE) : int(3.6 * RATE) + len(trainee), 1] = trainee
    d = root / name
    rec = SessionRecorder(d, meta={"persona": "late_refund", "trainee": "ana"})
    rec.event({"type": "caller_line", "start_s": 0.0, "end_s": 3.0, "text": "And so my fellow Americans"})
    for i in range(0, n, 320):
        rec.write(audio[i : i + 320])
    rec.flush()
    with open(d / "call.wav", "ab") as f:  # the last 0.4 s reached the disk, the header did not
        f.write((np.zeros((int(0.4 * RATE), 2)) * 32767).astype("<i2").tobytes())
    with open(d / "events.jsonl", "a") as f:
        f.write('{"type": "trainee_sp')
    rec._audio.close()
    rec._events.close()
    meta = json.loads((d / "session.json").read_text())
    meta["writer"]["pid"] = _dead_pid()
    (d / "session.json").write_text(json.dumps(meta))
    return d


class WordsTranscriber:
    """A fast ASR double: one word per chunk, at the chunk's start."""

    def transcribe(self, audio, *, offset_s: float = 0.0):
        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        return Transcript([Word("sorry", offset_s + 0.2, offset_s + 0.6, 0.9)], "sorry")


def test_recover_and_grade_finds_repairs_and_grades(tmp_path):
    d = crashed_session(tmp_path)
    with SessionRecorder(tmp_path / "done", meta={}) as rec:  # a clean session is left alone
        rec.write(np.zeros((RATE, 2), np.float32))
    results = recover_and_grade(root=tmp_path, settings=_settings(tmp_path), db=None, transcriber=WordsTranscriber())
    assert [Path(r.session).name for r in results] == ["s1"]
    r = results[0]
    assert r.repaired and r.error is None and r.duration_s == 9.4
    meta = json.loads((d / "session.json").read_text())
    assert meta["status"] == "recovered" and meta["recovery"]["event_lines_dropped"] == 1
    report = json.loads((d / "report.json").read_text())
    assert report["source"]["mode"] == "session" and report["source"]["persona"] == "late_refund"
    assert report["duration_s"] == pytest.approx(9.4)
    caller = [t for t in report["turns"] if t["speaker"] == "caller"]
    assert caller and caller[0]["text"] == "And so my fellow Americans"  # known text from events.jsonl
    assert any(t["speaker"] == "trainee" and "sorry" in t["text"] for t in report["turns"])
    # graded once: a second pass has nothing to do
    assert recover_and_grade(root=tmp_path, settings=_settings(tmp_path), db=None, transcriber=WordsTranscriber()) == []


def _settings(tmp_path):
    from voicetrainer.config import Settings

    return Settings(data_dir=str(tmp_path / "data"))


def test_cli_recover_grades_with_the_real_model(tmp_path, capsys):
    d = crashed_session(tmp_path / "sessions")
    rc = main(["recover", str(d), "--no-history"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "s1: repaired, 9.4 s of audio ->" in err and "report.json" in err
    report = json.loads((d / "report.json").read_text())
    assert "what your country can do" in " ".join(t["text"] for t in report["turns"] if t["speaker"] == "trainee")
    assert (d / "report.html").exists()


def test_cli_recover_repairs_even_when_there_is_nothing_to_grade(tmp_path, capsys):
    d = crashed_session(tmp_path / "sessions", trainee_speaks=False)
    rc = main(["recover", "--root", str(tmp_path / "sessions"), "--no-history"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "s1: repaired, 9.4 s of audio; not graded:" in err and "no trainee speech found" in err
    assert json.loads((d / "session.json").read_text())["status"] == "recovered"
    assert sf.info(d / "call.wav").frames == int(9.4 * RATE)
    assert not (d / "report.json").exists()


def test_cli_recover_refuses_non_sessions_and_live_sessions(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    rc = main(["recover", str(tmp_path / "plain"), "--no-grade"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "plain" in err and "not a session folder" in err
    live = SessionRecorder(tmp_path / "live", meta={})  # writer = this process, still running
    live.write(np.zeros((320, 2), np.float32))
    rc = main(["recover", str(tmp_path / "live"), "--no-grade"])
    err = capsys.readouterr().err
    assert rc == 2 and "still being recorded" in err
    assert json.loads((tmp_path / "live" / "session.json").read_text())["status"] == "recording"
    live.close()


def test_damaged_manifest_is_rebuilt(tmp_path):
    d = crashed_session(tmp_path)
    (d / "session.json").write_text('{"schema": "voicetrainer.sess')  # torn, e.g. by a bad disk
    from voicetrainer.audio.recorder import find_interrupted, recover_session

    assert find_interrupted(tmp_path) == [d]
    assert recover_session(d)
    meta = json.loads((d / "session.json").read_text())
    assert meta["status"] == "recovered" and meta["recovery"]["manifest_rebuilt"]
    assert meta["channels"] == {"caller": 0, "trainee": 1} and meta["duration_s"] == 9.4


def test_result_files_are_replaced_atomically(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    write_atomic(target, '{"old": true}\n')

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, '{"new": true}\n')
    assert target.read_text() == '{"old": true}\n'  # the old report survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left behind
