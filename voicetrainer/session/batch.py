"""Grade many inputs: one process per job, the model loaded once per process, results as they finish.

One bad file never stops the others: its error is returned in its `GradeResult`.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.errors import VoiceTrainerError, os_error_message

log = get_logger(__name__)


@dataclass(frozen=True)
class GradeTask:
    """One input to grade and where its results go. `db`: None = no history, "" = default DB."""

    input: str
    out_dir: str
    trainee_channel: int = 1
    caller_channel: int | None = None  # None: the other of channels 0/1 (see grader.call_channels)
    baseline: str | None = None
    rubric: str | None = None
    html: bool = True
    db: str | None = ""
    trainee: str | None = None  # who is on the recording (None: as the input says, else "unknown")


@dataclass
class GradeResult:
    input: str
    report_path: str | None = None
    html_path: str | None = None
    error: str | None = None
    exit_code: int = 0
    summary: dict = field(default_factory=dict)


_transcriber = None


def _get_transcriber(settings: Settings):
    global _transcriber
    if _transcriber is None or _transcriber.cfg != settings.asr:
        from voicetrainer.asr import WhisperTranscriber

        _transcriber = WhisperTranscriber(settings.asr)
    return _transcriber


def summarize(report) -> dict:
    m = report.metrics
    row = {
        "trainee": report.source.get("trainee"), "outcome": report.outcome,
        "duration_s": report.duration_s, "overall": report.overall,
        "trainee_wpm": m.get("trainee_wpm"), "talk_ratio": m.get("talk_ratio"),
        "mean_response_gap_s": m.get("mean_response_gap_s"), "longest_silence_s": m.get("longest_silence_s"),
        "interruptions_by_trainee": m.get("interruptions_by_trainee"), "filler_rate": m.get("filler_rate"),
        "calm": (m.get("calm") or {}).get("score"),
    }
    for name, skill in report.skills.items():
        row[name] = skill.score
    return row


def write_outputs(report, out_dir: Path, *, html: bool = True, db: str | None = "",
                  trainee: str | None = None, persona: str | None = None) -> tuple[Path, Path | None]:
    """report.json (+ report.html) into `out_dir`, atomically; record it in the history."""
    from voicetrainer.report.jsonio import write_json

    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = write_json(out_dir / "report.json", report.to_dict())
    html_path = None
    if html:
        from voicetrainer.report.html import relative_href, write_report_html
        from voicetrainer.report.media import place_recording

        audio = place_recording(report.source.get("audio"), out_dir)  # plays wherever the folder goes
        href = relative_href(audio, out_dir / "report.html") if audio else None
        html_path = write_report_html(report, out_dir / "report.html", audio_href=href)
    if db is not None:
        from voicetrainer.report.history import default_db_path
        from voicetrainer.report.history_queue import record_session

        try:  # a locked database queues the row (record_session says so) instead of dropping it
            record_session(
                Path(db or default_db_path()), report, trainee=trainee or report.source.get("trainee") or "unknown",
                persona=persona or report.source.get("persona"), folder=out_dir.resolve(),
                date=report.source.get("started"), rubric=report.source.get("rubric_name"), report_path=report_path,
            )
        except VoiceTrainerError:
            raise
        except Exception as e:  # history is a convenience: never lose a report over it
            log.warning("could not record the session in the history database: %s", e)
    return report_path, html_path


def grade_one(task: GradeTask, settings: Settings) -> GradeResult:
    from voicetrainer.session.grader import GradeOptions, grade

    res = GradeResult(task.input)
    try:
        opts = GradeOptions(trainee_channel=task.trainee_channel, caller_channel=task.caller_channel,
                            baseline=task.baseline, rubric=task.rubric)
        from voicetrainer.session.transcript import is_transcript

        asr = None if is_transcript(task.input) else _get_transcriber(settings)  # text needs no model
        report = grade(task.input, opts, settings, transcriber=asr)
        if task.trainee:
            report.source["trainee"] = task.trainee
        rp, hp = write_outputs(report, Path(task.out_dir), html=task.html, db=task.db)
        res.report_path, res.html_path = str(rp), str(hp) if hp else None
        res.summary = summarize(report)
    except VoiceTrainerError as e:
        res.error, res.exit_code = str(e), e.exit_code
    except OSError as e:  # a read-only or full --out folder: say which, no traceback
        res.error, res.exit_code = os_error_message(e, what="cannot write the report"), 2
    except Exception as e:
        log.exception("internal error grading %s", task.input)
        res.error, res.exit_code = f"{task.input}: internal error: {type(e).__name__}: {e}", 1
    return res


def grade_many(tasks: list[GradeTask], settings: Settings, *, jobs: int = 1) -> Iterator[GradeResult]:
    """Results in completion order. With jobs > 1, worker processes share the 2 cores' ASR threads."""
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield grade_one(t, settings)
        return
    import dataclasses

    per_proc = dataclasses.replace(settings.asr, cpu_threads=max(1, (os.cpu_count() or 2) // jobs))
    settings = settings.replace(asr=per_proc)
    with cf.ProcessPoolExecutor(max_workers=jobs, max_tasks_per_child=20) as pool:
        futs = [pool.submit(grade_one, t, settings) for t in tasks]
        for fut in cf.as_completed(futs):
            yield fut.result()
