"""Grade many inputs: in this process, in local worker processes, or on a Dask cluster.

One bad file never stops the others: its error is returned in its `GradeResult`. Every input
gets its own report folder (`report_dirs`), so two inputs named alike never overwrite each
other. Results come back in completion order; `GradeResult.index` is the input's position.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.errors import VoiceTrainerError, os_error_message

log = get_logger(__name__)

# Files a batch writes into its output folder: no report folder may take these names.
BATCH_FILES = ("summary.csv", "index.html")
OFFLINE_ASR_WORKERS = 2  # recogniser jobs one grading process runs at once (GradeOptions default)


@dataclass(frozen=True)
class GradeTask:
    """One input to grade and where its results go. `db`: None = no history, "" = default DB.

    `asr_workers`: recogniser jobs at once inside this file's grading (None = the grader's
    default); a batch of several processes lowers it so processes x threads fit the cores.
    """

    input: str
    out_dir: str
    trainee_channel: int = 1
    caller_channel: int | None = None  # None: the other of channels 0/1 (see grader.call_channels)
    baseline: str | None = None
    rubric: str | None = None
    html: bool = True
    db: str | None = ""
    trainee: str | None = None  # who is on the recording (None: as the input says, else "unknown")
    asr_workers: int | None = None


@dataclass
class GradeResult:
    input: str
    report_path: str | None = None
    html_path: str | None = None
    error: str | None = None
    exit_code: int = 0
    summary: dict = field(default_factory=dict)
    index: int = -1  # position of the input in the batch


@dataclass(frozen=True)
class FileProgress:
    """What a worker is doing with one input, for progress displays.

    Attributes:
        index: the input's position in the batch.
        stage: "started", "analysing", "recognising", "scoring" or "writing".
        fraction: how far through the audio the analysis is (0-1), when known.
        worker: which worker process or Dask worker does it.
    """

    index: int
    stage: str
    fraction: float | None = None
    worker: str = ""


ProgressFn = Callable[[FileProgress], None]

_transcriber = None
_loading: tuple | None = None  # (AsrConfig, Future) of a model being loaded in the background


def _get_transcriber(settings: Settings):
    """The grading recogniser of this process (loaded once): encoder window = the speech job."""
    global _transcriber
    if _transcriber is None or _transcriber.cfg != settings.asr:
        if _loading is not None and _loading[0] == settings.asr:
            _transcriber = _loading[1].result()  # raises what loading raised
        else:
            from voicetrainer.asr.offline import OfflineTranscriber

            _transcriber = OfflineTranscriber(settings.asr)
    return _transcriber


class _Loading:
    """The grading recogniser while it loads on another thread: the file's analysis starts at
    once and only the first recognition job waits for the model (model load and the first
    seconds of analysis overlap; a `ModelError` comes out of that job and marks the file)."""

    def __init__(self, settings: Settings):
        global _loading
        import concurrent.futures as cf
        import threading

        if _loading is None or _loading[0] != settings.asr:
            from voicetrainer.asr import resolve_model_path

            resolve_model_path(settings.asr.model)  # a missing model folder: say so before any work
            fut: cf.Future = cf.Future()

            def load() -> None:
                try:
                    from voicetrainer.asr.offline import OfflineTranscriber

                    fut.set_result(OfflineTranscriber(settings.asr))
                except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the model
                    fut.set_exception(e)

            threading.Thread(target=load, name="asr-load", daemon=True).start()
            _loading = (settings.asr, fut)
        self.cfg = settings.asr
        self._future = _loading[1]

    def transcribe(self, audio, *, offset_s: float = 0.0):
        return self._future.result().transcribe(audio, offset_s=offset_s)

    def loaded(self):
        """The recogniser once loaded; raises what loading raised (a `ModelError`)."""
        return self._future.result()


def _transcriber_for(settings: Settings):
    """The loaded recogniser, or one that finishes loading while the analysis starts."""
    if _transcriber is not None and _transcriber.cfg == settings.asr:
        return _transcriber
    return _Loading(settings)


# ----------------------------------------------------------------------------- report folders

def _safe(name: str) -> str:
    return re.sub(r"[^\w.+-]+", "-", name).strip("-.") or "input"


def report_dirs(inputs: Sequence[str | Path], base: str | Path) -> list[Path]:
    """One distinct report folder under `base` per input, named after the input.

    The name is the file's stem (a folder's name); inputs whose names collide get the file name
    with its extension (`call.wav`, `call.flac`), then their parent folders too (`d1-call.wav`,
    `d2-call.wav`); the same input given twice gets `-2`, `-3`. Names never collide with the
    batch's own files (summary.csv, index.html). Deterministic for the same input list.
    """
    base = Path(base)
    paths = [Path(os.path.abspath(p)) for p in inputs]

    def label(p: Path, level: int) -> str:
        if level == 0:
            return _safe(p.name if p.is_dir() else p.stem)
        return _safe("-".join(p.parts[-level:] if level < len(p.parts) else p.parts[1:]))

    levels = [0] * len(paths)
    while True:
        groups: dict[str, set[Path]] = {}
        for p, lv in zip(paths, levels):
            groups.setdefault(label(p, lv).lower(), set()).add(p)
        bumped = False
        for i, p in enumerate(paths):
            key = label(p, levels[i]).lower()
            if (len(groups[key]) > 1 or key in BATCH_FILES) and levels[i] < len(p.parts):
                levels[i] += 1
                bumped = True
        if not bumped:
            break
    used: set[str] = set(BATCH_FILES)
    out = []
    for p, lv in zip(paths, levels):
        name = label(p, lv)
        k = 1
        while (candidate := name if k == 1 else f"{name}-{k}").lower() in used:
            k += 1
        used.add(candidate.lower())
        out.append(base / candidate)
    return out


# ----------------------------------------------------------------------------- one file

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


def compute_report(task: GradeTask, settings: Settings, *, progress: Callable[[str, float | None], None] | None = None):
    """Grade `task.input` (no files written). Raises `VoiceTrainerError` for bad input."""
    from voicetrainer.session.grader import GradeOptions, grade
    from voicetrainer.session.transcript import is_transcript

    extra = {"asr_workers": task.asr_workers} if task.asr_workers else {}
    opts = GradeOptions(trainee_channel=task.trainee_channel, caller_channel=task.caller_channel,
                        baseline=task.baseline, rubric=task.rubric, **extra)
    if is_transcript(task.input):  # text needs no model
        return grade(task.input, opts, settings, transcriber=None)
    transcriber = _transcriber_for(settings)
    report = grade(task.input, opts, settings, transcriber=transcriber, progress=progress)
    if isinstance(transcriber, _Loading):
        global _transcriber
        _transcriber = transcriber.loaded()  # a model that failed to load fails the file, as before
    return report


def finish(task: GradeTask, report, index: int = -1) -> GradeResult:
    """Write a graded report's files and history row; the batch's result for it."""
    res = GradeResult(task.input, index=index)
    try:
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
        log.exception("internal error writing the report of %s", task.input)
        res.error, res.exit_code = f"{task.input}: internal error: {type(e).__name__}: {e}", 1
    return res


def failed(task: GradeTask, error: BaseException | str, index: int = -1) -> GradeResult:
    """The result of an input that could not be graded."""
    if isinstance(error, VoiceTrainerError):
        return GradeResult(task.input, error=str(error), exit_code=error.exit_code, index=index)
    if isinstance(error, BaseException):
        error = f"{task.input}: internal error: {type(error).__name__}: {error}"
    return GradeResult(task.input, error=str(error), exit_code=1, index=index)


def grade_one(task: GradeTask, settings: Settings, *, index: int = -1, progress: ProgressFn | None = None,
              worker: str = "") -> GradeResult:
    def stage(name: str, fraction: float | None = None) -> None:
        if progress is not None:
            progress(FileProgress(index, name, fraction, worker))

    stage("started")
    try:
        report = compute_report(task, settings, progress=stage)
    except VoiceTrainerError as e:
        return failed(task, e, index)
    except Exception as e:
        log.exception("internal error grading %s", task.input)
        return failed(task, e, index)
    stage("writing")
    return finish(task, report, index)


# ----------------------------------------------------------------------------- many files

def auto_jobs(cores: int | None = None) -> int:
    """Grading processes that use `cores` best: one per core, each recognising on one thread
    (`fit_to_cores`: processes x ASR threads = cores). scripts/bench.py (t) measures 1, 2 and
    this against each other; on an idle 2-core machine 2 processes graded 66 audio hours an hour
    against 59-60 for one process with 2 threads (two runs, 2026-11-29)."""
    return max(1, cores or os.cpu_count() or 1)


def fit_to_cores(tasks: list[GradeTask], settings: Settings, jobs: int, cores: int | None = None
                 ) -> tuple[list[GradeTask], Settings]:
    """Tasks and settings for `jobs` processes on `cores`: processes x ASR threads <= cores."""
    import dataclasses

    cores = cores or os.cpu_count() or 1
    if jobs <= 1:
        return tasks, settings
    per_proc = max(1, cores // jobs)
    workers = max(1, min(OFFLINE_ASR_WORKERS, per_proc))
    threads = max(1, per_proc // workers)
    settings = settings.replace(asr=dataclasses.replace(settings.asr, cpu_threads=threads))
    tasks = [dataclasses.replace(t, asr_workers=t.asr_workers or workers) for t in tasks]
    return tasks, settings


def grade_many(tasks: list[GradeTask], settings: Settings, *, jobs: int | None = 1,
               scheduler: str | None = None, progress: ProgressFn | None = None,
               send_audio: bool | None = None) -> Iterator[GradeResult]:
    """Results in completion order (`GradeResult.index` says which input).

    jobs: local processes (None = `auto_jobs()`); 1 = in this process. scheduler: a Dask
    scheduler address (tcp://HOST:PORT): every file is graded on that cluster instead.
    Closing the generator early (Ctrl-C) stops the workers; what was written stays.
    """
    if scheduler:
        from voicetrainer.session.dask_batch import grade_on_cluster

        yield from grade_on_cluster(tasks, settings, scheduler, progress=progress, send_audio=send_audio)
        return
    jobs = auto_jobs() if jobs is None else jobs
    if jobs <= 1 or len(tasks) <= 1:
        for i, t in enumerate(tasks):
            yield grade_one(t, settings, index=i, progress=progress)
        return
    from voicetrainer.session.workers import run_pool

    tasks, settings = fit_to_cores(tasks, settings, jobs)
    yield from run_pool(tasks, settings, jobs=jobs, progress=progress)
