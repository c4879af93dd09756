"""Schema migrations of the history database (see ``history.py`` for the version list).
``MIGRATIONS[k]`` upgrades a database from version k to k + 1. Split out of ``history.py``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _migrate_1(cur: sqlite3.Cursor) -> None:
    cur.execute(
        """CREATE TABLE sessions(
            id INTEGER PRIMARY KEY,
            trainee TEXT,
            persona TEXT,
            date TEXT NOT NULL,               -- ISO 8601
            folder TEXT,                      -- the session folder (absolute), or NULL
            overall REAL,
            duration_s REAL,
            trainee_wpm REAL,
            talk_ratio REAL,
            mean_response_gap_s REAL,
            longest_silence_s REAL,
            interruptions_by_trainee INTEGER,
            filler_rate REAL,
            calm_score REAL,
            metrics_json TEXT                 -- the report's whole metrics dict
        )"""
    )
    cur.execute(
        """CREATE TABLE skill_scores(
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            skill TEXT NOT NULL,
            score REAL,
            PRIMARY KEY(session_id, skill)
        )"""
    )


def _migrate_2(cur: sqlite3.Cursor) -> None:
    cur.execute("ALTER TABLE sessions ADD COLUMN rubric TEXT")
    # version 1 allowed the same folder twice; keep the newest row of each before making it unique
    cur.execute(
        """DELETE FROM skill_scores WHERE session_id IN (
             SELECT id FROM sessions s WHERE folder IS NOT NULL
               AND id < (SELECT MAX(id) FROM sessions t WHERE t.folder = s.folder))"""
    )
    cur.execute(
        """DELETE FROM sessions WHERE folder IS NOT NULL
             AND id < (SELECT MAX(id) FROM sessions t WHERE t.folder = sessions.folder)"""
    )
    cur.execute("CREATE UNIQUE INDEX sessions_folder ON sessions(folder) WHERE folder IS NOT NULL")
    cur.execute("CREATE INDEX sessions_trainee_date ON sessions(trainee, date)")
    cur.execute("CREATE INDEX sessions_persona_date ON sessions(persona, date)")


def _migrate_3(cur: sqlite3.Cursor) -> None:
    cur.execute(
        """CREATE TABLE drills(
            id INTEGER PRIMARY KEY,
            trainee TEXT,
            persona TEXT,
            date TEXT NOT NULL,               -- ISO 8601
            rounds INTEGER,                   -- scored answers
            mean_score REAL,                  -- mean calm score 0-100 of the scored answers
            min_score REAL,
            start_level INTEGER,              -- provocation harshness 0 (mild) .. 3 (furious)
            final_level INTEGER,
            max_level INTEGER,
            baseline_source TEXT,
            result_json TEXT                  -- every round: line, answer times, score, feedback
        )"""
    )
    cur.execute("CREATE INDEX drills_trainee_date ON drills(trainee, date)")


# MIGRATIONS[k] upgrades a database from version k to k + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Cursor], None], ...] = (_migrate_1, _migrate_2, _migrate_3)
SCHEMA_VERSION = len(MIGRATIONS)  # 3
