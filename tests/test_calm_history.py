"""Drill results go to the same history database as sessions, and `voicetrainer history` shows them."""

from __future__ import annotations

import sqlite3

import pytest

from voicetrainer.calm.drill import DrillResult, DrillRound
from voicetrainer.report import history
from voicetrainer.report.history import SCHEMA_VERSION, HistoryDB


def _result(scores, levels, trainee="ana", date="2026-11-20T10:00:00+00:00") -> DrillResult:
    rounds = [
        DrillRound(i, f"line {i}", "complaint", lvl, 1.0 + 10 * i, 4.0 + 10 * i, 5.0 + 10 * i, 8.0 + 10 * i,
                   score=s, feedback="x", level_after=lvl)
        for i, (s, lvl) in enumerate(zip(scores, levels))
    ]
    return DrillResult("billing-double-charge", trainee, date, "first answer", levels[0], rounds)


def test_drills_round_trip(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.version == SCHEMA_VERSION == 4
        a = db.add_drill(_result([None, 92.0, 48.5, 97.0], [1, 1, 2, 1]))
        db.add_drill(_result([80.0], [2], trainee="bo", date="2026-11-21T10:00:00+00:00"))
        (rec,) = db.drills(trainee="ANA")
        assert rec.id == a and rec.rounds == 3 and rec.mean_score == pytest.approx(79.2)
        assert rec.min_score == 48.5 and (rec.start_level, rec.max_level) == (1, 2)
        assert rec.baseline_source == "first answer"
        assert [r["score"] for r in rec.result["rounds"]] == [None, 92.0, 48.5, 97.0]
        assert [d.trainee for d in db.drills()] == ["ana", "bo"]
        assert [d.trainee for d in db.drills(since="2026-11-21")] == ["bo"]
        assert db.count() == 0  # drills are not sessions


def test_version_2_database_gains_the_drills_table(tmp_path):
    path = tmp_path / "v2.sqlite"
    con = sqlite3.connect(path)
    history._migrate_1(con.cursor())
    history._migrate_2(con.cursor())
    con.execute("INSERT INTO sessions(trainee, date, folder, overall) VALUES ('a', '2026-10-02T00:00:00', '/x/s', 70)")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    with HistoryDB(path) as db:
        assert db.version == SCHEMA_VERSION
        assert [s.overall for s in db.sessions()] == [70]
        assert db.drills() == []
        db.add_drill(_result([90.0], [1]))
        assert len(db.drills()) == 1 and db.integrity_ok()


def test_history_command_shows_drills(tmp_path, capsys, monkeypatch):
    from voicetrainer.cli import main

    monkeypatch.setenv("COLUMNS", "100")
    db = tmp_path / "h.sqlite"
    with HistoryDB(db) as h:
        h.add_drill(_result([None, 92.0, 48.5, 97.0], [1, 1, 3, 1]))
    assert main(["history", "--db", str(db), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "Calm drills (1)" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("2026-11-20"))
    assert row.split()[-5:] == ["3", "79", "48", "furious", "upset"]
