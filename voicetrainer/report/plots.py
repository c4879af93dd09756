"""Plots for reports: inline SVG strings (no matplotlib start-up, no network), and the history
trend chart as a PNG (matplotlib, imported lazily).

Every SVG function is pure: ``f(report, *, ...) -> str``. Elements a reader can click carry
``data-t`` (seconds from the start of the call); the page's script seeks the recording there.
The timeline SVG also carries ``data-x0``/``data-x1``/``data-dur-s`` so the page can draw a
playhead. All drawing is in a fixed ``viewBox`` (``VIEW_W`` wide) scaled to the page width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from voicetrainer.analysis.pacing import pace_verdict
from voicetrainer.report.schema import Report, Turn, finite
from voicetrainer.rules import RULES
from voicetrainer.report.svg import (  # noqa: F401  (re-exported: plots was one module)
    VIEW_W,
    PLOT_X0,
    PLOT_X1,
    PITCH_BAND_ST,
    LOUDNESS_BAND_DB,
    SILENCE_DBFS,
    WPM_BAND,
    COLORS,
    MOOD_SCALE,
    fmt_clock,
    _XScale,
    call_duration_s,
    _tick_step_s,
    _time_axis,
    _svg,
    _short,
)

NOTE_CHAR_W = 7.0  # width of one character of a 12-unit "note" label (system-ui digits/letters are <= 7)


def silences(turns: Sequence[Turn], *, min_s: float, duration_s: float | None = None) -> list[tuple[float, float]]:
    """Stretches of at least ``min_s`` seconds where nobody speaks, as (start_s, end_s).

    Only gaps *between* speech count (leading silence before the first turn and trailing
    silence after the last are not part of the conversation).
    """
    spans = sorted((t.start_s, t.end_s) for t in turns if t.end_s > t.start_s)
    out: list[tuple[float, float]] = []
    if not spans:
        return out
    end = spans[0][1]
    for s, e in spans[1:]:
        if s - end >= min_s:
            out.append((end, s))
        end = max(end, e)
    return out


def timeline_svg(report: Report, *, long_silence_s: float = RULES.long_silence_s) -> str:
    """The call as two lanes of turn bars, interruptions and long silences marked.

    Args:
        report: the graded call.
        long_silence_s: silences at least this long (seconds) are shaded and labelled.
    """
    dur = call_duration_s(report)
    x = _XScale(dur)
    lanes = {"caller": 28.0, "trainee": 72.0}  # lane top y
    lane_h = 30.0
    axis_y = 116.0
    body: list[str] = []
    free_x = -math.inf  # labels never overlap: "6 s silence", else "6 s", else none (the tooltip stays)
    for a, b in silences(report.turns, min_s=long_silence_s):
        x0, x1 = x(a), x(b)
        label = ""
        for text in (f"{b - a:.0f} s silence", f"{b - a:.0f} s"):
            half = NOTE_CHAR_W * len(text) / 2
            cx = min(max((x0 + x1) / 2, PLOT_X0 + half), PLOT_X1 - half)
            if cx - half >= free_x:
                label, free_x = f'<text x="{cx:.1f}" y="14" text-anchor="middle" class="note">{text}</text>', cx + half + 6
                break
        body.append(
            f'<g class="silence"><rect x="{x0:.1f}" y="18" width="{max(x1 - x0, 1):.1f}" height="{axis_y - 18}" '
            f'fill="{COLORS["silence"]}"><title>Silence {fmt_clock(a)}–{fmt_clock(b)} ({b - a:.1f} s)</title></rect>'
            f"{label}</g>"
        )
    body += _time_axis(x, axis_y, grid_top=None)
    for name, y in lanes.items():
        body.append(f'<text x="{PLOT_X0 - 10}" y="{y + lane_h / 2 + 5}" text-anchor="end" class="lane">{name.title()}</text>')
        body.append(f'<line x1="{PLOT_X0}" y1="{y + lane_h / 2}" x2="{PLOT_X1}" y2="{y + lane_h / 2}" stroke="{COLORS["grid"]}"/>')
    for i, t in enumerate(report.turns):
        y = lanes.get(t.speaker)
        if y is None:
            continue
        x0, x1 = x(t.start_s), x(t.end_s)
        label = f"{t.speaker.title()} {fmt_clock(t.start_s)}–{fmt_clock(t.end_s)}: {_short(t.text) or '(no words)'}"
        body.append(
            f'<rect class="turn {t.speaker}" data-t="{t.start_s:.2f}" data-turn="{i}" tabindex="0" role="button" '
            f'aria-label="Play from {escape(label)}" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 3):.1f}" '
            f'height="{lane_h}" rx="4" fill="{COLORS[t.speaker]}"><title>{escape(label)}</title></rect>'
        )
    for it in report.interruptions:
        px = x(it.start_s)
        w = max(x(it.start_s + (it.overlap_s or 0.0)) - px, 2)
        who = it.by.title()
        if it.kind == "interruption":
            top = lanes.get(it.by, 72.0)
            tip = f"{who} interrupted at {fmt_clock(it.start_s)} ({it.overlap_s:.1f} s overlap)"
            body.append(
                f'<g class="interruption" data-t="{it.start_s:.2f}" tabindex="0" role="button" aria-label="Play from {escape(tip)}">'
                f"<title>{escape(tip)}</title>"
                f'<rect x="{px:.1f}" y="{lanes["caller"] - 4}" width="{w:.1f}" height="{lanes["trainee"] + lane_h - lanes["caller"] + 8}" '
                f'fill="none" stroke="{COLORS["interrupt"]}" stroke-width="2" rx="2"/>'
                f'<path d="M{px - 6:.1f},{top - 14} L{px + 6:.1f},{top - 14} L{px:.1f},{top - 4} Z" fill="{COLORS["interrupt"]}"/></g>'
            )
        else:
            tip = f"{who} backchannel at {fmt_clock(it.start_s)}"
            cy = lanes.get(it.by, 72.0) + lane_h + 6
            body.append(
                f'<circle class="backchannel" cx="{px:.1f}" cy="{cy}" r="3" fill="{COLORS["backchannel"]}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    body.append(f'<line class="playhead" x1="{PLOT_X0}" y1="18" x2="{PLOT_X0}" y2="{axis_y}" stroke="#111827" stroke-width="1.5" visibility="hidden"/>')
    return _svg(
        axis_y + 26,
        body,
        label="Timeline of the call: caller and trainee turns, interruptions and long silences",
        extra_attrs=f'id="timeline" data-x0="{PLOT_X0}" data-x1="{PLOT_X1}" data-dur-s="{dur:.3f}"',
    )


def _track(report: Report, who: str, key: str) -> tuple[list[float], list[float | None]]:
    tr = (report.tracks or {}).get(who) or {}
    ts = tr.get("t_s") or []
    vs = tr.get(key) or []
    n = min(len(ts), len(vs))
    out_t: list[float] = []
    out_v: list[float | None] = []
    for t, v in zip(ts[:n], vs[:n]):
        tt = finite(t)
        if tt is None:
            continue
        vv = finite(v)
        if key == "pitch_hz" and vv is not None and vv <= 0:
            vv = None  # unvoiced
        out_t.append(tt)
        out_v.append(vv)
    return out_t, out_v


def _polylines(ts: Sequence[float], vs: Sequence[float | None], x: _XScale, y, *, max_gap_s: float = 0.6) -> list[str]:
    """Point lists for <polyline>, broken at missing values and at gaps longer than max_gap_s."""
    runs: list[str] = []
    cur: list[str] = []
    last_t = None
    for t, v in zip(ts, vs):
        if v is None or (last_t is not None and t - last_t > max_gap_s):
            if len(cur) > 1:
                runs.append(" ".join(cur))
            elif len(cur) == 1:
                runs.append(cur[0] + " " + cur[0])
            cur = []
        if v is not None:
            cur.append(f"{x(t):.1f},{y(v):.1f}")
        last_t = t
    if len(cur) > 1:
        runs.append(" ".join(cur))
    return runs


def baseline_bands(calm: Mapping[str, Any] | None) -> dict[str, tuple[float, float, float]]:
    """The trainee's baseline bands as {"pitch_hz": (low, centre, high), "loudness_dbfs": (...)}.

    Reads ``metrics.calm.baseline``: explicit ``pitch_low_hz``/``pitch_high_hz`` and
    ``loudness_low_dbfs``/``loudness_high_dbfs`` when present; otherwise the centre
    (``pitch_median_hz``, ``loudness_dbfs``) plus/minus the spread (``pitch_sd_semitones``,
    default 2 semitones; ``loudness_sd_db``, default 3 dB), clipped to PITCH_BAND_ST and
    LOUDNESS_BAND_DB.
    """
    out: dict[str, tuple[float, float, float]] = {}
    base = (calm or {}).get("baseline") or {}
    if not isinstance(base, Mapping):
        return out
    med = finite(base.get("pitch_median_hz"))
    lo, hi = finite(base.get("pitch_low_hz")), finite(base.get("pitch_high_hz"))
    if med is not None and med > 0:
        sd = min(max(finite(base.get("pitch_sd_semitones")) or 2.0, PITCH_BAND_ST[0]), PITCH_BAND_ST[1])
        lo = lo if lo is not None else med * 2 ** (-sd / 12)
        hi = hi if hi is not None else med * 2 ** (sd / 12)
        out["pitch_hz"] = (lo, med, hi)
    elif lo is not None and hi is not None:
        out["pitch_hz"] = (lo, math.sqrt(lo * hi), hi)
    loud = finite(base.get("loudness_dbfs"))
    llo, lhi = finite(base.get("loudness_low_dbfs")), finite(base.get("loudness_high_dbfs"))
    if loud is not None:
        sd = min(max(finite(base.get("loudness_sd_db")) or 3.0, LOUDNESS_BAND_DB[0]), LOUDNESS_BAND_DB[1])
        out["loudness_dbfs"] = (llo if llo is not None else loud - sd, loud, lhi if lhi is not None else loud + sd)
    elif llo is not None and lhi is not None:
        out["loudness_dbfs"] = (llo, (llo + lhi) / 2, lhi)
    return out


ANGER_MAX = 10.0  # persona moods are anger levels 0 (calm) .. 10 (furious)


def mood_points(report: Report) -> tuple[list[tuple[float, float, str, str]], list[str]]:
    """Caller mood over the call as (t_s, level, label, reason), level 0 (calm) .. 1 (angriest).

    From ``{"type": "mood", "t_s", "mood", "reason"}`` events; without those, from the
    ``mood`` carried by ``caller_line`` events (at their ``start_s``). A numeric mood is an
    anger level on 0..ANGER_MAX (or 0..1 when all values are within it); a word is placed on
    MOOD_SCALE, unknown words after it in order of appearance.
    Returns the points and the axis labels (top = angriest, bottom = calmest).
    """
    evs = []
    for e in report.events:
        if isinstance(e, Mapping) and e.get("type") == "mood" and e.get("mood") is not None:
            t = finite(e.get("t_s"))
            if t is not None:
                evs.append((t, e.get("mood"), str(e.get("reason") or "")))
    if not evs:
        for e in report.events:
            if isinstance(e, Mapping) and e.get("type") == "caller_line" and e.get("mood") is not None:
                t = finite(e.get("start_s"))
                if t is not None:
                    evs.append((t, e.get("mood"), str(e.get("text") or "")[:80]))
    evs.sort(key=lambda e: e[0])
    if not evs:
        return [], []
    if all(finite(m) is not None for _, m, _ in evs):
        vals = [float(m) for _, m, _ in evs]
        hi = 1.0 if max(vals) <= 1.0 else max(ANGER_MAX, max(vals))
        lo = min(0.0, min(vals))
        pts = [(t, (v - lo) / (hi - lo), f"anger {v:g}", why) for (t, _, why), v in zip(evs, vals)]
        return pts, [f"angry ({hi:g})", f"calm ({lo:g})"]
    words = [str(m) for _, m, _ in evs]
    seen = {w.lower() for w in words}
    order = [w for w in MOOD_SCALE if w in seen]  # calm .. angry
    order += [w for w in dict.fromkeys(w.lower() for w in words) if w not in MOOD_SCALE]
    n = max(len(order) - 1, 1)
    pts = [(t, order.index(w.lower()) / n, w, why) for (t, _, why), w in zip(evs, words)]
    return pts, [order[-1], order[0]]


def voice_svg(report: Report) -> str:
    """The trainee's pitch and loudness over time against the baseline band, and the caller's
    mood line, in three stacked panels sharing the time axis."""
    dur = call_duration_s(report)
    x = _XScale(dur)
    calm = (report.metrics or {}).get("calm") or {}
    bands = baseline_bands(calm if isinstance(calm, Mapping) else {})
    panel_h = 96.0
    gap = 26.0
    body: list[str] = []
    top = 10.0
    panels = [("pitch_hz", "pitch (Hz)"), ("loudness_dbfs", "loudness (dBFS)")]
    for key, title in panels:
        ts, vs = _track(report, "trainee", key)
        band = bands.get(key)
        if key == "loudness_dbfs":
            # frames far below the speaking level are pauses, not "quiet speech": leave them out
            # so the scale shows the voice, not the noise floor
            floor = max(SILENCE_DBFS, band[0] - 20.0) if band else SILENCE_DBFS
            vs = [v if v is not None and v >= floor else None for v in vs]
        vals = [v for v in vs if v is not None]
        lims = vals + (list(band) if band else [])
        body.append(f'<text x="{PLOT_X0}" y="{top + 2}" class="ptitle">Trainee {title}</text>')
        y0, y1 = top + 10, top + 10 + panel_h
        if not lims:
            body.append(f'<text x="{(PLOT_X0 + PLOT_X1) / 2}" y="{(y0 + y1) / 2}" text-anchor="middle" class="note">no {title} track in this report</text>')
        else:
            lo, hi = min(lims), max(lims)
            pad = (hi - lo) * 0.08 or 1.0
            lo, hi = lo - pad, hi + pad

            def y(v: float, lo=lo, hi=hi, y0=y0, y1=y1) -> float:
                return y1 - (y1 - y0) * (v - lo) / (hi - lo)

            if band:
                blo, bmid, bhi = band
                body.append(
                    f'<rect class="band" x="{PLOT_X0}" y="{y(bhi):.1f}" width="{PLOT_X1 - PLOT_X0}" '
                    f'height="{max(y(blo) - y(bhi), 1):.1f}" fill="{COLORS["band"]}">'
                    f"<title>Baseline band {blo:.0f}–{bhi:.0f}</title></rect>"
                )
                body.append(f'<line x1="{PLOT_X0}" x2="{PLOT_X1}" y1="{y(bmid):.1f}" y2="{y(bmid):.1f}" stroke="{COLORS["trainee"]}" stroke-dasharray="4 4" opacity="0.6"/>')
            for v in (lo + pad, hi - pad):
                body.append(f'<text x="{PLOT_X0 - 8}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:.0f}</text>')
            for pts in _polylines(ts, vs, x, y):
                body.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS["trainee"]}" stroke-width="1.6" stroke-linejoin="round"/>')
        body.append(f'<rect x="{PLOT_X0}" y="{y0}" width="{PLOT_X1 - PLOT_X0}" height="{panel_h}" fill="none" stroke="{COLORS["grid"]}"/>')
        top = y1 + gap
    # caller mood
    pts, labels = mood_points(report)
    mood_h = 60.0
    body.append(f'<text x="{PLOT_X0}" y="{top + 2}" class="ptitle">Caller mood</text>')
    y0, y1 = top + 10, top + 10 + mood_h
    body.append(f'<rect x="{PLOT_X0}" y="{y0}" width="{PLOT_X1 - PLOT_X0}" height="{mood_h}" fill="none" stroke="{COLORS["grid"]}"/>')
    if not pts:
        body.append(f'<text x="{(PLOT_X0 + PLOT_X1) / 2}" y="{(y0 + y1) / 2 + 4}" text-anchor="middle" class="note">no mood changes recorded (offline recording)</text>')
    else:

        def ym(level: float) -> float:
            return y1 - 6 - (mood_h - 12) * level

        body.append(f'<text x="{PLOT_X0 - 8}" y="{y0 + 10}" text-anchor="end" class="tick">{escape(labels[0])}</text>')
        body.append(f'<text x="{PLOT_X0 - 8}" y="{y1 - 2}" text-anchor="end" class="tick">{escape(labels[1])}</text>')
        path = []
        for i, (t, lvl, _, _) in enumerate(pts):
            if i:
                path.append(f"L{x(t):.1f},{ym(pts[i - 1][1]):.1f}")
            path.append(f"{'M' if not i else 'L'}{x(t):.1f},{ym(lvl):.1f}")
        path.append(f"L{x(dur):.1f},{ym(pts[-1][1]):.1f}")
        body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{COLORS["mood"]}" stroke-width="2"/>')
        for t, lvl, word, reason in pts:
            tip = f"{fmt_clock(t)} caller mood: {word}" + (f" — {reason}" if reason else "")
            body.append(
                f'<circle class="mood" data-t="{t:.2f}" tabindex="0" role="button" aria-label="Play from {escape(tip)}" '
                f'cx="{x(t):.1f}" cy="{ym(lvl):.1f}" r="5" fill="{COLORS["mood"]}"><title>{escape(tip)}</title></circle>'
            )
    top = y1 + 6
    body += _time_axis(x, top)
    return _svg(top + 26, body, label="Trainee pitch and loudness against the baseline band, and the caller's mood")


def pacing_svg(report: Report, *, band_wpm: tuple[float, float] = WPM_BAND) -> str:
    """Speaking rate per trainee turn (words per minute) against the target band."""
    turns = [(i, t) for i, t in enumerate(report.turns) if t.speaker == "trainee"]
    rates = [(i, t, finite(t.wpm)) for i, t in turns]
    shown = [(i, t, w) for i, t, w in rates if w is not None]
    h, y0, y1 = 190.0, 16.0, 150.0
    body: list[str] = []
    if not shown:
        body.append(f'<text x="{VIEW_W / 2}" y="{h / 2}" text-anchor="middle" class="note">no per-turn speaking rate in this report</text>')
        return _svg(h, body, label="Speaking rate per trainee turn")
    hi = max(max(w for *_, w in shown), band_wpm[1]) * 1.12
    lo = 0.0

    def y(v: float) -> float:
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    body.append(
        f'<rect class="band" x="{PLOT_X0}" y="{y(band_wpm[1]):.1f}" width="{PLOT_X1 - PLOT_X0}" height="{y(band_wpm[0]) - y(band_wpm[1]):.1f}" '
        f'fill="{COLORS["band"]}"><title>Target band {band_wpm[0]:.0f}–{band_wpm[1]:.0f} WPM</title></rect>'
    )
    for v in (0, band_wpm[0], band_wpm[1]):
        body.append(f'<text x="{PLOT_X0 - 8}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:.0f}</text>')
        body.append(f'<line x1="{PLOT_X0}" x2="{PLOT_X1}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{COLORS["grid"]}"/>')
    body.append(f'<text x="14" y="{(y0 + y1) / 2:.0f}" class="tick" transform="rotate(-90 14 {(y0 + y1) / 2:.0f})" text-anchor="middle">words / min</text>')
    n = len(shown)
    slot = (PLOT_X1 - PLOT_X0) / n
    bw = min(48.0, slot * 0.7)
    label_every = max(1, math.ceil(n / 16))
    for k, (i, t, w) in enumerate(shown):
        cx = PLOT_X0 + slot * (k + 0.5)
        verdict = pace_verdict(w, band_wpm)
        inside = verdict is None
        tip = f"Turn at {fmt_clock(t.start_s)}: {w:.0f} WPM ({verdict or 'in band'}) — {_short(t.text, 60)}"
        body.append(
            f'<rect class="pace {"in" if inside else "out"}" data-t="{t.start_s:.2f}" tabindex="0" role="button" '
            f'aria-label="Play from {escape(tip)}" x="{cx - bw / 2:.1f}" y="{y(w):.1f}" width="{bw:.1f}" height="{y1 - y(w):.1f}" rx="3" '
            f'fill="{COLORS["trainee"] if inside else COLORS["off"]}"><title>{escape(tip)}</title></rect>'
        )
        if n <= 24:
            body.append(f'<text x="{cx:.1f}" y="{y(w) - 4:.1f}" text-anchor="middle" class="tick">{w:.0f}</text>')
        if k % label_every == 0:
            body.append(f'<text x="{cx:.1f}" y="{y1 + 18}" text-anchor="middle" class="tick">{fmt_clock(t.start_s)}</text>')
    body.append(f'<line x1="{PLOT_X0}" x2="{PLOT_X1}" y1="{y1}" y2="{y1}" stroke="{COLORS["axis"]}"/>')
    body.append(f'<text x="{PLOT_X1}" y="{h - 4}" text-anchor="end" class="note">trainee turns, by start time</text>')
    return _svg(h, body, label=f"Speaking rate per trainee turn against the {band_wpm[0]:.0f}–{band_wpm[1]:.0f} WPM band")
