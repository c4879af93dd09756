"""`voicetrainer recover [DIR...]`: repair sessions a crash interrupted, then grade them."""

from __future__ import annotations

from pathlib import Path

from voicetrainer.cli._common import add_history_args, add_model_args, console, history_db, settings_from_args


def register(sub, common) -> None:
    p = sub.add_parser(
        "recover", parents=[common], help="repair and grade sessions interrupted by a crash",
        description="Repair session folders left behind by a crash or power cut (WAV header, torn "
        "event line, manifest) and grade them. Without DIR, every interrupted session in the "
        "sessions folder is handled, plus recovered or aborted sessions that were never graded.",
    )
    p.add_argument("dirs", nargs="*", metavar="DIR", help="session folders (default: all interrupted ones)")
    p.add_argument("--root", metavar="DIR", help="sessions folder to scan (default: <user data>/sessions)")
    p.add_argument("--no-grade", action="store_true", help="repair only")
    p.add_argument("--out", metavar="DIR", help="leave the sessions untouched: copy each to DIR/<name> and repair "
                   "and grade it there (a full or read-only disk)")
    add_history_args(p, "graded sessions")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from voicetrainer.session.recover import default_sessions_root, recover_and_grade

    settings = settings_from_args(args)
    root = Path(args.root) if args.root else default_sessions_root(settings)
    results = recover_and_grade(
        [Path(d) for d in args.dirs] or None, root=root, grade=not args.no_grade, settings=settings,
        db=history_db(args), out=Path(args.out) if args.out else None,
    )
    con = console(stderr=True)
    if not results:
        if not args.quiet:
            con.print(f"nothing to recover in {root}", markup=False)
        return 0
    for r in results:
        if r.error and r.duration_s is None:
            con.print(f"voicetrainer: error: {r.error}", markup=False)
            continue
        what = "repaired" if r.repaired else "nothing to repair"
        line = f"{r.session}: {what}, {r.duration_s or 0:.1f} s of audio"
        if r.report_path:
            line += f" -> {r.report_path}"
        elif r.error:
            line += f"; not graded: {r.error}"
        if not args.quiet or r.error:
            con.print(line, markup=False)
    return max((r.exit_code for r in results), default=0)
