"""Cohorts and assignments in SQLite (``<data>/floor.sqlite3``).

Every method opens its own short connection (the web server calls from several threads), in
WAL mode with a busy timeout; each write is one ``BEGIN IMMEDIATE`` transaction.
``PRAGMA user_version`` holds the schema version; `MIGRATIONS` upgrade an older file in place.
Nothing is ever deleted from the history: removing an assignment removes only its row here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import ConfigError, InputError
from voicetrainer.floor.model import (
    Assignment, Cohort, Member, check_due, check_measure, check_name, check_persona, check_target,
)

log = get_logger(__name__)

FILENAME = "floor.sqlite3"
BUSY_TIMEOUT_S = 10.0  # a writer waits this long for another's transaction
NOTE_MAX = 500  # characters of a cohort's or an assignment's note


def _migrate_1(cur: sqlite3.Cursor) -> None:
    cur.execute(
        """CREATE TABLE cohorts(
            name TEXT PRIMARY KEY COLLATE NOCASE,
            created TEXT NOT NULL,             -- ISO 8601
            note TEXT NOT NULL DEFAULT ''
        )"""
    )
    cur.execute(
        """CREATE TABLE assignments(
            id INTEGER PRIMARY KEY,
            persona TEXT NOT NULL,
            cohort TEXT COLLATE NOCASE,        -- for a whole cohort ...
            recruit TEXT COLLATE NOCASE,       -- ... or for one recruit (exactly one of the two)
            target REAL NOT NULL,              -- score 0-100 of `measure`
            measure TEXT NOT NULL DEFAULT 'overall',
            due TEXT NOT NULL,                 -- ISO date, the last day
            created TEXT NOT NULL,             -- ISO 8601; calls before it do not count
            created_by TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            CHECK ((cohort IS NULL) <> (recruit IS NULL))
        )"""
    )
    cur.execute("CREATE INDEX assignments_cohort ON assignments(cohort)")
    cur.execute("CREATE INDEX assignments_recruit ON assignments(recruit)")


MIGRATIONS: tuple[Callable[[sqlite3.Cursor], None], ...] = (_migrate_1,)
SCHEMA_VERSION = len(MIGRATIONS)  # 1


def default_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILENAME


def _note(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > NOTE_MAX:
        raise InputError(f"the note has {len(text)} characters; at most {NOTE_MAX}", field="note")
    return text


class FloorStore:
    """Cohorts and assignments. Args: path: the SQLite file (parent folders are created)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create the folder of the floor database ({e.strerror or e})",
                              path=self.path.parent) from e
        with self._connect() as con:
            con.execute("PRAGMA journal_mode = WAL")
            self._migrate(con)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open the floor database ({e})", path=self.path) from e
        con.row_factory = sqlite3.Row
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            yield con
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.IntegrityError):
                raise
            raise ConfigError(f"cannot use the floor database ({e}); if it is damaged, rename it: the next "
                              "start makes a new one (the history of calls is not in it)", path=self.path) from e
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _migrate(self, con: sqlite3.Connection) -> None:
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            version = int(con.execute("PRAGMA user_version").fetchone()[0])  # re-read under the lock
            if version > SCHEMA_VERSION:
                raise ConfigError(f"floor database schema {version} is newer than this voicetrainer knows "
                                  f"({SCHEMA_VERSION}); upgrade voicetrainer", path=self.path)
            cur = con.cursor()
            for step in range(version, SCHEMA_VERSION):
                log.info("floor database %s: migrating schema %d -> %d", self.path, step, step + 1)
                MIGRATIONS[step](cur)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- cohorts ------------------------------------------------------------------------------
    def add_cohort(self, name: str, *, note: str = "", now: datetime | None = None) -> Cohort:
        """Create a cohort; InputError if one with that name (any case) exists."""
        name = check_name(name, "cohort")
        created = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        try:
            with self._write() as con:
                con.execute("INSERT INTO cohorts(name, created, note) VALUES (?, ?, ?)", (name, created, _note(note)))
        except sqlite3.IntegrityError:
            raise InputError(f"a cohort named {name!r} already exists", field="cohort") from None
        return Cohort(name=name, created=created, note=_note(note))

    def cohorts(self) -> list[Cohort]:
        with self._connect() as con:
            rows = con.execute("SELECT * FROM cohorts ORDER BY name COLLATE NOCASE").fetchall()
        return [Cohort(name=r["name"], created=r["created"], note=r["note"]) for r in rows]

    def cohort(self, name: str) -> Cohort | None:
        with self._connect() as con:
            r = con.execute("SELECT * FROM cohorts WHERE name = ?", (str(name).strip(),)).fetchone()
        return Cohort(name=r["name"], created=r["created"], note=r["note"]) if r else None

    def require_cohort(self, name: str) -> Cohort:
        found = self.cohort(name)
        if found is None:
            known = ", ".join(c.name for c in self.cohorts()) or "none yet"
            raise InputError(f"no cohort named {str(name)[:80]!r} (known: {known})", field="cohort")
        return found

    # -- assignments --------------------------------------------------------------------------
    def assign(self, *, persona: str, target: float | str, due: date | str, cohort: str | None = None,
               recruit: str | None = None, measure: str | None = None, created_by: str = "", note: str = "",
               now: datetime | None = None) -> Assignment:
        """Assign `persona` to a cohort (which must exist) or to one recruit; returns the assignment.

        Args:
            target: score 0-100 of `measure` (``overall`` or a skill) that counts as done.
            due: the last day (ISO date).
            now: creation time (default: now, UTC); calls before it do not count towards it.
        """
        persona = check_persona(persona)
        if (cohort is None or not str(cohort).strip()) == (recruit is None or not str(recruit).strip()):
            raise InputError("assign to a cohort or to one recruit (exactly one of the two)", field="cohort")
        if cohort:
            cohort = self.require_cohort(cohort).name
        else:
            recruit = check_name(str(recruit), "recruit")
        row = {
            "persona": persona, "cohort": cohort or None, "recruit": recruit or None,
            "target": check_target(target), "measure": check_measure(measure), "due": check_due(due).isoformat(),
            "created": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
            "created_by": str(created_by or ""), "note": _note(note),
        }  # fmt: skip
        cols = list(row)
        with self._write() as con:
            aid = con.execute(f"INSERT INTO assignments({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                              [row[c] for c in cols]).lastrowid
        log.info("assignment %s: %s to %s", aid, persona, cohort or recruit)
        return self.get(int(aid))  # type: ignore[return-value]

    def get(self, assignment_id: int) -> Assignment | None:
        with self._connect() as con:
            r = con.execute("SELECT * FROM assignments WHERE id = ?", (int(assignment_id),)).fetchone()
        return _assignment(r) if r else None

    def remove(self, assignment_id: int) -> bool:
        """Delete one assignment (the calls made for it stay in the history); False if there was none."""
        with self._write() as con:
            return con.execute("DELETE FROM assignments WHERE id = ?", (int(assignment_id),)).rowcount > 0

    def assignments(self, *, cohort: str | None = None, member: Member | None = None) -> list[Assignment]:
        """All assignments (due soonest first); or a cohort's (its own, not its members' personal
        ones); or those `member` must do (their own and their cohort's)."""
        sql, args = "SELECT * FROM assignments", []
        if member is not None:
            sql += " WHERE recruit = ? OR (cohort IS NOT NULL AND cohort = ?)"
            args = [member.name, member.cohort or "\x00"]
        elif cohort is not None:
            sql += " WHERE cohort = ?"
            args = [cohort]
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY due, id", args).fetchall()
        return [_assignment(r) for r in rows]

    def for_members(self, members: list[Member]) -> list[Assignment]:
        """Every assignment that applies to at least one of `members` (due soonest first)."""
        out = self.assignments()
        return [a for a in out if any(a.applies_to(m) for m in members)]


def _assignment(r: sqlite3.Row) -> Assignment:
    created = datetime.fromisoformat(r["created"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return Assignment(
        id=int(r["id"]), persona=r["persona"], cohort=r["cohort"], recruit=r["recruit"], target=float(r["target"]),
        measure=r["measure"], due=date.fromisoformat(r["due"]), created=created, created_by=r["created_by"],
        note=r["note"],
    )  # fmt: skip
