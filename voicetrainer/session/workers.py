"""Local grading processes for a batch: each loads the model once and grades one file at a time.

Why not `concurrent.futures.ProcessPoolExecutor`: with ``max_tasks_per_child`` it hung for ever
once every worker had reached its limit (2 workers x 20 tasks: a batch stopped at 40 files), a
killed worker breaks the whole pool, and Ctrl-C left workers printing tracebacks. Here the
parent holds one pipe per worker and knows which file each one has:

- a worker that dies (killed, out of memory, a crash in native code) is replaced, and its file
  is graded again by another worker; a file that was being graded by two workers that died is
  a per-file error and the rest go on;
- a worker is replaced after `RECYCLE_AFTER` files (memory that creeps back is returned to the
  system), without ever waiting on itself;
- workers ignore SIGINT; Ctrl-C reaches the parent, which stops every worker at once (files
  already written stay) when the results generator is closed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.session.batch import FileProgress, GradeResult, GradeTask, ProgressFn, failed, grade_one

log = get_logger(__name__)

MAX_ATTEMPTS = 2  # a file whose worker died this many times is given up (per-file error)
RECYCLE_AFTER = 200  # files a worker grades before a fresh process replaces it
POLL_S = 0.5  # how often the parent looks for dead workers while none talks
STOP_GRACE_S = 2.0  # how long a stopped worker may take to exit before it is killed


def _worker_main(conn: Connection, settings: Settings, name: str) -> None:
    """A worker process: load the model, then grade what the parent sends until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    name = f"{name}-{os.getpid()}"  # progress says which process grades what
    from voicetrainer.errors import VoiceTrainerError
    from voicetrainer.session import batch

    try:
        batch._get_transcriber(settings)  # once per worker, before the first file
    except VoiceTrainerError:
        pass  # the same error comes back for each file, with its name
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        index, task = msg
        res = grade_one(task, settings, index=index, worker=name,
                        progress=lambda p: conn.send(("progress", p)))
        conn.send(("done", res))


@dataclass
class _Worker:
    name: str
    proc: mp.process.BaseProcess
    conn: Connection
    index: int | None = None  # the file it is grading
    graded: int = 0
    retiring: bool = False


class _Pool:
    def __init__(self, tasks: list[GradeTask], settings: Settings, jobs: int, recycle_after: int):
        self.tasks, self.settings, self.jobs = tasks, settings, jobs
        self.recycle_after = max(1, recycle_after)
        self.ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited model threads or locks
        self.pending = deque(range(len(tasks)))
        self.attempts = [0] * len(tasks)
        self.workers: list[_Worker] = []
        self.started = 0

    def spawn(self) -> None:
        self.started += 1
        name = f"grade-worker-{self.started}"
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(child, self.settings, name), name=name, daemon=True)
        proc.start()
        child.close()
        self.workers.append(_Worker(name, proc, parent))

    def feed(self) -> None:
        """Start workers up to `jobs` while files wait, and give every idle worker a file."""
        live = [w for w in self.workers if not w.retiring]
        for _ in range(min(self.jobs, len(self.pending) + sum(w.index is not None for w in live)) - len(live)):
            self.spawn()
        for w in self.workers:
            if w.index is None and not w.retiring and self.pending:
                w.index = self.pending.popleft()
                self.attempts[w.index] += 1
                try:
                    w.conn.send((w.index, self.tasks[w.index]))
                except (BrokenPipeError, OSError):
                    pass  # it died; `reap` gives the file back

    def retire(self, w: _Worker) -> None:
        w.retiring = True
        try:
            w.conn.send(None)
        except (BrokenPipeError, OSError):
            pass

    def reap(self, w: _Worker) -> GradeResult | None:
        """`w` has exited: forget it; its file goes back in the queue or, the second time, fails."""
        self.workers.remove(w)
        w.conn.close()
        w.proc.join(timeout=0)
        index, w.index = w.index, None
        if index is None:
            return None
        code = w.proc.exitcode
        log.warning("grading worker %s died (exit %s) while grading %s", w.name, code, self.tasks[index].input)
        if self.attempts[index] >= MAX_ATTEMPTS:
            return failed(self.tasks[index], f"{self.tasks[index].input}: the grading process died {self.attempts[index]} "
                          f"times on this file (last exit status {code}); the other files went on", index)
        self.pending.appendleft(index)
        return None

    def stop(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            if w.index is not None:  # mid-file: no point waiting for it
                w.proc.terminate()
        for w in self.workers:
            w.proc.join(timeout=STOP_GRACE_S)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=STOP_GRACE_S)
            w.conn.close()
        self.workers = []


def _messages(w: _Worker) -> Iterator[tuple[str, object]]:
    """Everything `w` has sent so far (up to its end of the pipe, if it died)."""
    while True:
        try:
            if not w.conn.poll():
                return
            yield w.conn.recv()
        except (EOFError, OSError):
            return


def run_pool(tasks: list[GradeTask], settings: Settings, *, jobs: int, progress: ProgressFn | None = None,
             recycle_after: int = RECYCLE_AFTER) -> Iterator[GradeResult]:
    """Grade `tasks` on `jobs` local processes; results in completion order."""
    pool = _Pool(tasks, settings, jobs, recycle_after)
    remaining = len(tasks)
    try:
        while remaining:
            pool.feed()
            handles = {w.conn: w for w in pool.workers} | {w.proc.sentinel: w for w in pool.workers}
            ready = {id(handles[h]): handles[h] for h in wait(list(handles), timeout=POLL_S)}
            for w in ready.values():
                for kind, payload in _messages(w):
                    if kind == "progress":
                        if progress is not None and isinstance(payload, FileProgress):
                            progress(payload)
                        continue
                    w.index = None
                    w.graded += 1
                    remaining -= 1
                    yield payload
                    if w.graded >= pool.recycle_after and not w.retiring:
                        pool.retire(w)
                if not w.proc.is_alive():
                    res = pool.reap(w)
                    if res is not None:
                        remaining -= 1
                        yield res
    finally:
        pool.stop()
