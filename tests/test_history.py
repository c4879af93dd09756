"""History database: insert, query, re-grade, migrate, CSV, CLI, and two writer processes."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from report_builder import make_report
from voicetrainer.errors import ConfigError
from voicetrainer.report import history
from voicetrainer.report.history import SCHEMA_VERSION, HistoryDB, write_csv
from voicetrainer.report.schema import SKILLS, Skill

ROOT = Path(__file__).resolve().parents[1]


def _report(overall: float, shift: float = 0.0):
    r = make_report()
    for k, s in enumerate(SKILLS):
        r.skills[s] = Skill(score=min(100.0, 40.0 + 5 * k + shift))
    r.overall = overall
    return r


def test_add_and_query_with_filters(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.version == SCHEMA_VERSION
        a = db.add(_report(60), trainee="Alex", persona="angry_refund", folder=tmp_path / "s1", date="2026-11-01T10:00:00")
        b = db.add(_report(70, 10), trainee="alex", persona="late_parcel", folder=tmp_path / "s2", date="2026-11-03T10:00:00")
        c = db.add(_report(50), trainee="Sam", persona="angry_refund", folder=None, date="2026-11-02T09:00:00")
        assert len({a, b, c}) == 3
        everything = db.sessions()
        assert [r.id for r in everything] == [a, c, b]  # oldest first
        alex = db.sessions(trainee="ALEX")  # case-insensitive
        assert [r.overall for r in alex] == [60, 70]
        assert alex[1].scores["empathy"] == 50.0 and set(alex[1].scores) == set(SKILLS)
        assert alex[0].metrics["trainee_wpm"] == 142.0 and alex[0].metrics["calm_score"] == 72.0
        assert alex[0].folder == str((tmp_path / "s1").resolve())
        refund = db.sessions(persona="angry_refund")
        assert {r.trainee for r in refund} == {"Alex", "Sam"}
        assert [r.id for r in db.sessions(trainee="alex", persona="late_parcel")] == [b]
        assert [r.id for r in db.sessions(since="2026-11-02")] == [c, b]
        assert [r.id for r in db.sessions(limit=1)] == [b]  # newest
        assert db.trainees() == ["Alex", "Sam", "alex"]


def test_regrading_a_folder_replaces_its_row(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite") as db:
        first = db.add(_report(40), trainee="a", persona="p", folder=tmp_path / "s", date="2026-11-01T10:00")
        again = db.add(_report(90, 30), trainee="a", persona="p", folder=tmp_path / "s", date="2026-11-01T10:00",
                       rubric="strict.yaml")  # fmt: skip
        assert first == again and db.count() == 1
        (rec,) = db.sessions()
        assert rec.overall == 90 and rec.scores["empathy"] == 70.0 and rec.rubric == "strict.yaml"


def test_none_and_nan_scores_are_stored_as_missing(tmp_path):
    r = _report(60)
    r.skills["calm"] = Skill(score=None)
    r.overall = float("nan")
    r.metrics["trainee_wpm"] = float("inf")
    with HistoryDB(tmp_path / "h.sqlite") as db:
        db.add(r, trainee=None, persona=None, folder=None)
        (rec,) = db.sessions()
    assert rec.scores["calm"] is None and rec.overall is None and rec.metrics["trainee_wpm"] is None
    assert rec.date  # defaulted to now


def test_migrates_a_version_1_database(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    history._migrate_1(con.cursor())
    for overall in (30, 60):  # version 1 allowed the same folder twice
        sid = con.execute(
            "INSERT INTO sessions(trainee, persona, date, folder, overall) VALUES ('a', 'p', '2026-10-01T00:00:00', '/x/s1', ?)",
            (overall,),
        ).lastrowid
        con.execute("INSERT INTO skill_scores VALUES (?, 'empathy', ?)", (sid, overall))
    con.execute("INSERT INTO sessions(trainee, date, folder, overall) VALUES ('b', '2026-10-02T00:00:00', '/x/s2', 80)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()

    with HistoryDB(path) as db:
        assert db.version == SCHEMA_VERSION >= 2
        recs = db.sessions()
        assert [(r.folder, r.overall) for r in recs] == [("/x/s1", 60), ("/x/s2", 80)]  # newest duplicate kept
        assert recs[0].scores == {"empathy": 60} and recs[0].rubric is None
        assert db.integrity_ok()
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM skill_scores").fetchone()[0] == 1  # orphan scores gone
    with pytest.raises(sqlite3.IntegrityError):  # folder is unique from version 2 on
        con.execute("INSERT INTO sessions(date, folder) VALUES ('2026-10-03', '/x/s1')")
    con.close()


def test_newer_schema_or_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "new.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.close()
    with pytest.raises(ConfigError, match="newer") as ei:
        HistoryDB(path)
    assert str(path) in str(ei.value)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConfigError, match="not a voicetrainer history database"):
        HistoryDB(junk)


def test_default_path_is_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    assert history.default_db_path() == tmp_path / "data" / "history.sqlite"
    with HistoryDB() as db:
        db.add(_report(55), trainee="t", persona="p", folder=None)
    assert (tmp_path / "data" / "history.sqlite").exists()


def test_csv_export(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite") as db:
        db.add(_report(61.5), trainee="Alex", persona="angry_refund", folder=tmp_path / "s1", date="2026-11-01T10:00:00")
        recs = db.sessions()
    buf = io.StringIO()
    write_csv(recs, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == 1
    row = rows[0]
    assert row["trainee"] == "Alex" and float(row["overall"]) == 61.5
    assert all(row[s] != "" for s in SKILLS) and float(row["courtesy"]) == 70.0
    assert float(row["interruptions_by_trainee"]) == 1 and row["rubric"] == ""


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from report_builder import make_report
    from voicetrainer.report.history import HistoryDB
    db_path, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():          # start both writers at the same moment
        time.sleep(0.002)
    db = HistoryDB(db_path)          # both also create + migrate the fresh database at once
    r = make_report()
    for k in range(n):
        r.overall = float(k)
        db.add(r, trainee=name, persona="p", folder=f"/sessions/{{name}}/{{k}}", date=f"2026-11-01T10:{{k % 60:02d}}:00")
    db.close()
    print("done", name)
    """
)


def test_two_processes_writing_at_once(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(ROOT / "tests")))
    db_path = tmp_path / "shared.sqlite"
    go = tmp_path / "go"
    n = 60
    procs = [
        subprocess.Popen([sys.executable, str(script), str(db_path), name, str(n), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        for name in ("alice", "bob")
    ]
    time.sleep(0.8)  # let both interpreters import and wait at the gate
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.startswith("done")
    with HistoryDB(db_path) as db:
        assert db.integrity_ok()
        assert db.version == SCHEMA_VERSION
        assert db.count() == 2 * n
        for name in ("alice", "bob"):
            recs = db.sessions(trainee=name)
            assert len(recs) == n
            assert sorted(r.overall for r in recs) == [float(k) for k in range(n)]
            assert all(len(r.scores) == len(SKILLS) for r in recs)
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_cli_history_table_csv_and_plot(tmp_path, capsys):
    from voicetrainer.cli import main

    db_path = tmp_path / "h.sqlite"
    with HistoryDB(db_path) as db:
        for day, (who, overall) in enumerate([("Alex", 50), ("Sam", 90), ("Alex", 62), ("Alex", 71)]):
            db.add(_report(overall, 3 * day), trainee=who, persona="angry_refund",
                   folder=tmp_path / f"s{day}", date=f"2026-11-0{day + 1}T09:30:00")  # fmt: skip
    out_csv, png = tmp_path / "out.csv", tmp_path / "trend.png"
    rc = main(["history", "--db", str(db_path), "--trainee", "alex", "--csv", str(out_csv), "--plot", str(png)])
    assert rc == 0
    shown = capsys.readouterr().out
    assert "Sessions — trainee alex (3)" in shown and "11-04 09:30" in shown and "Sam" not in shown
    rows = list(csv.DictReader(out_csv.open()))
    assert [float(r["overall"]) for r in rows] == [50, 62, 71]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    rc = main(["history", "--db", str(db_path), "--no-plot", "--persona", "nobody"])
    assert rc == 0 and "No sessions recorded" in capsys.readouterr().out

    rc = main(["history", "--db", str(db_path), "--csv", "-"])
    assert rc == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 4
    assert not (tmp_path / "history-trend.png").exists()  # --csv - writes only CSV

    rc = main(["history", "--db", str(db_path)])  # default plot beside the database
    assert rc == 0 and (tmp_path / "history-trend.png").exists()


def test_cli_history_reads_without_creating_and_checks_flags(tmp_path, capsys, monkeypatch):
    from voicetrainer.cli import main

    missing = tmp_path / "none.sqlite"
    assert main(["history", "--db", str(missing)]) == 0
    assert "no history database" in capsys.readouterr().out and not missing.exists()
    assert main(["history", "--db", str(missing), "--since", "last week"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["history", "--db", str(missing), "--limit", "0"]) == 2
    # the config file's data_dir decides the default database
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "dd"}"\n')
    monkeypatch.delenv("VOICETRAINER_DATA", raising=False)
    with HistoryDB(tmp_path / "dd" / "history.sqlite") as db:
        db.add(_report(77), trainee="Kim", persona="p", folder=None, date="2026-11-05T08:00:00")
    assert main(["history", "--config", str(cfg), "--no-plot"]) == 0
    assert "Kim" in capsys.readouterr().out
