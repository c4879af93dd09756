"""The history trend chart: skill scores over time as a PNG (matplotlib, imported lazily).
Split out of ``plots.py``, which re-exports ``trend_png``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from voicetrainer import get_logger

log = get_logger(__name__)


def trend_png(
    sessions: Sequence[Mapping[str, Any]], path: str | Path, *, skills: Sequence[str], title: str = "Skill scores over time"
) -> Path:
    """Scores over time per skill (one line each, plus overall) as a PNG.

    Args:
        sessions: rows with ``date`` (ISO 8601 text), ``overall`` and ``scores`` ({skill: score}),
            oldest first.
        path: the PNG to write.
        skills: the skills to draw, in legend order.
    """
    import matplotlib

    matplotlib.use("Agg")
    from datetime import datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    try:
        dates = [datetime.fromisoformat(str(s["date"])) for s in sessions]
        cmap = plt.get_cmap("tab10")
        for k, skill in enumerate(skills):
            pts = [(d, s["scores"].get(skill)) for d, s in zip(dates, sessions) if s["scores"].get(skill) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3.5, lw=1.4, color=cmap(k % 10), label=skill)
        pts = [(d, s.get("overall")) for d, s in zip(dates, sessions) if s.get("overall") is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color="black", lw=2.6, label="overall")
        ax.set_ylim(0, 100)
        ax.set_ylabel("score (0–100)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        if not sessions:
            ax.text(0.5, 0.5, "no sessions yet", transform=ax.transAxes, ha="center", va="center")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    log.debug("wrote trend plot %s", path)
    return path
