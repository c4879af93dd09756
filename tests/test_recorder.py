"""Durable session recording: what is on disk after a clean close, an exception, and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.audio.recorder import (
    SessionRecorder, find_interrupted, recover_session, repair_wav, writer_alive,
)
from voicetrainer.session.recover import recover_on_start

RATE = 16000
REPO = Path(__file__).resolve().parents[1]


def signal_block(start: int, n: int) -> np.ndarray:
    """Known two-channel content: 440 Hz on the caller channel, 220 Hz on the trainee channel."""
    t = (start + np.arange(n)) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 220 * t)], axis=1).astype(np.float32)


def test_clean_close_keeps_samples_events_and_manifest(tmp_path):
    d = tmp_path / "s"
    with SessionRecorder(d, meta={"persona": "angry_refund", "trainee": "ana"}) as rec:
        for i in range(50):
            rec.write(signal_block(i * 320, 320))
        rec.event({"type": "caller_line", "start_s": 0.1, "end_s": 0.9, "text": "Where is my refund?"})
        assert rec.duration_s == pytest.approx(1.0)
    meta = json.loads((d / "session.json").read_text())
    assert meta["status"] == "complete" and meta["persona"] == "angry_refund"
    assert meta["duration_s"] == 1.0 and "writer" not in meta
    audio, rate = sf.read(d / "call.wav", dtype="float32")
    assert rate == RATE and audio.shape == (16000, 2)
    assert np.max(np.abs(audio - signal_block(0, 16000))) < 1e-4  # 16-bit quantisation only
    events = [json.loads(x) for x in (d / "events.jsonl").read_text().splitlines()]
    assert events == [{"type": "caller_line", "start_s": 0.1, "end_s": 0.9, "text": "Where is my refund?"}]
    assert not recover_session(d)  # nothing to repair after a clean close


def test_exception_inside_with_saves_and_marks_aborted(tmp_path):
    from voicetrainer.errors import DeviceError

    d = tmp_path / "s"
    with pytest.raises(DeviceError):
        with SessionRecorder(d, meta={}) as rec:
            rec.write(signal_block(0, 8000))
            raise DeviceError("the microphone stopped delivering audio for 2.1 s (headset unplugged?); "
                              "the session so far has been saved")
    meta = json.loads((d / "session.json").read_text())
    assert meta["status"] == "aborted"
    assert "headset unplugged" in meta["error"]
    assert sf.info(d / "call.wav").frames == 8000


def test_write_rejects_wrong_shape(tmp_path):
    with SessionRecorder(tmp_path / "s", meta={}) as rec:
        with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
            rec.write(np.zeros(320, np.float32))


def test_header_is_current_while_recording(tmp_path):
    """A reader during the session (or after a crash) sees all audio up to the last flush."""
    now = [0.0]
    rec = SessionRecorder(tmp_path / "s", meta={}, clock=lambda: now[0])
    for i in range(100):  # 2 s of audio, clock advancing 20 ms per block
        rec.write(signal_block(i * 320, 320))
        now[0] += 0.02
    frames_on_disk = sf.info(tmp_path / "s" / "call.wav").frames
    assert 32000 - frames_on_disk <= 0.5 * RATE + 320
    rec.close()


def test_recover_repairs_stale_header_and_torn_event_line(tmp_path):
    d = tmp_path / "s"
    rec = SessionRecorder(d, meta={"persona": "p"})
    rec.write(signal_block(0, 16000))
    rec.event({"type": "caller_line", "start_s": 0.0, "end_s": 0.5, "text": "hello"})
    rec.flush()
    # what a crash leaves: more samples than the header says, half a sample frame, half a line
    with open(d / "call.wav", "ab") as f:
        f.write((signal_block(16000, 8000) * 32767).astype("<i2").tobytes() + b"\x01")
    with open(d / "events.jsonl", "a") as f:
        f.write('{"type": "caller_li')
    assert d not in find_interrupted(tmp_path)
    assert recover_session(d)
    meta = json.loads((d / "session.json").read_text())
    assert meta["status"] == "recovered" and meta["recovered_from"] == "recording"
    assert meta["duration_s"] == 1.5 and meta["recovery"]["event_lines_dropped"] == 1
    audio, _ = sf.read(d / "call.wav", dtype="float32")
    assert audio.shape == (24000, 2)
    assert np.max(np.abs(audio - signal_block(0, 24000))) < 1e-4
    assert [json.loads(x)["text"] for x in (d / "events.jsonl").read_text().splitlines()] == ["hello"]
    assert not repair_wav(d / "call.wav")  # idempotent


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_find_interrupted_needs_a_dead_writer(tmp_path):
    live = SessionRecorder(tmp_path / "live", meta={})
    live.write(signal_block(0, 1600))
    live.flush()
    dead = SessionRecorder(tmp_path / "dead", meta={})
    dead.write(signal_block(0, 1600))
    dead.flush()
    meta = json.loads((tmp_path / "dead" / "session.json").read_text())
    meta["writer"]["pid"] = _dead_pid()
    (tmp_path / "dead" / "session.json").write_text(json.dumps(meta))
    assert writer_alive(json.loads((tmp_path / "live" / "session.json").read_text()))
    with SessionRecorder(tmp_path / "done", meta={}) as rec:
        rec.write(signal_block(0, 1600))
    (tmp_path / "not-a-session").mkdir()
    assert find_interrupted(tmp_path) == [tmp_path / "dead"]
    assert recover_on_start(tmp_path) == [tmp_path / "dead"]
    assert json.loads((tmp_path / "dead" / "session.json").read_text())["status"] == "recovered"
    assert find_interrupted(tmp_path) == []
    live.close()
    dead.close()


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_recorder import signal_block
    from voicetrainer.audio.recorder import SessionRecorder
    rec = SessionRecorder({session!r}, meta={{"persona": "kill-test"}})
    n = 0
    while True:                      # real-time pace: 20 ms blocks
        rec.write(signal_block(n, 320))
        n += 320
        print(n, flush=True)
        time.sleep(0.02)
""")


def test_kill_9_then_recover_keeps_all_but_the_last_second(tmp_path):
    session = tmp_path / "sessions" / "s1"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent), session=str(session))],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    written = 0
    deadline = time.monotonic() + 30
    while written < 2.5 * RATE and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        written = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert written >= 2.5 * RATE, "child did not record"
    meta = json.loads((session / "session.json").read_text())
    assert meta["status"] == "recording"

    out = subprocess.run(
        [sys.executable, "-m", "voicetrainer", "recover", "--root", str(tmp_path / "sessions"), "--no-grade"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "s1: repaired" in out.stderr
    meta = json.loads((session / "session.json").read_text())
    assert meta["status"] == "recovered" and meta["persona"] == "kill-test"
    audio, rate = sf.read(session / "call.wav", dtype="float32")
    assert rate == RATE
    assert written - RATE <= len(audio) <= written + 320 * 5
    assert np.max(np.abs(audio - signal_block(0, len(audio)))) < 1e-4  # every kept sample intact
    # a second run finds nothing left to do
    again = subprocess.run(
        [sys.executable, "-m", "voicetrainer", "recover", "--root", str(tmp_path / "sessions"), "--no-grade"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert again.returncode == 0 and "nothing to recover" in again.stderr


def test_a_slow_disk_never_stalls_write(tmp_path, monkeypatch):
    """fsync can take seconds on a busy disk; it runs on the recorder's own thread."""
    real_fsync = os.fsync

    def slow_fsync(fd):
        time.sleep(0.5)
        real_fsync(fd)

    now = [0.0]
    rec = SessionRecorder(tmp_path / "s", meta={}, clock=lambda: now[0])
    monkeypatch.setattr(os, "fsync", slow_fsync)
    worst = 0.0
    for i in range(150):  # 3 s of audio, a flush every 0.5 s of the injected clock
        t0 = time.monotonic()
        rec.write(signal_block(i * 320, 320))
        worst = max(worst, time.monotonic() - t0)
        now[0] += 0.02
    assert worst < 0.1, worst
    rec.close()
    assert rec.max_fsync_s >= 0.5
    assert sf.info(tmp_path / "s" / "call.wav").frames == 150 * 320


def test_header_promising_more_than_the_disk_kept_is_cut_back(tmp_path):
    """After a power cut the header may have reached the disk and the last samples not."""
    from voicetrainer.errors import AudioInputError
    from voicetrainer.session.grader import resolve_input

    d = tmp_path / "s"
    rec = SessionRecorder(d, meta={})
    rec.write(signal_block(0, 16000))
    rec.flush()
    os.truncate(d / "call.wav", 44 + 12000 * 4 + 3)  # 12000 frames and a torn one survive
    with pytest.raises(AudioInputError, match="truncated.*voicetrainer recover"):
        resolve_input(d)
    assert recover_session(d)
    audio, _ = sf.read(d / "call.wav", dtype="float32")
    assert audio.shape == (12000, 2) and np.max(np.abs(audio - signal_block(0, 12000))) < 1e-4
    assert resolve_input(d).info.frames == 12000
    rec._audio.close()
    rec._events.close()
