"""`voicetrainer grade INPUT...`: grade recorded calls offline."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from voicetrainer.cli._common import add_history_args, add_model_args, console, history_db, settings_from_args
from voicetrainer.errors import printable

SUMMARY_FIELDS = [
    "input", "trainee", "status", "error", "outcome", "duration_s", "overall", "trainee_wpm", "talk_ratio",
    "mean_response_gap_s", "longest_silence_s", "interruptions_by_trainee", "filler_rate", "calm",
    "empathy", "listening", "patience", "clarity", "expectations", "courtesy", "report",
]


def register(sub, common) -> None:
    p = sub.add_parser(
        "grade", parents=[common], help="grade recorded calls (WAV/FLAC, session folders, transcripts)",
        description="Grade recorded calls: a session folder, a two-channel WAV (channel 0 caller, "
        "1 trainee), a mono WAV (trainee only), or a text transcript (T.json with schema "
        "voicetrainer.transcript/1, or T.vtt with <v Caller>/<v Agent> voice tags: audio measures absent).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", metavar="DIR", help="where reports go (default: the session folder, or ./voicetrainer-reports; "
                   "with --json: <user data>/reports)")
    p.add_argument("--json", action="store_true", help="with one INPUT: print the report JSON to stdout")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N files in parallel (processes)")
    p.add_argument("--trainee-channel", type=int, default=1, metavar="N",
                   help="trainee's channel in a file of two or more channels (default 1)")
    p.add_argument("--caller-channel", type=int, default=None, metavar="N",
                   help="caller's channel (default: the other of 0 and 1)")
    p.add_argument("--baseline", metavar="FILE", help="a calm recording of the trainee's voice")
    p.add_argument("--rubric", metavar="FILE", help="rubric file (skills, phrases, weights)")
    p.add_argument("--no-html", action="store_true", help="write report.json only")
    who = p.add_argument_group("trainee (default: as a session says, else 'unknown')")
    who.add_argument("--trainee", metavar="NAME", help="the trainee on every INPUT")
    who.add_argument("--manifest", metavar="CSV", help="a CSV with 'file' and 'trainee' columns naming each input's trainee")
    who.add_argument("--trainee-pattern", metavar="PATTERN",
                     help="the trainee's name in each file name: '{trainee}-*.wav' or a regex with (?P<trainee>...)")
    add_history_args(p, "graded calls")
    add_model_args(p)
    p.set_defaults(func=run)


def _out_dir(inp: Path, out: str | None, many: bool, clash: bool = False) -> Path:
    if out is None and inp.is_dir():
        return inp
    base = Path(out) if out else Path("voicetrainer-reports")
    if many or out is None:
        name = inp.name if inp.is_dir() else inp.stem
        if clash and not inp.is_dir():  # call.wav and call.vtt in one batch: call-wav, call-vtt
            name = f"{inp.stem}-{inp.suffix.lstrip('.').lower()}"
        return base / name
    return base


def run(args) -> int:
    from voicetrainer.session.batch import GradeTask, grade_many

    if args.json and len(args.inputs) != 1:
        from voicetrainer.errors import InputError

        raise InputError("--json prints one report: give exactly one INPUT (use --out for batches)")
    from voicetrainer.session.trainees import trainee_names

    settings = settings_from_args(args)
    many = len(args.inputs) > 1
    stems = [Path(i).stem for i in args.inputs]
    who = trainee_names(args.inputs, name=args.trainee, manifest=args.manifest, pattern=args.trainee_pattern)
    json_home = None  # --json alone writes nothing into the current folder: the files go to the data folder
    if args.json and args.out is None and not Path(args.inputs[0]).is_dir():
        from voicetrainer.config import user_data_dir

        json_home = user_data_dir(settings) / "reports" / Path(args.inputs[0]).stem
    tasks = [
        GradeTask(
            input=str(inp),
            out_dir=str(json_home or _out_dir(Path(inp), args.out, many, clash=stems.count(Path(inp).stem) > 1)),
            trainee_channel=args.trainee_channel, caller_channel=args.caller_channel, baseline=args.baseline,
            rubric=args.rubric, html=not args.no_html, db=history_db(args), trainee=who[inp],
        )
        for inp in args.inputs
    ]
    con = console(stderr=True)
    _say_channels(con, args)
    results = []
    if many and not args.quiet:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=con, transient=False) as prog:
            bar = prog.add_task("", total=len(tasks))
            for res in grade_many(tasks, settings, jobs=args.jobs):
                results.append(res)
                prog.update(bar, advance=1, description=printable(Path(res.input).name))
    else:
        results = list(grade_many(tasks, settings, jobs=args.jobs))

    from rich.markup import escape

    failed = [r for r in results if r.error]
    for r in failed:
        con.print(f"[red]voicetrainer: error:[/red] {escape(r.error)}", markup=True)  # paths may hold "[...]"
    if args.json:
        if results[0].report_path:
            print(Path(results[0].report_path).read_text(), end="")
            if json_home is not None and not args.quiet:
                con.print(f"report files: {json_home}", markup=False)  # stderr: stdout is the JSON alone
    elif not args.quiet:
        for r in results:
            if not r.error:
                summary = r.summary
                con.print(
                    f"{printable(r.input)}: overall {summary.get('overall') or '-'}, calm {summary.get('calm') or '-'}, "
                    f"{summary.get('trainee_wpm') or '-'} wpm -> {printable(r.report_path)}"
                    + (f" (+ {Path(r.html_path).name})" if r.html_path else ""), markup=False,
                )
    if many or args.out:
        base = Path(args.out) if args.out else Path("voicetrainer-reports")
        if many:
            _write_summary(base, results, {t.input: t.trainee for t in tasks})
            if not args.quiet:
                con.print(f"summary: {base / 'summary.csv'}" + ("  index: " + str(base / "index.html") if (base / "index.html").exists() else ""))
    if failed:
        if many and not args.quiet:
            con.print(f"{len(failed)} of {len(results)} input(s) failed")
        worst = max(r.exit_code for r in failed)
        return worst
    return 0


def _say_channels(con, args) -> None:
    """Before grading: which two channels of a file with more than two are graded."""
    from voicetrainer.errors import VoiceTrainerError
    from voicetrainer.session.grader import call_channels

    for inp in args.inputs:
        if Path(inp).is_dir() or not Path(inp).is_file():
            continue
        try:
            from voicetrainer.audio.sources import probe_audio

            n = probe_audio(inp).channels
            if n > 2:
                _, notes = call_channels(n, trainee_channel=args.trainee_channel, caller_channel=args.caller_channel)
                for note in notes:
                    con.print(f"{printable(inp)}: {note}", markup=False, highlight=False)
        except VoiceTrainerError:
            continue  # grading reports the problem with the file


def _write_summary(base: Path, results, trainee_of: dict[str, str | None]) -> None:
    from voicetrainer.report.jsonio import write_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in results:
        row = {"input": printable(r.input), "status": "error" if r.error else "ok", "error": r.error or "", **r.summary,
               "report": printable(os.path.relpath(r.report_path, base)) if r.report_path else ""}
        row["trainee"] = row.get("trainee") or trainee_of.get(r.input) or ""
        w.writerow(row)
    write_atomic(base / "summary.csv", buf.getvalue())
    try:
        from voicetrainer.report.html import write_index_html
    except ImportError:
        return
    from voicetrainer.report.html import IndexEntry
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
        entries.append(IndexEntry(name=printable(Path(r.input).name), href=printable(href) if href else None,
                                  report=report, error=r.error, trainee=trainee_of.get(r.input)))
    write_index_html(entries, base / "index.html")
