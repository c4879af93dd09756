"""`voicetrainer grade INPUT...`: grade recorded calls offline."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from voicetrainer.cli._common import add_history_args, add_model_args, console, history_db, settings_from_args

SUMMARY_FIELDS = [
    "input", "status", "error", "duration_s", "overall", "trainee_wpm", "talk_ratio",
    "mean_response_gap_s", "longest_silence_s", "interruptions_by_trainee", "filler_rate", "calm",
    "empathy", "listening", "patience", "clarity", "expectations", "courtesy", "report",
]


def register(sub, common) -> None:
    p = sub.add_parser(
        "grade", parents=[common], help="grade recorded calls (WAV/FLAC or session folders)",
        description="Grade recorded calls: a session folder, a two-channel WAV (channel 0 caller, "
        "1 trainee) or a mono WAV (trainee only).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", metavar="DIR", help="where reports go (default: the session folder, or ./voicetrainer-reports)")
    p.add_argument("--json", action="store_true", help="with one INPUT: print the report JSON to stdout")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N files in parallel (processes)")
    p.add_argument("--trainee-channel", type=int, default=1, choices=(0, 1), help="trainee's channel in a two-channel file")
    p.add_argument("--baseline", metavar="FILE", help="a calm recording of the trainee's voice")
    p.add_argument("--rubric", metavar="FILE", help="rubric file (skills, phrases, weights)")
    p.add_argument("--no-html", action="store_true", help="write report.json only")
    add_history_args(p, "graded calls")
    add_model_args(p)
    p.set_defaults(func=run)


def _out_dir(inp: Path, out: str | None, many: bool) -> Path:
    if out is None and inp.is_dir():
        return inp
    base = Path(out) if out else Path("voicetrainer-reports")
    if many or out is None:
        name = inp.name if inp.is_dir() else inp.stem
        return base / name
    return base


def run(args) -> int:
    from voicetrainer.session.batch import GradeTask, grade_many

    if args.json and len(args.inputs) != 1:
        from voicetrainer.errors import InputError

        raise InputError("--json prints one report: give exactly one INPUT (use --out for batches)")
    settings = settings_from_args(args)
    many = len(args.inputs) > 1
    tasks = [
        GradeTask(
            input=str(inp), out_dir=str(_out_dir(Path(inp), args.out, many)),
            trainee_channel=args.trainee_channel, baseline=args.baseline, rubric=args.rubric,
            html=not args.no_html, db=history_db(args),
        )
        for inp in args.inputs
    ]
    con = console(stderr=True)
    results = []
    if many and not args.quiet:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=con, transient=False) as prog:
            bar = prog.add_task("", total=len(tasks))
            for res in grade_many(tasks, settings, jobs=args.jobs):
                results.append(res)
                prog.update(bar, advance=1, description=Path(res.input).name)
    else:
        results = list(grade_many(tasks, settings, jobs=args.jobs))

    from rich.markup import escape

    failed = [r for r in results if r.error]
    for r in failed:
        con.print(f"[red]voicetrainer: error:[/red] {escape(r.error)}", markup=True)  # paths may hold "[...]"
    if args.json:
        if results[0].report_path:
            print(Path(results[0].report_path).read_text(), end="")
    elif not args.quiet:
        for r in results:
            if not r.error:
                summary = r.summary
                con.print(
                    f"{r.input}: overall {summary.get('overall') or '-'}, calm {summary.get('calm') or '-'}, "
                    f"{summary.get('trainee_wpm') or '-'} wpm -> {r.report_path}"
                    + (f" (+ {Path(r.html_path).name})" if r.html_path else ""), markup=False,
                )
    if many or args.out:
        base = Path(args.out) if args.out else Path("voicetrainer-reports")
        if many:
            _write_summary(base, results)
            if not args.quiet:
                con.print(f"summary: {base / 'summary.csv'}" + ("  index: " + str(base / "index.html") if (base / "index.html").exists() else ""))
    if failed:
        if many and not args.quiet:
            con.print(f"{len(failed)} of {len(results)} input(s) failed")
        worst = max(r.exit_code for r in failed)
        return worst
    return 0


def _write_summary(base: Path, results) -> None:
    from voicetrainer.atomic import write_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in results:
        row = {"input": r.input, "status": "error" if r.error else "ok", "error": r.error or "", **r.summary,
               "report": os.path.relpath(r.report_path, base) if r.report_path else ""}
        w.writerow(row)
    write_atomic(base / "summary.csv", buf.getvalue())
    from voicetrainer.report.html import IndexEntry, write_index_html
    from voicetrainer.report.schema import Report

    entries = []
    for r in results:
        report = None
        if r.report_path:
            try:
                report = Report.from_dict(json.loads(Path(r.report_path).read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                report = None
        href = os.path.relpath(r.html_path or r.report_path, base) if (r.html_path or r.report_path) else None
        entries.append(IndexEntry(name=Path(r.input).name, href=href, report=report, error=r.error))
    write_index_html(entries, base / "index.html")
