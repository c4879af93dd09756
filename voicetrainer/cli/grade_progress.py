"""The progress display of a batch: a bar that moves as soon as files start, and what each
worker is doing (file, stage, how far through its audio)."""

from __future__ import annotations

import threading
from pathlib import Path

from voicetrainer.session.batch import FileProgress, GradeResult, GradeTask

STAGE_WORDS = {"started": "starting", "analysing": "analysing", "recognising": "recognising speech",
               "scoring": "scoring", "writing": "writing the report"}


class BatchProgress:
    """A rich progress bar for `grade_many`: `on_progress` for per-file stages (may be called
    from another thread, e.g. a Dask client's), `on_result` when a file is done.

    The bar counts files; files being graded add the fraction of their audio already analysed,
    so a batch of a few long calls moves from the first seconds on.
    """

    def __init__(self, tasks: list[GradeTask], console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.names = [Path(t.input).name for t in tasks]
        self.total = len(tasks)
        self._lock = threading.Lock()
        self._running: dict[int, tuple[str, float]] = {}  # index -> (stage, fraction)
        self._done = 0
        self._progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.description}"), console=console, transient=False)
        self._bar = None

    def __enter__(self) -> "BatchProgress":
        self._progress.__enter__()
        self._bar = self._progress.add_task("", total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def on_progress(self, p: FileProgress) -> None:
        with self._lock:
            if 0 <= p.index < self.total:
                frac = p.fraction if p.fraction is not None else self._running.get(p.index, ("", 0.0))[1]
                self._running[p.index] = (p.stage, frac or 0.0)
            self._refresh()

    def on_result(self, res: GradeResult) -> None:
        with self._lock:
            self._running.pop(res.index, None)
            self._done += 1
            self._refresh()

    def _refresh(self) -> None:
        # analysis is about half of a file's time: a file fully analysed counts as half done
        partial = sum(0.5 * f + (0.5 if s in ("scoring", "writing") else 0.0) for s, f in self._running.values())
        parts = []
        for i, (stage, frac) in sorted(self._running.items())[:3]:
            word = STAGE_WORDS.get(stage, stage)
            parts.append(f"{self.names[i]}: {word}" + (f" {frac:.0%}" if stage == "analysing" else ""))
        more = len(self._running) - len(parts)
        desc = "; ".join(parts) + (f" (+{more})" if more > 0 else "")
        self._progress.update(self._bar, completed=min(self.total, self._done + partial), description=desc)
