"""`voicetrainer grade INPUT...`: grade recorded calls offline."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from pathlib import Path

from voicetrainer.cli._common import (add_history_args, add_model_args, console, history_db, is_tty,
                                      settings_from_args)
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
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="grade N files in parallel (processes; default: what fits the cores, [grade] jobs)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="grade on a Dask distributed cluster (default: [grade] scheduler in the config file)")
    p.add_argument("--send-audio", action=argparse.BooleanOptionalAction, default=None,
                   help="with --scheduler: send the audio to the workers (default: only if they cannot read the paths)")
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


def _out_dirs(inputs: list[str], out: str | None) -> list[Path]:
    """Where each input's report goes: a session folder's own folder (no --out), else one
    distinct folder per input under --out (or ./voicetrainer-reports); one input with --out
    writes into --out itself."""
    from voicetrainer.session.batch import report_dirs

    base = Path(out) if out else Path("voicetrainer-reports")
    if out and len(inputs) == 1:
        return [base]
    dirs = report_dirs(inputs, base)
    return [Path(inp) if out is None and Path(inp).is_dir() else d for inp, d in zip(inputs, dirs)]


def run(args) -> int:
    from voicetrainer.session.batch import GradeTask

    if args.json and len(args.inputs) != 1:
        from voicetrainer.errors import InputError

        raise InputError("--json prints one report: give exactly one INPUT (use --out for batches)")
    from voicetrainer.session.trainees import trainee_names

    settings = settings_from_args(args)
    many = len(args.inputs) > 1
    who = trainee_names(args.inputs, name=args.trainee, manifest=args.manifest, pattern=args.trainee_pattern)
    json_home = None  # --json alone writes nothing into the current folder: the files go to the data folder
    if args.json and args.out is None and not Path(args.inputs[0]).is_dir():
        from voicetrainer.config import user_data_dir

        json_home = user_data_dir(settings) / "reports" / Path(args.inputs[0]).stem
    tasks = [
        GradeTask(
            input=str(inp), out_dir=str(json_home or out_dir),
            trainee_channel=args.trainee_channel, caller_channel=args.caller_channel, baseline=args.baseline,
            rubric=args.rubric, html=not args.no_html, db=history_db(args), trainee=who[inp],
        )
        for inp, out_dir in zip(args.inputs, _out_dirs(args.inputs, args.out))
    ]
    con = console(stderr=True)
    _say_channels(con, args)
    results, interrupted = _grade_all(tasks, settings, args, con, show=not args.quiet and (many or is_tty()))
    results.sort(key=lambda r: r.index)

    from rich.markup import escape

    from voicetrainer.session.batch import GradeResult

    if interrupted:
        done = {r.index for r in results}
        results += [GradeResult(t.input, error=f"{t.input}: not graded (interrupted)", exit_code=130, index=i)
                    for i, t in enumerate(tasks) if i not in done]
        results.sort(key=lambda r: r.index)
    failed = [r for r in results if r.error and not (interrupted and r.exit_code == 130)]
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
    if interrupted:
        con.print(f"interrupted: {sum(not r.error for r in results)} of {len(tasks)} input(s) graded; "
                  "the reports written so far are kept", markup=False)
        return 130
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


def _grade_all(tasks, settings, args, con, *, show: bool):
    """Grade `tasks` here, on local processes or on the cluster; (results, interrupted).

    Ctrl-C stops the whole batch: the workers are stopped and what was graded is kept."""
    from voicetrainer.session.batch import grade_many

    cfg = settings.grade
    scheduler = args.scheduler or cfg.scheduler
    jobs = args.jobs if args.jobs is not None else cfg.jobs
    send_audio = args.send_audio if args.send_audio is not None else cfg.send_audio
    results = []
    display = None
    if show:
        from voicetrainer.cli.grade_progress import BatchProgress

        display = BatchProgress(tasks, con).__enter__()
    gen = grade_many(tasks, settings, jobs=jobs, scheduler=scheduler, send_audio=send_audio,
                     progress=display.on_progress if display else None)
    try:
        for res in gen:
            results.append(res)
            if display:
                display.on_result(res)
    except KeyboardInterrupt:
        gen.close()  # stops the workers
        return results, True
    finally:
        if display:
            display.__exit__(None, None, None)
    return results, False


def _write_summary(base: Path, results, trainee_of: dict[str, str | None]) -> None:
    from voicetrainer.report.jsonio import write_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in results:
        status = "ok" if not r.error else ("not graded" if r.exit_code == 130 else "error")
        row = {"input": printable(r.input), "status": status, "error": r.error or "", **r.summary,
               "report": printable(os.path.relpath(r.report_path, base)) if r.report_path else ""}
        row["trainee"] = row.get("trainee") or trainee_of.get(r.input) or ""
        w.writerow(row)
    write_atomic(base / "summary.csv", buf.getvalue())
    from voicetrainer.report.html import IndexEntry, write_index_html
    from voicetrainer.report.schema import Report

    entries = []
    names = [Path(r.input).name for r in results]
    for r, name in zip(results, names):
        report = None
        if r.report_path:
            try:
                report = Report.from_dict(json.loads(Path(r.report_path).read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                report = None
        href = os.path.relpath(r.html_path or r.report_path, base) if (r.html_path or r.report_path) else None
        entries.append(IndexEntry(name=printable(name if names.count(name) == 1 else r.input),
                                  href=printable(href) if href else None, report=report, error=r.error,
                                  trainee=trainee_of.get(r.input)))
    write_index_html(entries, base / "index.html")
