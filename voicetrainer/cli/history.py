"""``voicetrainer history``: past sessions as a table, a trend plot and optionally CSV."""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "history",
        parents=[common],
        help="past sessions: scores table, trend plot, CSV",
        description="List recorded sessions with their skill scores, and plot scores over time per skill.",
    )
    p.add_argument("--trainee", metavar="NAME", help="only this trainee (case-insensitive)")
    p.add_argument("--persona", metavar="ID", help="only calls with this persona")
    p.add_argument("--since", metavar="DATE", help="only sessions on or after this ISO date (e.g. 2026-11-01)")
    p.add_argument("--limit", type=int, metavar="N", help="only the newest N sessions")
    p.add_argument("--db", metavar="FILE", help="history database (default: <user data dir>/history.sqlite)")
    p.add_argument("--csv", metavar="FILE", help="also write the sessions as CSV ('-' = stdout, no table)")
    p.add_argument("--plot", metavar="FILE", help="trend plot PNG (default: history-trend[-TRAINEE].png beside the database)")
    p.add_argument("--no-plot", action="store_true", help="do not write the trend plot")
    p.set_defaults(func=run)


def _plot_path(args: argparse.Namespace, db_path: Path) -> Path:
    if args.plot:
        return Path(args.plot)
    suffix = "".join(f"-{re.sub(r'[^A-Za-z0-9_.-]+', '_', v)}" for v in (args.trainee, args.persona) if v)
    return db_path.parent / f"history-trend{suffix}.png"


SHORT = {
    "empathy": "Emp", "listening": "Lis", "patience": "Pat", "calm": "Calm",
    "clarity": "Clar", "expectations": "Exp", "courtesy": "Cour",
}  # fmt: skip
OUTCOME_SHORT = {"resolved": "resolved", "hung_up": "hung up", "turn_limit": "gave up", "ended_by_trainee": "ended"}


def _cell(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _drill_table(drills, who: str, *, show_trainee: bool, show_persona: bool):
    """Calm-voice drills (``voicetrainer calm drill``): mean and worst answer, harshness reached."""
    from rich import box
    from rich.table import Table

    levels = ("mild", "upset", "angry", "furious")
    table = Table(title=f"Calm drills{' — ' + who if who else ''} ({len(drills)})", title_justify="left",
                  caption="calm scores 0-100 (voice only) · level = provocation harshness", caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    table.add_column("Date", no_wrap=True)
    if show_trainee:
        table.add_column("Trainee", max_width=10, overflow="ellipsis", no_wrap=True)
    if show_persona:
        table.add_column("Persona", max_width=12, overflow="ellipsis", no_wrap=True)
    for name in ("Answers", "Mean", "Worst", "Reached", "End"):
        table.add_column(name, justify="right", no_wrap=True)
    for d in drills:
        row = [d.date[:16].replace("T", " ")]
        row += [d.trainee or "–"] if show_trainee else []
        row += [d.persona or "–"] if show_persona else []
        lvl = [levels[x] if x is not None and 0 <= x < len(levels) else "–" for x in (d.max_level, d.final_level)]
        table.add_row(*row, str(d.rounds), _cell(d.mean_score), _cell(d.min_score), *lvl)
    return table


def run(args: argparse.Namespace) -> int:
    import sys

    from rich.console import Console
    from rich.table import Table

    from voicetrainer.errors import InputError
    from voicetrainer.report.history import HistoryDB, write_csv
    from voicetrainer.report.schema import SKILLS

    from datetime import datetime

    from voicetrainer.cli._common import settings_from_args
    from voicetrainer.report.history import default_db_path

    if args.limit is not None and args.limit < 1:
        raise InputError("must be at least 1", field="--limit")
    if args.since is not None:
        try:
            datetime.fromisoformat(args.since)
        except ValueError as e:
            raise InputError(f"not an ISO 8601 date: {args.since!r} (e.g. 2026-11-01)", field="--since") from e
    console = Console()
    db_path = Path(args.db) if args.db else default_db_path(settings_from_args(args))
    if not db_path.exists():  # a read-only command: do not create an empty database
        if args.csv == "-":
            write_csv([], sys.stdout)
        else:
            console.print(f"No sessions recorded yet (no history database at {db_path}).")
        return 0
    with HistoryDB(db_path) as db:
        records = db.sessions(trainee=args.trainee, persona=args.persona, since=args.since, limit=args.limit)
        drills = db.drills(trainee=args.trainee, persona=args.persona, since=args.since, limit=args.limit)
    if args.csv == "-":
        write_csv(records, sys.stdout)
        return 0
    who = ", ".join(f"{k} {v}" for k, v in (("trainee", args.trainee), ("persona", args.persona)) if v)
    if not records:
        console.print(f"No sessions recorded{' for ' + who if who else ''} in {db_path}.")
    else:
        from rich import box

        # fit 80 columns: columns a filter makes constant, and folders on narrow terminals, go
        show_trainee, show_persona = not args.trainee, not args.persona
        show_folder = console.width >= 120
        table = Table(
            title=f"Sessions{' — ' + who if who else ''} ({len(records)})",
            title_justify="left",
            caption="scores 0-100 · " + " ".join(f"{SHORT[s]}={s}" for s in SKILLS) + " · Int=interruptions",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 0),  # SIMPLE_HEAD already separates columns by one space
        )
        long_date = console.width >= 100
        table.add_column("Date", no_wrap=True)
        if show_trainee:
            table.add_column("Trainee", max_width=10, overflow="ellipsis", no_wrap=True)
        if show_persona:
            table.add_column("Persona", max_width=12, overflow="ellipsis", no_wrap=True)
        table.add_column("End", no_wrap=True, max_width=8, overflow="ellipsis")  # how the call ended
        table.add_column("All", justify="right", style="bold", no_wrap=True, min_width=3)
        for s in SKILLS:
            table.add_column(SHORT[s], justify="right", no_wrap=True, min_width=3)
        table.add_column("WPM", justify="right", no_wrap=True, min_width=3)
        table.add_column("Int", justify="right", no_wrap=True, min_width=3)
        if show_folder:
            table.add_column("Folder", overflow="fold", min_width=8)
        for r in records:
            row = [r.date[:16].replace("T", " ") if long_date else r.date[5:16].replace("T", " ")]
            if show_trainee:
                row.append(r.trainee or "–")
            if show_persona:
                row.append(r.persona or "–")
            row.append(OUTCOME_SHORT.get(r.outcome or "", r.outcome or "–"))
            row += [_cell(r.overall), *[_cell(r.scores.get(s)) for s in SKILLS]]
            row += [_cell(r.metrics.get("trainee_wpm")), _cell(r.metrics.get("interruptions_by_trainee"))]
            if show_folder:
                row.append(r.folder or "–")
            table.add_row(*row)
        console.print(table)
    if drills:
        console.print(_drill_table(drills, who, show_trainee=not args.trainee, show_persona=not args.persona))
    if args.csv:
        write_csv(records, args.csv)
        console.print(f"CSV: {args.csv}")
    if not args.no_plot and records:
        from voicetrainer.report.trend_chart import trend_png, trend_rows

        path = trend_png(
            trend_rows(records),
            _plot_path(args, db_path),
            skills=SKILLS,
            title="Skill scores over time" + (f" — {who}" if who else ""),
        )
        console.print(f"Trend plot: {path}")
    return 0
