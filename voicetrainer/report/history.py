"""Session history in SQLite: one row per graded or practised session, its skill scores and key
metrics, for progress tables and trend plots.

Concurrency: the database runs in WAL mode with a busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction, so two processes (a batch grade and a practice session, say)
can write at once: one waits for the other instead of failing or corrupting the file.

Schema versions: ``PRAGMA user_version`` holds the version; `MIGRATIONS` lists the steps from
each version to the next. Opening an older database upgrades it in place (inside one
transaction, so a concurrent opener sees either the old or the new schema, never half).
Version history:
  1. ``sessions`` (trainee, persona, date, folder, overall, key metrics) and ``skill_scores``.
  2. ``rubric`` column; one row per session folder (re-grading replaces the scores);
     indexes for the trainee/persona filters.
  3. ``drills``: calm-voice drill results (``voicetrainer calm drill``), one row per drill.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicetrainer import get_logger
from voicetrainer.errors import ConfigError
from voicetrainer.report.history_csv import CSV_COLUMNS, METRIC_COLUMNS, trend_rows, write_csv  # noqa: F401  (re-exported)
from voicetrainer.report.history_migrations import MIGRATIONS, SCHEMA_VERSION, _migrate_1, _migrate_2, _migrate_3  # noqa: F401  (re-exported)
from voicetrainer.report.schema import Report, finite

if TYPE_CHECKING:  # pragma: no cover
    from voicetrainer.config import Settings

log = get_logger(__name__)

DB_FILENAME = "history.sqlite"
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction to finish


def default_db_path(settings: "Settings | None" = None) -> Path:
    """``<user data dir>/history.sqlite``: ``settings.data_dir`` if set, else
    ``$VOICETRAINER_DATA``, else the platformdirs user data folder."""
    from voicetrainer.config import user_data_dir

    return user_data_dir(settings) / DB_FILENAME


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored.

    Attributes:
        id: row id.
        trainee, persona: who practised, against which persona (None when unknown).
        date: ISO 8601 text.
        folder: the session folder, or None.
        overall: overall score 0-100, or None.
        duration_s: call length in seconds.
        metrics: the key metrics (`METRIC_COLUMNS`), None where the report had none.
        scores: {skill: score 0-100 or None}.
        rubric: name or path of the rubric used, if given.
    """

    id: int
    trainee: str | None
    persona: str | None
    date: str
    folder: str | None
    overall: float | None
    duration_s: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    scores: dict[str, float | None] = field(default_factory=dict)
    rubric: str | None = None


@dataclass(frozen=True)
class DrillRecord:
    """One calm-voice drill as stored.

    Attributes:
        id: row id.
        trainee, persona: who drilled, against which persona's lines.
        date: ISO 8601 text.
        rounds: scored answers.
        mean_score, min_score: calm scores 0-100 of the answers (None if none was scored).
        start_level, final_level, max_level: provocation harshness 0 (mild) .. 3 (furious).
        baseline_source: "stored baseline" or "first answer".
        result: the whole drill (`voicetrainer.calm.drill.DrillResult.to_dict`).
    """

    id: int
    trainee: str | None
    persona: str | None
    date: str
    rounds: int
    mean_score: float | None
    min_score: float | None
    start_level: int | None
    final_level: int | None
    max_level: int | None
    baseline_source: str | None
    result: dict[str, Any] = field(default_factory=dict)



def _iso(date: datetime | str | None) -> str:
    if date is None:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")
    if isinstance(date, datetime):
        return date.isoformat(timespec="seconds")
    try:
        return datetime.fromisoformat(str(date)).isoformat(timespec="seconds")
    except ValueError as e:
        raise ConfigError(f"not an ISO 8601 date: {date!r}", field="date") from e


def key_metrics(report: Report) -> dict[str, float | None]:
    """The `METRIC_COLUMNS` values of a report (None where missing)."""
    m = report.metrics or {}
    calm = m.get("calm") if isinstance(m.get("calm"), Mapping) else {}
    out = {k: finite(m.get(k)) for k in METRIC_COLUMNS if k != "calm_score"}
    out["calm_score"] = finite(calm.get("score"))
    return out


class HistoryDB:
    """The history database. Use as a context manager, or call `close()`.

    Args:
        path: the SQLite file; None = `default_db_path()`. Parent folders are created.
        timeout_s: how long to wait for another process's write before giving up.
    """

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = BUSY_TIMEOUT_S):
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open the history database ({e}); choose another with --db", path=self.path) from e
        self._con.row_factory = sqlite3.Row
        try:
            self._con.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self._con.execute("PRAGMA foreign_keys = ON")
            self._set_wal(timeout_s)
            self._migrate()
        except BaseException as e:
            self._con.close()
            if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
                raise ConfigError(
                    f"not a voicetrainer history database ({e}); choose another with --db", path=self.path
                ) from e
            raise

    # -- setup -------------------------------------------------------------------------------
    def _set_wal(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                mode = self._con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    log.warning("history database %s runs in %s mode, not WAL", self.path, mode)
                return
            except sqlite3.OperationalError as e:  # another process is switching it right now
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.version == SCHEMA_VERSION:
            return
        self._con.execute("BEGIN IMMEDIATE")
        try:
            version = self.version  # re-read under the write lock: another process may have migrated
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"history database schema version {version} is newer than this voicetrainer "
                    f"understands ({SCHEMA_VERSION}); upgrade voicetrainer or use another --db",
                    path=self.path,
                )
            cur = self._con.cursor()
            for step in range(version, SCHEMA_VERSION):
                log.info("history database %s: migrating schema %d -> %d", self.path, step, step + 1)
                MIGRATIONS[step](cur)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "HistoryDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def add(
        self,
        report: Report,
        *,
        trainee: str | None,
        persona: str | None,
        folder: str | Path | None,
        date: datetime | str | None = None,
        rubric: str | None = None,
    ) -> int:
        """Record one session; returns its row id.

        A session folder is recorded once: adding the same folder again (re-grading it, say
        with a new rubric) replaces that row's scores and metrics and keeps its id.

        Args:
            report: the graded report (skills, overall, metrics).
            trainee, persona: labels for filtering (None when unknown).
            folder: the session folder (stored absolute), or None for a loose file.
            date: when the call took place; datetime or ISO 8601; None = now (UTC).
            rubric: the rubric's name or path, for the record.
        """
        metrics = key_metrics(report)
        folder_s = str(Path(folder).resolve()) if folder is not None else None
        row = {
            "trainee": trainee,
            "persona": persona,
            "date": _iso(date),
            "folder": folder_s,
            "overall": finite(report.overall),
            "duration_s": finite(report.duration_s),
            **metrics,
            "metrics_json": json.dumps(_clean(report.metrics or {}), allow_nan=False),
            "rubric": rubric,
        }
        scores = [(skill, finite(sk.score)) for skill, sk in (report.skills or {}).items()]
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            sid = None
            if folder_s is not None:
                hit = con.execute("SELECT id FROM sessions WHERE folder = ?", (folder_s,)).fetchone()
                sid = hit[0] if hit else None
            cols = list(row)
            if sid is None:
                sql = f"INSERT INTO sessions({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                sid = con.execute(sql, [row[c] for c in cols]).lastrowid
            else:
                sql = f"UPDATE sessions SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
                con.execute(sql, [row[c] for c in cols] + [sid])
                con.execute("DELETE FROM skill_scores WHERE session_id = ?", (sid,))
            con.executemany(
                "INSERT INTO skill_scores(session_id, skill, score) VALUES (?, ?, ?)",
                [(sid, skill, score) for skill, score in scores],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        log.debug("history: session %s recorded (%s)", sid, folder_s)
        return int(sid)

    # -- reading -----------------------------------------------------------------------------
    def sessions(
        self,
        *,
        trainee: str | None = None,
        persona: str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[SessionRecord]:
        """Sessions oldest first, filtered by trainee / persona (exact, case-insensitive) and
        date (``since``, inclusive). ``limit`` keeps the newest N."""
        rows = self._select("sessions", trainee, persona, since, limit)
        scores: dict[int, dict[str, float | None]] = {r["id"]: {} for r in rows}
        if rows:
            ids = list(scores)
            for k in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
                chunk = ids[k : k + 500]
                q = f"SELECT session_id, skill, score FROM skill_scores WHERE session_id IN ({','.join('?' * len(chunk))})"
                for sid, skill, score in self._con.execute(q, chunk):
                    scores[sid][skill] = score
        return [
            SessionRecord(
                id=r["id"],
                trainee=r["trainee"],
                persona=r["persona"],
                date=r["date"],
                folder=r["folder"],
                overall=r["overall"],
                duration_s=r["duration_s"],
                metrics={k: r[k] for k in METRIC_COLUMNS},
                scores=scores[r["id"]],
                rubric=r["rubric"],
            )
            for r in rows
        ]

    def count(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    # -- drills ------------------------------------------------------------------------------
    def add_drill(self, result: Any, *, date: datetime | str | None = None) -> int:
        """Record one calm-voice drill (a `voicetrainer.calm.drill.DrillResult`); returns its id."""
        scores = [s for s in (finite(x) for x in result.scores) if s is not None]
        row = {
            "trainee": result.trainee,
            "persona": result.persona,
            "date": _iso(date if date is not None else result.date),
            "rounds": len(scores),
            "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
            "min_score": min(scores) if scores else None,
            "start_level": result.start_level,
            "final_level": result.final_level,
            "max_level": result.max_level,
            "baseline_source": result.baseline_source,
            "result_json": json.dumps(_clean(result.to_dict()), allow_nan=False),
        }
        cols = list(row)
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            sql = f"INSERT INTO drills({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            did = con.execute(sql, [row[c] for c in cols]).lastrowid
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        log.debug("history: drill %s recorded", did)
        return int(did)

    def _select(self, table: str, trainee: str | None, persona: str | None,
                since: datetime | str | None, limit: int | None) -> list:
        """Rows of `table` oldest first: trainee / persona exact and case-insensitive, date
        from `since` inclusive, the newest `limit` of them."""
        where, args = [], []
        for column, value in (("trainee", trainee), ("persona", persona)):
            if value is not None:
                where.append(f"{column} = ? COLLATE NOCASE")
                args.append(value)
        if since is not None:
            where.append("date >= ?")
            args.append(_iso(since))
        sql = f"SELECT * FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY date DESC, id DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return self._con.execute(sql, args).fetchall()[::-1]

    def drills(self, *, trainee: str | None = None, persona: str | None = None,
               since: datetime | str | None = None, limit: int | None = None) -> list[DrillRecord]:
        """Drills oldest first, with the same filters as `sessions`."""
        rows = self._select("drills", trainee, persona, since, limit)
        return [
            DrillRecord(
                id=r["id"], trainee=r["trainee"], persona=r["persona"], date=r["date"], rounds=r["rounds"],
                mean_score=r["mean_score"], min_score=r["min_score"], start_level=r["start_level"],
                final_level=r["final_level"], max_level=r["max_level"], baseline_source=r["baseline_source"],
                result=json.loads(r["result_json"] or "{}"),
            )
            for r in rows
        ]

    def trainees(self) -> list[str]:
        rows = self._con.execute("SELECT DISTINCT trainee FROM sessions WHERE trainee IS NOT NULL ORDER BY trainee")
        return [r[0] for r in rows]

    def integrity_ok(self) -> bool:
        return self._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _clean(v: Any) -> Any:
    """NaN/inf -> None, recursively, so the stored JSON is strict."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
