"""Storage faults (issue #17, item 13): a damaged history database, folders that cannot be
written, a history database locked by another process. Clear message naming the path, exit 2,
nothing recorded lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from report_builder import make_report

from voicetrainer.cli import main
from voicetrainer.errors import ConfigError
from voicetrainer.report.history import HistoryDB, default_db_path

REPO = Path(__file__).resolve().parents[1]


def _damage(db: Path) -> None:
    """Fill the database with rows, then overwrite the inside of every page after the first two
    (the header stays intact, so SQLite opens it and fails only when it reads the rows)."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    for i in range(300):
        con.execute("INSERT INTO sessions(trainee, date) VALUES (?, ?)", (f"trainee-{i}" * 40, "2026-01-01"))
    con.commit()
    con.close()
    data = bytearray(db.read_bytes())
    for off in range(4096 * 2, len(data), 4096):
        data[off + 8: off + 200] = b"\xab" * 192
    db.write_bytes(bytes(data))


def test_a_damaged_history_database_is_named_with_what_to_do(no_history, capsys):
    db = default_db_path()
    with HistoryDB(db) as h:
        h.add(make_report(), trainee="alex", persona="p", folder=None)
    _damage(db)
    assert main(["history"]) == 2
    err = capsys.readouterr().err
    assert str(db) in err and "damaged" in err and "Rename it" in err and "internal error" not in err
    with pytest.raises(ConfigError, match="damaged"):
        with HistoryDB(db) as h:
            h.sessions()


def test_the_web_history_page_says_the_database_is_damaged(no_history):
    import threading
    import urllib.error
    import urllib.request

    from voicetrainer.web.server import WebApp, make_server

    db = default_db_path()
    with HistoryDB(db) as h:
        h.add(make_report(), trainee="alex", persona="p", folder=None)
    _damage(db)
    server = make_server(WebApp(personas_dir=REPO / "personas"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server.url + "history", timeout=10)
        body = e.value.read().decode()
        assert e.value.code == 400 and "damaged" in body and "history.sqlite" in body
    finally:
        server.shutdown()
        server.server_close()


def test_an_unwritable_data_folder_is_named(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VOICETRAINER_DATA", str(blocker / "data"))  # mkdir fails (ENOTDIR), even for root
    wav = REPO / "audio_fixtures" / "demo_trainee.wav"
    assert main(["practice", "--simulate", str(wav), "--no-history"]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "data") in err and "internal error" not in err
    with pytest.raises(ConfigError, match="--db FILE"):
        HistoryDB(blocker / "data" / "history.sqlite")


def test_a_read_only_history_database_is_named(no_history, monkeypatch, capsys):
    import voicetrainer.report.history as history

    db = default_db_path()
    with HistoryDB(db) as h:
        h.add(make_report(), trainee="alex", persona="p", folder=None)
    for extra in ("-wal", "-shm"):
        db.with_name(db.name + extra).unlink(missing_ok=True)
    real = sqlite3.connect
    # the file system refuses writes (a read-only mount; chmod does not stop root, who runs CI here)
    monkeypatch.setattr(history.sqlite3, "connect", lambda path, **kw: real(f"file:{path}?mode=ro", uri=True, **kw))
    report = make_report()
    with pytest.raises(ConfigError) as e:
        with HistoryDB(db) as h:
            h.add(report, trainee="alex", persona="p", folder=None)
    assert str(db) in str(e.value) and "--no-history" in str(e.value)
    monkeypatch.undo()
    with HistoryDB(db) as h:
        assert h.count() == 1  # nothing recorded was lost


def test_an_unwritable_out_folder_is_named_without_a_traceback(tmp_path, no_history, capsys, transcriber):
    import soundfile as sf

    data, rate = sf.read(REPO / "audio_fixtures" / "demo_trainee.wav", dtype="float32", frames=16000 * 4)
    wav = tmp_path / "call.wav"
    sf.write(wav, data, rate)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["grade", str(wav), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "out") in err and "cannot write the report" in err
    assert "Traceback" not in err and "internal error" not in err


def test_cli_names_the_path_of_any_failed_file_operation(monkeypatch, capsys):
    import errno

    from voicetrainer.cli import history as history_cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/voicetrainer/history-trend.png")

    monkeypatch.setattr(history_cli, "run", full)
    assert main(["history"]) == 2
    err = capsys.readouterr().err
    assert "/data/voicetrainer/history-trend.png" in err and "disk is full" in err


def test_a_locked_database_queues_the_row_and_adds_it_later(tmp_path, caplog):
    from voicetrainer.report.history_queue import record_session

    db = tmp_path / "history.sqlite"
    HistoryDB(db).close()
    folder = tmp_path / "session"
    folder.mkdir()
    report_path = folder / "report.json"
    import json

    report = make_report()
    report_path.write_text(json.dumps(report.to_dict()))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    try:
        assert record_session(db, report, trainee="alex", persona="p", folder=folder, report_path=report_path,
                              timeout_s=0.3) is False
        assert record_session(db, report, trainee="sam", persona="p", folder=None, timeout_s=0.3) is False
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    pending = db.with_name(db.name + ".pending.jsonl")
    assert pending.exists() and "queued" in caplog.text and str(pending) in caplog.text
    with HistoryDB(db) as h:  # the next open adds both
        rows = h.sessions()
    assert sorted(r.trainee for r in rows) == ["alex", "sam"] and not pending.exists()
    assert next(r for r in rows if r.trainee == "alex").folder == str(folder.resolve())
