"""Shared SVG plumbing for report plots: the drawing's geometry, colours, the time axis and
``MM:SS`` clock labels. Split out of ``plots.py``; ``plots`` re-exports every name."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from voicetrainer.report.schema import Report, finite
from voicetrainer.rules import RULES

VIEW_W = 960  # SVG user units; the page scales the drawing to its column width
PLOT_X0 = 92  # left edge of the plotting area (room for lane / axis labels)
PLOT_X1 = VIEW_W - 16  # right edge
# half-width of the baseline band drawn around the trainee's median: their own spread, clipped
# to a readable range (a baseline measured over pauses can have a 40 dB loudness spread)
PITCH_BAND_ST = (1.0, 4.0)  # semitones
LOUDNESS_BAND_DB = (2.0, 6.0)  # dB
SILENCE_DBFS = -55.0  # loudness below this is drawn as a pause, not as speech
WPM_BAND = RULES.wpm_band  # words per minute; the pacing band drawn when no rubric band is given

COLORS = {
    "caller": "#64748b",  # slate 500: the caller (neutral; the trainee is the focus)
    "trainee": "#0f766e",  # teal 700: the trainee
    "interrupt": "#b91c1c",  # red 700: interruptions
    "backchannel": "#334155",  # slate 700
    "silence": "#e2e8f0",  # slate 200
    "band": "#ccfbf1",  # teal 100: the baseline / target band
    "grid": "#e5e7eb",
    "axis": "#475569",
    "mood": "#7c3aed",  # violet 600: caller mood
    "off": "#d97706",  # amber 600: outside the band
}

# Caller moods from calm to angry; a mood event's "mood" may be one of these words or a number.
MOOD_SCALE = (
    "pleased", "satisfied", "calm", "calmer", "neutral", "skeptical", "impatient",
    "annoyed", "frustrated", "upset", "angry", "irate", "furious",
)  # fmt: skip


def fmt_clock(t_s: float) -> str:
    """Seconds -> ``MM:SS`` (``H:MM:SS`` from one hour on), rounded down to the second."""
    if t_s is None or not math.isfinite(t_s):
        return "--:--"
    total = max(0, int(t_s))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"



@dataclass(frozen=True)
class _XScale:
    """Maps seconds to SVG x between PLOT_X0 and PLOT_X1."""

    duration_s: float

    def __call__(self, t_s: float) -> float:
        d = self.duration_s if self.duration_s > 0 else 1.0
        return PLOT_X0 + (PLOT_X1 - PLOT_X0) * min(max(t_s, 0.0), d) / d


def call_duration_s(report: Report) -> float:
    """The call's length: the report's duration, or the end of the last turn/track if later."""
    ends = [report.duration_s or 0.0]
    ends += [t.end_s for t in report.turns]
    for track in (report.tracks or {}).values():
        ts = track.get("t_s") if isinstance(track, Mapping) else None
        if ts:
            last = finite(ts[-1])
            if last is not None:
                ends.append(last)
    return max(ends)


def _tick_step_s(duration_s: float) -> float:
    """A round tick spacing giving 5-12 ticks over the call."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration_s / step <= 12:
            return float(step)
    return 3600.0


def _time_axis(x: _XScale, y: float, *, grid_top: float | None = None) -> list[str]:
    """Tick marks and MM:SS labels along y; optional vertical grid lines up to grid_top."""
    out = [f'<line x1="{PLOT_X0}" y1="{y}" x2="{PLOT_X1}" y2="{y}" stroke="{COLORS["axis"]}"/>']
    step = _tick_step_s(x.duration_s)
    t = 0.0
    while t <= x.duration_s + 1e-9:
        px = x(t)
        if grid_top is not None:
            out.append(f'<line x1="{px:.1f}" y1="{grid_top}" x2="{px:.1f}" y2="{y}" stroke="{COLORS["grid"]}"/>')
        out.append(f'<line x1="{px:.1f}" y1="{y}" x2="{px:.1f}" y2="{y + 5}" stroke="{COLORS["axis"]}"/>')
        out.append(f'<text x="{px:.1f}" y="{y + 18}" text-anchor="middle" class="tick">{fmt_clock(t)}</text>')
        t += step
    return out


def _svg(height: float, body: list[str], *, label: str, extra_attrs: str = "") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {VIEW_W} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" class="plot" {extra_attrs}>'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
