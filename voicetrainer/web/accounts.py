"""Local accounts of the web app: trainers and recruits, passwords hashed with Argon2id.

`AccountStore` keeps them in ``<data>/accounts.sqlite3`` (one table; the file is created 0600).
While the store holds no account the app runs in single-user mode (the person at the machine acts
as a trainer, see `auth`); the first account added switches every request to logging in.

Why argon2-cffi: Argon2id is the password hash OWASP recommends first, and argon2-cffi is the
maintained binding (parameters in the hash string, `check_needs_rehash` when they change).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from voicetrainer.errors import InputError

Role = Literal["trainer", "recruit"]
ROLES: tuple[str, ...] = ("trainer", "recruit")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")  # a login name: no spaces, no slashes
COHORT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}$")
MIN_PASSWORD_CHARS = 8
ACCOUNTS_FILE = "accounts.sqlite3"


@dataclass(frozen=True)
class User:
    """Who is making a request.

    Attributes:
        name: the login name (also the trainee name in history and reports).
        role: "trainer" (manages personas, cohorts, batches) or "recruit" (practises).
        cohort: the recruit's cohort, None when not in one (trainers usually have none).
    """

    name: str
    role: Role
    cohort: str | None = None

    @property
    def is_trainer(self) -> bool:
        return self.role == "trainer"


LOCAL_USER = User(name="local", role="trainer", cohort=None)  # single-user mode: the person at this machine


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 "low memory" profile


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise InputError("a user name is 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit",
                         field=f"name {name!r}")
    return name


def check_cohort(cohort: str | None) -> str | None:
    if cohort is None or cohort == "":
        return None
    if not COHORT.match(cohort):
        raise InputError("a cohort name is 1-60 letters, digits, spaces, '.', '_' or '-'", field=f"cohort {cohort!r}")
    return cohort


class AccountStore:
    """The accounts in one SQLite file (thread-safe: one connection behind a lock).

    Args:
        path: the database file (usually ``<data>/accounts.sqlite3``); created with its folder.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # password hashes: owner only
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            db.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY COLLATE NOCASE, hash TEXT NOT NULL,"
                       " role TEXT NOT NULL CHECK (role IN ('trainer','recruit')), cohort TEXT,"
                       " created TEXT NOT NULL DEFAULT (datetime('now')))")
            db.commit()
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -------------------------------------------------------------- reading
    def has_accounts(self) -> bool:
        """True once any account exists (then every request must log in). No file = no accounts."""
        if self._db is None and not self.path.exists():
            return False
        with self._lock:
            return self._conn().execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def get(self, name: str) -> User | None:
        if not name or (self._db is None and not self.path.exists()):
            return None
        with self._lock:
            row = self._conn().execute("SELECT name, role, cohort FROM users WHERE name = ?", (name,)).fetchone()
        return User(*row) if row else None

    def list(self, role: str | None = None, cohort: str | None = None) -> list[User]:
        if self._db is None and not self.path.exists():
            return []
        sql, args = "SELECT name, role, cohort FROM users WHERE 1=1", []
        if role is not None:
            sql, args = sql + " AND role = ?", [*args, role]
        if cohort is not None:
            sql, args = sql + " AND cohort = ?", [*args, cohort]
        with self._lock:
            rows = self._conn().execute(sql + " ORDER BY name COLLATE NOCASE", args).fetchall()
        return [User(*r) for r in rows]

    def verify(self, name: str, password: str) -> User | None:
        """The user when `password` is theirs, else None (an unknown name costs a hash too)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        ph = _hasher()
        row = None
        if name and (self._db is not None or self.path.exists()):
            with self._lock:
                row = self._conn().execute("SELECT name, role, cohort, hash FROM users WHERE name = ?",
                                           (name,)).fetchone()
        if row is None:
            ph.hash(password or "x")  # same time as a wrong password: no probing for names
            return None
        try:
            ph.verify(row[3], password or "")
        except (VerificationError, InvalidHashError):
            return None
        if ph.check_needs_rehash(row[3]):
            self._set_hash(row[0], ph.hash(password))
        return User(row[0], row[1], row[2])

    # -------------------------------------------------------------- writing
    def add(self, name: str, password: str, role: str, cohort: str | None = None) -> User:
        """A new account; InputError for a taken or bad name, a short password or an unknown role."""
        check_name(name)
        if role not in ROLES:
            raise InputError(f"the role is trainer or recruit, not {role!r}", field="--role")
        if len(password or "") < MIN_PASSWORD_CHARS:
            raise InputError(f"the password needs at least {MIN_PASSWORD_CHARS} characters", field="password")
        cohort = check_cohort(cohort)
        digest = _hasher().hash(password)
        with self._lock:
            db = self._conn()
            try:
                db.execute("INSERT INTO users (name, hash, role, cohort) VALUES (?, ?, ?, ?)", (name, digest, role, cohort))
                db.commit()
            except sqlite3.IntegrityError:
                raise InputError("this user exists already", field=f"name {name!r}") from None
        return User(name, role, cohort)  # type: ignore[arg-type]

    def set_cohort(self, name: str, cohort: str | None) -> None:
        cohort = check_cohort(cohort)
        self._update(name, "cohort", cohort)

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise InputError(f"the role is trainer or recruit, not {role!r}", field="--role")
        self._update(name, "role", role)

    def set_password(self, name: str, password: str) -> None:
        if len(password or "") < MIN_PASSWORD_CHARS:
            raise InputError(f"the password needs at least {MIN_PASSWORD_CHARS} characters", field="password")
        self._set_hash(name, _hasher().hash(password))

    def remove(self, name: str) -> None:
        with self._lock:
            db = self._conn()
            n = db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            db.commit()
        if not n:
            raise InputError("no such user", field=f"name {name!r}")

    def _set_hash(self, name: str, digest: str) -> None:
        self._update(name, "hash", digest)

    def _update(self, name: str, column: str, value) -> None:
        assert column in ("cohort", "role", "hash")
        with self._lock:
            db = self._conn()
            n = db.execute(f"UPDATE users SET {column} = ? WHERE name = ?", (value, name)).rowcount  # noqa: S608
            db.commit()
        if not n:
            raise InputError("no such user", field=f"name {name!r}")


def default_store(data_dir: Path) -> AccountStore:
    return AccountStore(Path(data_dir) / ACCOUNTS_FILE)
