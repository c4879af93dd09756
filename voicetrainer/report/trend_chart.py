"""The history trend chart as a PNG (matplotlib, imported lazily), readable at a glance.

- Sessions sit at equal steps along the x-axis, each labelled with its date ("29 Nov", or
  "29 Nov 04:38" when a day has several): practice comes in bursts, and a time axis either
  squeezes a burst into one point or labels ticks "04:38, 30, 04:39, 30".
- Lines that share a score would hide each other: lines with the very same scores are drawn
  once and named together ("listening = patience"); the others are nudged a fraction of a
  point up or down (at most `SPREAD_POINTS` apart in all) and each has its own marker.
- Several trainees: one line per trainee (their overall score), not every trainee's seven
  skills in one tangle; one trainee: their skills and overall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

from voicetrainer import get_logger

log = get_logger(__name__)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
SPREAD_POINTS = 3.0  # equal scores of all lines spread over this many points (of 100): visible, not misleading
MAX_LABELS = 12  # x tick labels shown at most (every k-th session beyond that)


def trend_rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    """History records (`report.history.SessionRecord`) as the chart's rows, trainee included."""
    return [{"date": r.date, "trainee": r.trainee, "overall": r.overall, "scores": dict(r.scores)} for r in records]


def session_labels(dates: Sequence[datetime]) -> list[str]:
    """A label per session: the day, with the time where a day has several sessions, and the
    year only when the sessions span more than one."""
    days = [d.date() for d in dates]
    years = {d.year for d in dates}
    out = []
    minutes = [d.replace(second=0, microsecond=0) for d in dates]
    for d, day, minute in zip(dates, days, minutes):
        text = d.strftime("%d %b") + (d.strftime(" %Y") if len(years) > 1 else "")
        if days.count(day) > 1:
            text += d.strftime(" %H:%M:%S" if minutes.count(minute) > 1 else " %H:%M")
        out.append(text.lstrip("0"))
    return out


def merge_equal(lines: list[tuple[str, list, dict]]) -> list[tuple[str, list, dict]]:
    """Lines with exactly the same points drawn once, labelled with every name ("a = b")."""
    out: list[tuple[str, list, dict]] = []
    for label, pts, style in lines:
        same = next((k for k, (_, p, _) in enumerate(out) if p == pts), None)
        if same is None:
            out.append((label, pts, style))
        else:
            first = out[same]
            out[same] = (f"{first[0]} = {label}", first[1], first[2] if first[0] == "overall" else style)
    return out


def offsets(n: int) -> list[float]:
    """Vertical nudges (score points) for `n` lines, centred on 0, at most `SPREAD_POINTS` apart."""
    if n <= 1:
        return [0.0] * n
    step = SPREAD_POINTS / (n - 1)
    return [round(-SPREAD_POINTS / 2 + k * step, 3) for k in range(n)]


def chart_lines(sessions: Sequence[Mapping[str, Any]], skills: Sequence[str]) -> tuple[list[tuple[str, list, dict]], bool]:
    """The lines to draw, as (legend label, [(session index, score)], style), and whether they
    are one per trainee. `sessions` sorted oldest first."""
    trainees = list(dict.fromkeys(str(s.get("trainee") or "unknown") for s in sessions))
    lines: list[tuple[str, list, dict]] = []
    if len(trainees) > 1:
        for name in trainees:
            pts = [(i, float(s["overall"])) for i, s in enumerate(sessions)
                   if str(s.get("trainee") or "unknown") == name and s.get("overall") is not None]
            lines.append((name, pts, {"lw": 1.8}))
    else:
        for skill in skills:
            pts = [(i, float(s["scores"][skill])) for i, s in enumerate(sessions) if s["scores"].get(skill) is not None]
            lines.append((skill, pts, {"lw": 1.3}))
        pts = [(i, float(s["overall"])) for i, s in enumerate(sessions) if s.get("overall") is not None]
        lines.append(("overall", pts, {"lw": 2.6, "color": "black"}))
    return merge_equal([ln for ln in lines if ln[1]]), len(trainees) > 1


def trend_png(sessions: Sequence[Mapping[str, Any]], path: str | Path, *, skills: Sequence[str],
              title: str = "Skill scores over time") -> Path:
    """Write the trend chart of `sessions` (rows of `trend_rows`, oldest first) to `path`.

    One trainee in the rows: a line per skill in `skills` plus the overall score. Several: the
    overall score, a line per trainee (filter the rows to one trainee for their skills).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    sessions = sorted(sessions, key=lambda s: str(s["date"]))
    dates = [datetime.fromisoformat(str(s["date"])) for s in sessions]
    lines, by_trainee = chart_lines(sessions, skills)
    if by_trainee:
        title = title.replace("Skill scores", "Overall score by trainee")
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    try:
        cmap = plt.get_cmap("tab10")
        for k, ((label, pts, style), dy) in enumerate(zip(lines, offsets(len(lines)))):
            style = {"color": cmap(k % 10), **style}
            ax.plot([p[0] for p in pts], [p[1] + dy for p in pts], marker=MARKERS[k % len(MARKERS)], ms=5,
                    label=textwrap.fill(label, 26), **style)
        ax.set_ylim(-3, 103)
        ax.set_ylabel("score (0–100)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        labels = session_labels(dates)
        every = max(1, -(-len(labels) // MAX_LABELS))  # ceil
        ticks = list(range(0, len(labels), every))
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, ha="right")
        ax.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
        ax.set_xlabel("session")
        if lines:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
            if len(lines) > 1:
                ax.text(1.01, 0.02, f"lines nudged ±{SPREAD_POINTS / 2:g}\nso equal scores show", transform=ax.transAxes,
                        fontsize=8, color="#475569", va="bottom")
        else:
            ax.text(0.5, 0.5, "no sessions yet", transform=ax.transAxes, ha="center", va="center")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    log.debug("wrote trend plot %s", path)
    return path
