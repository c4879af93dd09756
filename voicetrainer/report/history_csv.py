"""History rows as CSV and as the rows the trend chart draws. Split out of ``history.py``,
which re-exports these names."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from voicetrainer.report.schema import SKILLS

if TYPE_CHECKING:  # pragma: no cover
    from voicetrainer.report.history import SessionRecord

# Key metrics stored as columns (report.metrics keys; "calm_score" is metrics.calm.score).
METRIC_COLUMNS = (
    "trainee_wpm",
    "talk_ratio",
    "mean_response_gap_s",
    "longest_silence_s",
    "interruptions_by_trainee",
    "filler_rate",
    "calm_score",
)

CSV_COLUMNS = ("date", "trainee", "persona", "overall", *SKILLS, "duration_s", *METRIC_COLUMNS, "rubric", "folder")


def write_csv(records: Iterable[SessionRecord], out: str | Path | IO[str]) -> None:
    """Sessions as CSV, one row each: `CSV_COLUMNS`; empty cells where a value is missing."""

    def rows() -> Iterable[list[Any]]:
        yield list(CSV_COLUMNS)
        for r in records:
            vals = {
                "date": r.date, "trainee": r.trainee, "persona": r.persona, "overall": r.overall,
                "duration_s": r.duration_s, "rubric": r.rubric, "folder": r.folder,
                **{s: r.scores.get(s) for s in SKILLS}, **r.metrics,
            }  # fmt: skip
            yield ["" if vals.get(c) is None else vals[c] for c in CSV_COLUMNS]

    if isinstance(out, (str, Path)):
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows())
    else:
        csv.writer(out).writerows(rows())


def trend_rows(records: Sequence[SessionRecord]) -> list[dict[str, Any]]:
    """Records in the shape `voicetrainer.report.plots.trend_png` draws."""
    return [{"date": r.date, "overall": r.overall, "scores": dict(r.scores)} for r in records]
