"""A full disk during a call and kills at the wrong moment (issue #17, items 8 and 9): the call
stops cleanly with what fits, the session is marked and says which file is full, `recover`
grades it onto another disk without writing the original; a session killed after "complete"
but before its report is graded by `recover`; SIGTERM closes the session."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voicetrainer.audio import recorder as recorder_mod
from voicetrainer.audio.recorder import SessionRecorder, read_manifest
from voicetrainer.errors import StorageError
from voicetrainer.session.recover import recover_and_grade

REPO = Path(__file__).resolve().parents[1]
RATE = 16000


class FullDisk:
    """A file that takes `room` more bytes, then fails like a full disk (ENOSPC)."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data):
        if len(data) > self.room:
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _no_new_files(monkeypatch, *, under: Path, when=lambda: True):
    """Atomic writes (a new temp file) under `under` fail while `when()`: no room for a new file."""
    import sys

    from voicetrainer import atomic

    real = atomic.write_atomic

    def write_atomic(path, data):
        if when() and Path(path).resolve().is_relative_to(under.resolve()):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    # the one writer, wherever a module holds it by name (voicetrainer.atomic, jsonio, recorder, html ...)
    for mod in [m for name, m in list(sys.modules.items()) if name.startswith("voicetrainer")]:
        if getattr(mod, "write_atomic", None) is real:
            monkeypatch.setattr(mod, "write_atomic", write_atomic)
    monkeypatch.setattr(recorder_mod, "write_atomic", write_atomic)


def _tone(seconds: float) -> np.ndarray:
    """Two channels: silence for the caller, the demo trainee's real speech (16 kHz) for the trainee."""
    import soundfile as sf

    speech, rate = sf.read(REPO / "audio_fixtures" / "demo_trainee.wav", dtype="float32", frames=int(seconds * RATE))
    assert rate == RATE
    speech = speech if speech.ndim == 1 else speech.mean(axis=1)
    return np.stack([np.zeros_like(speech), speech], axis=1)


def test_a_full_disk_stops_the_recording_and_marks_the_session(tmp_path, monkeypatch):
    d = tmp_path / "s1"
    rec = SessionRecorder(d, meta={"persona": "p"})
    audio = _tone(3.0)
    for i in range(0, RATE, 320):  # 1 s fits
        rec.write(audio[i: i + 320])
    rec.flush()
    rec._audio = FullDisk(rec._audio, room=0)
    _no_new_files(monkeypatch, under=d)
    with pytest.raises(StorageError) as e:
        for i in range(RATE, len(audio), 320):
            rec.write(audio[i: i + 320])
    assert str(d / "call.wav") in str(e.value) and "disk is full" in str(e.value) and e.value.exit_code == 2
    rec.write(audio[:320])  # later blocks and events are dropped, not raised again
    rec.event({"type": "x"})
    assert rec.lost_blocks == 2
    rec.close("complete")
    meta = read_manifest(d)  # rewritten in place: there was no room for a new file
    assert meta["status"] == "aborted" and "disk is full" in meta["error"] and str(d / "call.wav") in meta["error"]
    assert 0.9 <= meta["duration_s"] <= 1.1
    import soundfile as sf

    kept, rate = sf.read(d / "call.wav")
    assert rate == RATE and abs(len(kept) / RATE - meta["duration_s"]) < 0.01


def test_recover_grades_onto_another_disk_without_writing_the_original(tmp_path):
    from test_robust_recover import WordsTranscriber

    d = tmp_path / "full-disk" / "s1"
    rec = SessionRecorder(d, meta={"persona": "p", "trainee": "ana"})
    rec.write(_tone(4.0))
    rec.flush()
    rec._audio.close()
    rec._events.close()  # killed: manifest still says "recording", writer gone
    meta = json.loads((d / "session.json").read_text())
    meta["writer"]["pid"] = _dead_pid()
    (d / "session.json").write_text(json.dumps(meta))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.iterdir()}
    os.chmod(d, 0o555)
    try:
        results = recover_and_grade([d], out=tmp_path / "other", db=None, transcriber=WordsTranscriber())
    finally:
        os.chmod(d, 0o755)
    assert results[0].error is None, results[0].error
    assert (tmp_path / "other" / "s1" / "report.json").is_file()
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.iterdir()} == before


def test_a_call_on_a_full_disk_ends_cleanly_and_says_where(tmp_path, monkeypatch, transcriber):
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.practice import simulate

    out = tmp_path / "session"
    real_open = open

    disks = []

    def opener(path, mode="r", *a, **kw):  # call.wav has room for about 15 s of audio
        f = real_open(path, mode, *a, **kw)
        if str(path).endswith("call.wav") and "w" in mode:
            disks.append(FullDisk(f, room=15 * RATE * 4))
            return disks[-1]
        return f

    monkeypatch.setattr(recorder_mod, "open", opener, raising=False)
    _no_new_files(monkeypatch, under=out, when=lambda: bool(disks) and disks[0].room == 0)
    with pytest.raises(StorageError) as e:
        simulate("billing-double-charge", REPO / "audio_fixtures" / "demo_trainee.wav", out, realtime=False,
                 transcriber=transcriber, tts_backend=FakeTTS(), db=None, html=False)
    msg = str(e.value)
    assert str(out / "report.json") in msg and "disk is full" in msg and f"voicetrainer recover {out}" in msg
    meta = read_manifest(out)
    assert meta["status"] == "aborted" and str(out / "call.wav") in meta["error"] and meta["duration_s"] > 2.0


# ----------------------------------------------------------------------------- 9. kills

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_session_killed_after_complete_but_before_its_report_is_graded_by_recover(tmp_path):
    from test_robust_recover import WordsTranscriber

    root = tmp_path / "sessions"
    d = root / "s1"
    with SessionRecorder(d, meta={"persona": "p", "trainee": "ana"}) as rec:
        rec.write(_tone(4.0))
    meta = read_manifest(d)
    assert meta["status"] == "complete" and not (d / "report.json").exists()
    # while the process that closed it lives (it is writing the report), recover leaves it alone
    assert recover_and_grade(root=root, db=None, transcriber=WordsTranscriber()) == []
    meta["closed_by"]["pid"] = _dead_pid()  # killed before the report existed
    (d / "session.json").write_text(json.dumps(meta))
    results = recover_and_grade(root=root, db=None, transcriber=WordsTranscriber())
    assert [Path(r.session).name for r in results] == ["s1"] and results[0].error is None
    assert (d / "report.json").is_file()


@pytest.mark.slow
def test_sigterm_during_a_call_closes_the_session(tmp_path):
    env = {**os.environ, "VOICETRAINER_DATA": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    out = tmp_path / "call"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicetrainer", "practice", "--simulate", str(REPO / "audio_fixtures" / "demo_trainee.wav"),
         "--out", str(out), "--no-history", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the call is being recorded
            meta = read_manifest(out) if out.exists() else None
            if meta and meta.get("status") == "recording" and (out / "call.wav").stat().st_size > RATE * 4 * 12:  # 12 s: the trainee has answered
                break
            time.sleep(0.2)
        else:
            pytest.fail("the call did not start recording")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    meta = read_manifest(out)
    assert meta["status"] in ("complete", "aborted"), meta["status"]
    assert (out / "report.json").is_file()


def test_a_disk_full_before_the_trainee_spoke_is_what_the_call_reports(tmp_path, monkeypatch, transcriber):
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.practice import simulate

    out = tmp_path / "session"
    real_open = open

    def opener(path, mode="r", *a, **kw):  # room for 1 s: the caller is still talking
        f = real_open(path, mode, *a, **kw)
        return FullDisk(f, room=RATE * 4) if str(path).endswith("call.wav") and "w" in mode else f

    monkeypatch.setattr(recorder_mod, "open", opener, raising=False)
    with pytest.raises(StorageError) as e:
        simulate("billing-double-charge", REPO / "audio_fixtures" / "demo_trainee.wav", out, realtime=False,
                 transcriber=transcriber, tts_backend=FakeTTS(), db=None, html=False)
    assert str(out / "call.wav") in str(e.value) and "disk is full" in str(e.value)
    assert read_manifest(out)["status"] == "aborted"


def test_recover_cli_out_grades_a_copy(tmp_path, transcriber, no_history, capsys):
    from voicetrainer.cli import main

    d = tmp_path / "sessions" / "s1"
    with SessionRecorder(d, meta={"persona": "p", "trainee": "ana"}) as rec:
        rec.write(_tone(8.0))
    before = sorted(p.name for p in d.iterdir())
    assert main(["recover", str(d), "--out", str(tmp_path / "elsewhere"), "--no-history"]) == 0
    assert (tmp_path / "elsewhere" / "s1" / "report.json").is_file()
    assert sorted(p.name for p in d.iterdir()) == before  # nothing written next to the original
    assert str(tmp_path / "elsewhere" / "s1") in capsys.readouterr().err
