"""What the web pages and the CLI ask of the floor, in one place (handlers stay thin).

Members (who is a recruit, in which cohort) come from the caller: the accounts store belongs to
the web layer, which this layer does not import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from voicetrainer.floor import export, progress
from voicetrainer.floor.model import Cohort, Comparison, Member, RecruitProgress
from voicetrainer.floor.store import FloorStore, default_path
from voicetrainer.report.history import DB_FILENAME as HISTORY_FILENAME


@dataclass(frozen=True)
class ExportFile:
    """An export ready to send or write: a file name, its media type and its text."""

    filename: str
    media_type: str
    text: str


class FloorService:
    """The floor over one data folder.

    Args:
        data_dir: the user data folder (``floor.sqlite3`` and ``history.sqlite`` live there).
        history_path: the history database, if not the one in `data_dir`.
        personas_dir: where persona names are read from (None: the default personas folder).
    """

    def __init__(self, data_dir: str | Path, *, history_path: str | Path | None = None,
                 personas_dir: str | Path | None = None):
        self.data_dir = Path(data_dir)
        self.store = FloorStore(default_path(self.data_dir))
        self.history_path = Path(history_path) if history_path else self.data_dir / HISTORY_FILENAME
        self.personas_dir = personas_dir

    def cohorts(self, members: Sequence[Member]) -> list[Cohort]:
        """The stored cohorts and those only the accounts name (``voicetrainer users add --cohort``)."""
        stored = self.store.cohorts()
        known = {c.name.casefold() for c in stored}
        extra = {m.cohort.casefold(): m.cohort for m in members if m.cohort and m.cohort.casefold() not in known}
        out = stored + [Cohort(name=n, created="", note="") for n in extra.values()]
        return sorted(out, key=lambda c: c.name.casefold())

    def cohort_name(self, name: str, members: Sequence[Member]) -> str:
        """`name` as the cohort is spelt (stored, or named by a member's account); InputError if none."""
        wanted = str(name).strip().casefold()
        for c in self.cohorts(members):
            if c.name.casefold() == wanted:
                return c.name
        return self.store.require_cohort(name).name  # raises, listing the known ones

    def ensure_cohort(self, name: str, members: Sequence[Member]) -> str:
        """The cohort's name, stored first if only the accounts knew it (to assign to it)."""
        name = self.cohort_name(name, members)
        if self.store.cohort(name) is None:
            self.store.add_cohort(name)
        return name

    def persona_names(self) -> dict[str, str]:
        return export.persona_names(self.personas_dir)

    def progress(self, members: Sequence[Member], *, now: datetime) -> list[RecruitProgress]:
        """The members' progress, behind first (see `progress.cohort_progress`)."""
        members = list(members)
        attempts = progress.load_attempts(self.history_path, [m.name for m in members])
        return progress.cohort_progress(members, attempts, self.store.for_members(members), now=now)

    def recruit(self, member: Member, *, now: datetime) -> RecruitProgress:
        return self.progress([member], now=now)[0]

    def compare(self, a: Member, b: Member, *, now: datetime) -> Comparison:
        rows = {r.name: r for r in self.progress([a, b], now=now)}
        return progress.compare(rows[a.name], rows[b.name])

    def export(self, cohort: str, members: Sequence[Member], *, fmt: str, base_url: str = export.DEFAULT_BASE_URL
               ) -> ExportFile:
        """A cohort's graded calls as CSV (``fmt="csv"``) or xAPI statements (``fmt="xapi"``)."""
        from voicetrainer.errors import InputError

        name = self.cohort_name(cohort, members)
        members = [m for m in members if (m.cohort or "").casefold() == name.casefold()]
        attempts = progress.load_attempts(self.history_path, [m.name for m in members])
        rows = export.call_rows(members, attempts, self.store.for_members(members))
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "cohort"
        if fmt == "csv":
            return ExportFile(f"{stem}.csv", "text/csv; charset=utf-8", export.csv_text(rows, self.persona_names()))
        if fmt == "xapi":
            return ExportFile(f"{stem}.xapi.json", "application/json",
                              export.xapi_json(rows, self.persona_names(), base_url=base_url))
        raise InputError(f"unknown export format {fmt!r}; csv or xapi", field="--format")
