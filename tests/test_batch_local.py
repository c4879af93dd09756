"""Local batches (#17 items 7 and 10): one report folder per input however the inputs are named,
batches far longer than a worker's life finish, a killed worker's file is graded elsewhere, and
Ctrl-C stops the whole batch and keeps what is done."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voicetrainer.config import Settings
from voicetrainer.session.batch import GradeTask, report_dirs

REPO = Path(__file__).resolve().parents[1]


def _tiny_call(path: Path, signals, wav_writer, *, seconds: float, f0: float = 140.0, subtype="PCM_16") -> Path:
    """A short mono trainee recording: speech-like sound of `seconds`, in a little noise."""
    y = signals.noise(seconds + 1.0, dbfs=-65)
    signals.place(y, signals.voice(seconds, f0_hz=f0), 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".flac":
        import soundfile as sf

        sf.write(str(path), y, 16000, format="FLAC")
        return path
    return wav_writer(path, y, subtype=subtype)


def test_report_dirs_are_distinct_for_inputs_named_alike(tmp_path):
    for f in ("d1/call.wav", "d2/call.wav", "d1/call.flac", "d1/other.wav", "d1/summary.csv.wav"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).touch()
    ins = [tmp_path / f for f in ("d1/call.wav", "d2/call.wav", "d1/call.flac", "d1/other.wav", "d1/other.wav",
                                  "d1/summary.csv.wav")]
    dirs = report_dirs(ins, tmp_path / "out")
    assert len({d.name.lower() for d in dirs}) == len(dirs)
    assert dirs[3].name == "other" and dirs[2].name == "call.flac"
    assert "d1" in dirs[0].name and "d2" in dirs[1].name
    assert all(d.parent == tmp_path / "out" and d.name not in ("summary.csv", "index.html") for d in dirs)
    assert dirs == report_dirs(ins, tmp_path / "out")  # deterministic


def test_same_stem_inputs_keep_their_own_reports_summary_rows_and_history(tmp_path, signals, wav_writer,
                                                                          transcriber, monkeypatch):
    """d1/call.wav, d2/call.wav and d1/call.flac: three reports, each row points at its own."""
    from voicetrainer.cli import main

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    ins = {tmp_path / "d1" / "call.wav": 2.0, tmp_path / "d2" / "call.wav": 3.0, tmp_path / "d1" / "call.flac": 4.5}
    for p, secs in ins.items():
        _tiny_call(p, signals, wav_writer, seconds=secs)
    out, db = tmp_path / "out", tmp_path / "h.sqlite"
    code = main(["grade", "-q", *map(str, ins), "--out", str(out), "--db", str(db), "--jobs", "1"])
    assert code == 0
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["input"] for r in rows] == list(map(str, ins))  # input order, every input once
    reports = set()
    for r in rows:
        rep = json.loads((out / r["report"]).read_text())
        assert rep["source"]["input"] == r["input"]  # the row's report is that input's
        assert rep["duration_s"] == pytest.approx(ins[Path(r["input"])] + 1.0, abs=0.05)
        reports.add(r["report"])
    assert len(reports) == 3
    with sqlite3.connect(db) as con:
        folders = [row[0] for row in con.execute("SELECT folder FROM sessions")]
    assert len(set(folders)) == 3


def test_batch_longer_than_every_workers_life_finishes(tmp_path, signals, wav_writer):
    """45 files on 2 workers replaced every 20 files (the old pool hung at 2 x 20 = 40), and a
    worker killed in the middle of a file: every file is graded, the killed one elsewhere."""
    from voicetrainer.session.workers import run_pool

    files = [_tiny_call(tmp_path / f"c{i:02d}.wav", signals, wav_writer, seconds=0.6) for i in range(45)]
    tasks = [GradeTask(str(f), str(tmp_path / "out" / f.stem), html=False, db=None) for f in files]
    killed = {}

    def on_progress(p):
        if p.stage == "started" and p.index == 5 and not killed:
            killed["pid"] = int(p.worker.rsplit("-", 1)[1])
            os.kill(killed["pid"], signal.SIGKILL)

    t0 = time.monotonic()
    results = list(run_pool(tasks, Settings(), jobs=2, progress=on_progress, recycle_after=20))
    assert time.monotonic() - t0 < 240
    assert killed, "the test never saw file 5 start"
    assert sorted(r.index for r in results) == list(range(45))
    bad = [r for r in results if r.error and "no trainee speech" not in r.error]
    assert not bad, bad[:3]
    assert results and all(Path(r.report_path).is_file() for r in results if not r.error)
    assert Path(tasks[5].out_dir, "report.json").is_file()


def test_a_file_that_kills_its_worker_twice_is_an_error_and_the_rest_go_on(tmp_path, signals, wav_writer):
    from voicetrainer.session.workers import run_pool

    files = [_tiny_call(tmp_path / f"c{i}.wav", signals, wav_writer, seconds=0.6) for i in range(4)]
    tasks = [GradeTask(str(f), str(tmp_path / "out" / f.stem), html=False, db=None) for f in files]
    kills = []

    def on_progress(p):
        if p.stage == "started" and p.index == 1:
            kills.append(int(p.worker.rsplit("-", 1)[1]))
            os.kill(kills[-1], signal.SIGKILL)

    results = {r.index: r for r in run_pool(tasks, Settings(), jobs=2, progress=on_progress)}
    assert len(kills) == 2 and sorted(results) == [0, 1, 2, 3]
    assert "died 2 times" in results[1].error and results[1].exit_code == 1
    assert all(results[i].report_path for i in (0, 2, 3))


def test_ctrl_c_stops_the_whole_batch_and_keeps_what_is_done(tmp_path, signals, wav_writer):
    """`grade --jobs 2` on 40 files, Ctrl-C (SIGINT to the terminal's process group) once a few
    reports exist: exit 130 within seconds, no process left, summary with what was done."""
    psutil = pytest.importorskip("psutil")
    files = [_tiny_call(tmp_path / "in" / f"c{i:02d}.wav", signals, wav_writer, seconds=1.5) for i in range(40)]
    out = tmp_path / "out"
    env = {**os.environ, "VOICETRAINER_DATA": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "voicetrainer", "grade", "-q", *map(str, files), "--out", str(out),
                             "--no-history", "--no-html", "--jobs", "2"],
                            env=env, cwd=tmp_path, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while len(list(out.glob("*/report.json"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 15
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    time.sleep(0.5)
    left = [p for p in psutil.process_iter(["pid", "status"])
            if _sid(p.pid) == proc.pid and p.info["status"] != psutil.STATUS_ZOMBIE]  # exited, not yet reaped
    assert not left, left
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) >= 3 and any(r["status"] == "not graded" for r in rows)
    assert all((out / r["report"]).is_file() for r in ok)


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def test_web_batch_of_call_wav_and_call_flac_keeps_both_reports(tmp_path, signals, wav_writer, transcriber,
                                                               monkeypatch):
    """The web app's batch (one folder): call.wav and call.flac get a report folder each."""
    from voicetrainer.web.jobs import BatchJob

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    folder = tmp_path / "recordings"
    _tiny_call(folder / "call.wav", signals, wav_writer, seconds=2.0)
    _tiny_call(folder / "call.flac", signals, wav_writer, seconds=3.5)
    job = BatchJob(folder=folder, out_dir=tmp_path / "batch", settings=Settings())
    job.start().thread.join(timeout=120)
    snap = job.snapshot()
    assert snap["state"] == "done" and snap["done"] == 2
    hrefs = {it["name"]: it["href"] for it in snap["items"]}
    assert all(hrefs.values()) and len(set(hrefs.values())) == 2
    for name, href in hrefs.items():
        rep = json.loads((tmp_path / "batch" / Path(href).parent / "report.json").read_text())
        assert Path(rep["source"]["input"]).name == name
