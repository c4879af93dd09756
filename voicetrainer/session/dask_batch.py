"""Batch grading on a Dask distributed cluster (`voicetrainer grade INPUT... --scheduler ADDR`).

Each input is one Dask task. Workers load the speech model once (`ModelPlugin`, a worker
plugin) and return the graded `Report`; this process writes report.json/html, the history row,
summary.csv and index.html exactly as a local batch does (`batch.finish`). Workers read the audio
from the same path when they all see it (a shared folder), else this process sends the bytes of
the file (a session folder: its manifest, events and audio; and the baseline and rubric files).

Failures: a worker that dies mid-file makes the scheduler run that file on another worker; when
the scheduler gives up on it (`KilledWorker`: start the scheduler with
``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1`` so that is the second death) it is a per-file
error and the rest go on. Any other failure of the machinery is retried once. Progress: workers
publish each file's stages on the `PROGRESS_TOPIC` event topic.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.errors import ClusterError, VoiceTrainerError
from voicetrainer.session.batch import FileProgress, GradeResult, GradeTask, ProgressFn, compute_report, failed, finish

log = get_logger(__name__)

PROGRESS_TOPIC = "voicetrainer-grade-progress"
MAX_ATTEMPTS = 2  # submissions of one file before a failure of the machinery is its error
CONNECT_TIMEOUT_S = 20.0
WAIT_FOR_WORKERS_S = 60.0  # no worker in the cluster for this long: the files left are errors
POLL_S = 1.0


def _distributed():
    try:
        import distributed
    except ImportError as e:
        raise ClusterError("--scheduler needs Dask: pip install 'voicetrainer[dask]' (dask[distributed])") from e
    return distributed


def _plugin_class():
    WorkerPlugin = _distributed().WorkerPlugin

    class ModelPlugin(WorkerPlugin):
        """Loads the speech model once per worker: now, and on every worker that joins later."""

        name = "voicetrainer-model"

        def __init__(self, settings: Settings):
            self.settings = settings

        def setup(self, worker) -> None:
            from voicetrainer.session import batch

            try:
                batch._get_transcriber(self.settings)
            except VoiceTrainerError as e:  # every file will say so, with its name
                log.error("worker %s could not load the speech model: %s", worker.name, e)

    return ModelPlugin


@dataclass(frozen=True)
class RemoteInput:
    """What a worker needs to grade one file.

    Attributes:
        task: the task as the client sees it (paths as given, for the report and messages).
        index: the input's position in the batch.
        batch: this batch's id (progress events name it).
        files: None = read the paths; else file contents to write into a private folder:
            "input/<name>" (a file, or "input/<folder>/<file>" for a session folder),
            "baseline/<name>", "rubric/<name>".
    """

    task: GradeTask
    index: int
    batch: str
    files: dict[str, bytes] | None = None


@dataclass
class RemoteOutcome:
    report: object | None = None  # voicetrainer.report.schema.Report
    error: str | None = None
    exit_code: int = 0


def _abs(p: str | None) -> str | None:
    return os.path.abspath(p) if p else None


def grade_remote(item: RemoteInput, settings: Settings) -> RemoteOutcome:
    """The Dask task: grade one input on this worker; paths in the report as the client gave them."""
    from distributed import get_worker

    worker = get_worker()

    def progress(stage: str, fraction: float | None = None) -> None:
        worker.log_event(PROGRESS_TOPIC, {"batch": item.batch, "index": item.index, "stage": stage,
                                          "fraction": fraction, "worker": str(worker.name)})

    task = item.task
    tmp = tempfile.mkdtemp(prefix="vt-grade-") if item.files is not None else None
    try:
        if tmp is None:
            here = {"input": _abs(task.input), "baseline": _abs(task.baseline), "rubric": _abs(task.rubric)}
        else:
            here = {"input": None, "baseline": None, "rubric": None}
            for rel, data in item.files.items():
                dest = Path(tmp, rel)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                role, first = rel.split("/", 2)[:2]
                here[role] = str(Path(tmp, role, first))
            here["input"] = here["input"] or _abs(task.input)  # not readable by the client: the usual error
        mine = dataclasses.replace(task, input=here["input"], baseline=here["baseline"] or task.baseline,
                                   rubric=here["rubric"] or task.rubric)
        back = {here[k]: getattr(task, k) for k in here if here[k] and getattr(task, k)}
        progress("started")
        try:
            report = compute_report(mine, settings, progress=progress)
        except VoiceTrainerError as e:
            return RemoteOutcome(error=_as_given(str(e), back), exit_code=e.exit_code)
        except Exception as e:  # a bug, not the machinery: the same on any worker, so not retried
            log.exception("internal error grading %s", task.input)
            return RemoteOutcome(error=_as_given(f"{mine.input}: internal error: {type(e).__name__}: {e}", back),
                                 exit_code=1)
        for key in ("input", "audio", "rubric"):
            if isinstance(report.source.get(key), str):
                report.source[key] = _as_given(report.source[key], back)
        return RemoteOutcome(report=report)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _as_given(text: str, back: dict[str, str]) -> str:
    """Worker paths in `text` -> the client's spelling of them (longest first)."""
    for here in sorted(back, key=len, reverse=True):
        text = text.replace(here, back[here])
    return text


# ----------------------------------------------------------------------------- client side

def _read_files(task: GradeTask) -> dict[str, bytes] | None:
    """The bytes a worker needs for `task`; None when the input cannot be read here (the worker
    then reports it as a local batch would: not found, ...)."""
    files: dict[str, bytes] = {}
    src = Path(task.input)
    try:
        if src.is_dir():
            meta = json.loads((src / "session.json").read_text())
            for name in {"session.json", meta.get("audio", "call.wav"), meta.get("events", "events.jsonl")}:
                if (src / name).is_file():
                    files[f"input/{src.name}/{name}"] = (src / name).read_bytes()
        else:
            files[f"input/{src.name}"] = src.read_bytes()
        for role in ("baseline", "rubric"):
            extra = getattr(task, role)
            if extra and Path(extra).is_file():
                files[f"{role}/{Path(extra).name}"] = Path(extra).read_bytes()
    except (OSError, ValueError):
        return None
    return files


def _workers_see(paths: list[tuple[str, int]]) -> bool:
    """On a worker: do these (absolute path, size) exist here with that size?"""
    return all(os.path.exists(p) and (size < 0 or os.path.getsize(p) == size) for p, size in paths)


def _probe(task: GradeTask) -> list[tuple[str, int]]:
    out = []
    for p in (task.input, task.baseline, task.rubric):
        if p and os.path.exists(p):
            out.append((os.path.abspath(p), -1 if os.path.isdir(p) else os.path.getsize(p)))
    return out


def connect(scheduler: str):
    """A Dask client for `scheduler`; `ClusterError` saying why not."""
    distributed = _distributed()
    try:
        return distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ClusterError(f"could not reach the Dask scheduler at {scheduler}: {e}; start one with "
                           "`dask scheduler` and workers with `dask worker ADDRESS`") from e


def grade_on_cluster(tasks: list[GradeTask], settings: Settings, scheduler: str, *,
                     progress: ProgressFn | None = None, send_audio: bool | None = None) -> Iterator[GradeResult]:
    """Grade `tasks` on the cluster at `scheduler`; results (written here) in completion order."""
    distributed = _distributed()
    client = connect(scheduler)
    batch = uuid.uuid4().hex[:12]
    futures: dict = {}
    try:
        client.register_plugin(_plugin_class()(settings), name="voicetrainer-model")
        try:
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
        except (TimeoutError, distributed.TimeoutError) as e:
            raise ClusterError(f"no Dask worker joined {scheduler} within {WAIT_FOR_WORKERS_S:.0f} s") from e
        if send_audio is None:
            seen = client.run(_workers_see, [p for t in tasks for p in _probe(t)])
            send_audio = not all(seen.values())
            log.info("workers %s the input paths", "cannot all read" if send_audio else "read")
        if progress is not None:
            def on_event(event) -> None:
                msg = event[1] if isinstance(event, tuple) else event
                if isinstance(msg, dict) and msg.get("batch") == batch:
                    progress(FileProgress(msg["index"], msg["stage"], msg.get("fraction"), msg.get("worker", "")))

            client.subscribe_topic(PROGRESS_TOPIC, on_event)
        attempts = [0] * len(tasks)

        def submit(i: int) -> None:
            attempts[i] += 1
            item = RemoteInput(tasks[i], i, batch, _read_files(tasks[i]) if send_audio else None)
            fut = client.submit(grade_remote, item, settings, key=f"vt-grade-{batch}-{i}-{attempts[i]}",
                                pure=False)
            futures[fut] = i

        for i in range(len(tasks)):
            submit(i)
        idle_since = None
        while futures:
            try:
                with client.as_current():
                    done, _ = distributed.wait(list(futures), timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in POLL_S
                done = set()
            for fut in done:
                i = futures.pop(fut)
                res = _collect(fut, tasks[i], i, attempts[i], distributed)
                fut.release()
                if res is None:
                    submit(i)
                else:
                    yield res
            if not done:
                if client.scheduler_info().get("workers"):
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > WAIT_FOR_WORKERS_S:
                    for fut, i in list(futures.items()):
                        yield failed(tasks[i], f"{tasks[i].input}: not graded: no Dask worker in the cluster for "
                                     f"{WAIT_FOR_WORKERS_S:.0f} s", i)
                    futures.clear()
    finally:
        if futures:
            client.cancel(list(futures))
        try:
            client.unsubscribe_topic(PROGRESS_TOPIC)
        except (KeyError, ValueError):
            pass
        client.close()


def _collect(fut, task: GradeTask, index: int, attempts: int, distributed) -> GradeResult | None:
    """The result of a finished future; None = submit it again."""
    try:
        outcome = fut.result()
    except distributed.KilledWorker as e:
        return failed(task, f"{task.input}: the Dask workers grading this file died ({e}); the other files went on",
                      index)
    except Exception as e:  # the machinery failed (lost connection, cancelled by the scheduler, ...)
        if attempts < MAX_ATTEMPTS:
            log.warning("grading %s on the cluster failed (%s: %s); trying again", task.input, type(e).__name__, e)
            return None
        return failed(task, f"{task.input}: grading on the cluster failed {attempts} times: {type(e).__name__}: {e}",
                      index)
    if outcome.error:
        return GradeResult(task.input, error=outcome.error, exit_code=outcome.exit_code, index=index)
    return finish(task, outcome.report, index)
