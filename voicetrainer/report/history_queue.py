"""Recording a session in the history when the database is busy: queue the row, add it later.

Another process may hold the history's write lock longer than `history.BUSY_TIMEOUT_S` (a
long batch, a backup tool, a hung process). The row is then appended to
``<database>.pending.jsonl`` beside the database (the report's own path, when it has one, and
the labels) and added the next time any command opens the database (`replay_pending`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import printable
from voicetrainer.report.history import BUSY_TIMEOUT_S, PENDING_SUFFIX, HistoryDB, is_busy
from voicetrainer.report.schema import Report

log = get_logger(__name__)


@dataclass(frozen=True)
class PendingRow:
    """One queued history row: the report (its file when it has one, else the report itself)."""

    report_path: str | None
    report: dict | None
    trainee: str | None
    persona: str | None
    folder: str | None
    date: str | None
    rubric: str | None


def record_session(db_path: Path, report: Report, *, trainee: str | None, persona: str | None,
                   folder: str | Path | None, date: datetime | str | None = None, rubric: str | None = None,
                   report_path: Path | None = None, timeout_s: float = BUSY_TIMEOUT_S) -> bool:
    """Add the session to the history; True when recorded, False when the database stayed locked
    for `timeout_s` and the row was queued (a warning says where). Other errors propagate."""
    try:
        with HistoryDB(db_path, timeout_s=timeout_s) as db:
            db.add(report, trainee=trainee, persona=persona, folder=folder, date=date, rubric=rubric)
        return True
    except Exception as e:
        if not is_busy(e):
            raise
    pending = Path(db_path).with_name(Path(db_path).name + PENDING_SUFFIX)
    row = PendingRow(
        report_path=printable(Path(report_path).resolve()) if report_path else None,
        report=None if report_path else report.to_dict(), trainee=trainee, persona=persona,
        folder=printable(Path(folder).resolve()) if folder is not None else None,
        date=date.isoformat() if isinstance(date, datetime) else date, rubric=rubric,
    )
    with open(pending, "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(row), allow_nan=False, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.warning("the history database %s stayed locked for %.0f s (another voicetrainer is writing?): this "
                "session is queued in %s and will be added the next time the history is opened",
                db_path, timeout_s, pending)
    return False


def replay_pending(db: HistoryDB, pending: Path) -> int:
    """Add every queued row to `db` and remove the queue; rows that cannot be read are kept in
    ``<queue>.failed`` and named in a warning. Returns the number of rows added."""
    claimed = pending.with_name(pending.name + f".{os.getpid()}")
    try:
        os.replace(pending, claimed)  # one process replays a queue, even if two open the db at once
    except OSError:
        return 0
    added, failed = 0, []
    lines = claimed.read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(lines):
        try:
            row = PendingRow(**json.loads(line))
            doc = json.loads(Path(row.report_path).read_text(encoding="utf-8")) if row.report_path else row.report
            db.add(Report.from_dict(doc), trainee=row.trainee, persona=row.persona, folder=row.folder,
                   date=row.date, rubric=row.rubric)
            added += 1
        except Exception as e:  # noqa: BLE001 - keep the line, say why, go on with the others
            if is_busy(e):  # locked again: the rest waits for the next open
                with open(pending, "a", encoding="utf-8") as f:
                    f.write("\n".join(lines[i:]) + "\n")
                break
            failed.append(line)
            log.warning("history: a queued session could not be added (%s); kept in %s.failed", e, pending)
    if failed:
        with open(pending.with_name(pending.name + ".failed"), "a", encoding="utf-8") as f:
            f.write("\n".join(failed) + "\n")
    claimed.unlink()
    log.info("history: %d queued session(s) added from %s", added, pending)
    return added
