"""`grade --scheduler`: a batch on a Dask cluster (a scheduler and two worker processes on
loopback, started here) writes the same reports, summary and history as a local batch, and
survives a worker killed in the middle of a file."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from dask_cluster import LoopbackCluster  # noqa: E402

from voicetrainer.config import Settings  # noqa: E402
from voicetrainer.session.batch import GradeTask, grade_many  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LoopbackCluster(tmp_path_factory.mktemp("dask"), workers=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def calls(shared_audio, evaluation, tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("calls")
    audio, _ = evaluation.build_call(shared_audio, gap_s=0.8, overlap_s=1.0)
    two = evaluation.write_wav(d / "call.wav", audio)
    (d / "b").mkdir()
    same_stem = d / "b" / "call.wav"
    same_stem.write_bytes((shared_audio / "speech" / "librivox_0930.wav").read_bytes())
    return [two, same_stem, shared_audio / "speech" / "librivox_0870.wav", shared_audio / "speech" / "jfk.wav"]


def _grade(args: list[str], monkeypatch, data: Path) -> int:
    from voicetrainer.cli import main

    monkeypatch.setenv("VOICETRAINER_DATA", str(data))
    return main(["grade", "-q", *args])


def _reports(out: Path) -> dict[str, dict]:
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {r["input"]: {"row": r, "report": json.loads((out / r["report"]).read_text())} for r in rows}


@pytest.mark.parametrize("send_audio", [False, True], ids=["shared-path-flag", "bytes-config-file"])
def test_cluster_batch_writes_what_a_local_batch_writes(cluster, calls, tmp_path, monkeypatch, transcriber, send_audio):
    files = list(map(str, calls))
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert _grade([*files, "--out", str(local), "--db", str(tmp_path / "l.sqlite"), "--jobs", "1"], monkeypatch,
                  tmp_path / "d1") == 0
    if send_audio:  # the cluster from the config file's [grade] table
        cfg = tmp_path / "config.toml"
        cfg.write_text(f'[grade]\nscheduler = "{cluster.address}"\nsend_audio = true\n')
        where = ["--config", str(cfg)]
    else:
        where = ["--scheduler", cluster.address, "--no-send-audio"]
    assert _grade([*files, "--out", str(remote), "--db", str(tmp_path / "r.sqlite"), *where], monkeypatch,
                  tmp_path / "d2") == 0
    a, b = _reports(local), _reports(remote)
    assert list(a) == list(b) == files
    for f in files:
        assert a[f]["row"] == b[f]["row"]  # summary.csv: same figures, same relative report folder
        assert a[f]["report"] == b[f]["report"], f
    assert (remote / "index.html").is_file()
    for db in ("l", "r"):
        with sqlite3.connect(tmp_path / f"{db}.sqlite") as con:
            assert con.execute("SELECT count(DISTINCT folder) FROM sessions").fetchone()[0] == len(files)


def test_cluster_batch_survives_a_worker_killed_mid_file(tmp_path, signals, wav_writer):
    cluster = LoopbackCluster(tmp_path / "dask", workers=2)
    try:
        files = []
        for i in range(6):
            y = signals.noise(5.0, dbfs=-65)
            signals.place(y, signals.voice(3.5, f0_hz=120 + 10 * i), 0.5)
            files.append(wav_writer(tmp_path / f"c{i}.wav", y))
        tasks = [GradeTask(str(f), str(tmp_path / "out" / f.stem), html=False, db=None) for f in files]
        killed = []

        def on_progress(p):
            if p.stage == "started" and not killed:
                killed.append(p.worker)
                cluster.kill(p.worker)

        results = list(grade_many(tasks, Settings(), scheduler=cluster.address, progress=on_progress))
        assert killed
        assert sorted(r.index for r in results) == list(range(6))
        assert all(r.error is None and Path(r.report_path).is_file() for r in results), [r.error for r in results]
    finally:
        cluster.close()
