"""``voicetrainer floor``: the training floor from the command line (export a cohort, see its standing)."""

from __future__ import annotations

import argparse


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("floor", parents=[common], help="training floor: cohort export (CSV, xAPI) and standing",
                       description="Cohorts of recruits, their assignments and progress (the web app's floor).")
    fsub = p.add_subparsers(dest="floor_command", metavar="ACTION")
    fsub.required = True
    e = fsub.add_parser("export", parents=[common], help="a cohort's graded calls as CSV or xAPI statements",
                        description="One CSV row per graded call (columns in voicetrainer/floor/export.py), or one "
                                    "xAPI 1.0.3 statement per graded call (a JSON array an LRS accepts).")
    e.add_argument("--cohort", required=True, metavar="NAME", help="the cohort (case-insensitive)")
    e.add_argument("--format", choices=("csv", "xapi"), default="csv", help="csv (default) or xapi")
    e.add_argument("--out", required=True, metavar="FILE", help="the file to write ('-' = stdout)")
    e.add_argument("--base-url", metavar="URL", help="the server's address, for xAPI actor homePage and activity ids "
                   "(default: http://localhost:8765/)")
    e.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _data_args(e)
    e.set_defaults(func=run_export)
    s = fsub.add_parser("status", parents=[common], help="each recruit's standing: assignments, best scores, who is behind")
    s.add_argument("--cohort", metavar="NAME", help="only this cohort (default: every cohort)")
    _data_args(s)
    s.set_defaults(func=run_status)


def _data_args(p) -> None:
    p.add_argument("--db", metavar="FILE", help="history database (default: <user data dir>/history.sqlite)")


def _service(args):
    from voicetrainer.cli._common import settings_from_args
    from voicetrainer.config import user_data_dir
    from voicetrainer.floor.service import FloorService

    data = user_data_dir(settings_from_args(args))
    return FloorService(data, history_path=args.db), data


def _members(data, cohort: str | None):
    """The recruits (account name, cohort) from the web app's accounts."""
    from voicetrainer.floor.model import Member
    from voicetrainer.web.accounts import default_store

    users = default_store(data).list(role="recruit")
    return [Member(u.name, u.cohort) for u in users
            if cohort is None or (u.cohort or "").casefold() == cohort.casefold()]


def run_export(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from voicetrainer.atomic import write_atomic
    from voicetrainer.cli._common import console
    from voicetrainer.errors import InputError

    service, data = _service(args)
    cohort = service.cohort_name(args.cohort, _members(data, None))
    members = _members(data, cohort)
    if not members:
        console(stderr=True).print(f"cohort {cohort} has no recruit accounts yet (the web app's Cohorts page, or "
                                   "`voicetrainer users`): the export has no calls")
    out = service.export(cohort, members, fmt=args.format,
                         **({"base_url": args.base_url} if args.base_url else {}))
    if args.out == "-":
        sys.stdout.write(out.text)
        return 0
    path = Path(args.out)
    if path.exists() and not args.force:  # never overwrite what the program did not create
        raise InputError("exists; pass --force to overwrite it", path=path)
    write_atomic(path, out.text)
    n = out.text.count("\n") - 1 if args.format == "csv" else out.text.count('"actor"')
    console(stderr=True).print(f"{args.format}: {n} graded call(s) of cohort {cohort} -> {path}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from voicetrainer.cli._common import console
    from voicetrainer.floor.progress import utc_now

    service, data = _service(args)
    cohort = service.cohort_name(args.cohort, _members(data, None)) if args.cohort else None
    rows = service.progress(_members(data, cohort), now=utc_now())
    out = console()
    if not rows:
        out.print("No recruits" + (f" in cohort {cohort}." if cohort else "."))
        return 0
    table = Table(title=f"Floor{' — ' + cohort if cohort else ''} ({len(rows)} recruits)", title_justify="left",
                  box=box.SIMPLE_HEAD, caption="scores 0-100 · latest/best", caption_justify="left")
    for name in ("Recruit", "Cohort", "Standing", "Calls", "Overall", "Last outcome", "Assignments"):
        table.add_column(name, overflow="fold")
    for r in rows:
        o = r.overall
        score = "–" if o.best is None else f"{o.latest:.0f}/{o.best:.0f}"
        tasks = "; ".join(f"{p.assignment.persona} {p.status.value}" + (f" ({p.best:.0f}/{p.assignment.target:g})"
                          if p.best is not None else "") for p in r.assignments) or "–"
        table.add_row(r.name, r.member.cohort or "–", r.standing.value, str(r.calls), score,
                      (r.last_outcome or "–").replace("_", " "), tasks)
    out.print(table)
    return 0
