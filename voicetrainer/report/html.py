"""report.html (one call) and index.html (a batch): self-contained pages, no network.

Everything is inline: CSS, a small script, SVG plots. The only external reference is the
recording itself (``audio_href``, a path relative to the page), played by an ``<audio>``
element. Every element carrying ``data-t`` (seconds) seeks the recording there when clicked,
or when Enter/Space is pressed on it; ``report.html#t=42.5`` opens at 42.5 s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicetrainer import get_logger
from voicetrainer.report import plots
from voicetrainer.report.html_base import (  # noqa: F401  (CSS, _write_text re-exported)
    CSS,
    SKILL_LABELS,
    _e,
    _page,
    _score_class,
    _score_text,
    _write_text,
)
from voicetrainer.report.index_html import IndexEntry, render_index_html, write_index_html  # noqa: F401  (re-exported)
from voicetrainer.report.schema import OUTCOME_LABELS
from voicetrainer.report.plots import fmt_clock
from voicetrainer.report.schema import SKILLS, Evidence, Report, Skill

if TYPE_CHECKING:  # pragma: no cover
    from voicetrainer.analysis.rubric import Rubric

log = get_logger(__name__)

def _is_negative(ev: Evidence) -> bool:
    """Evidence that cost points: its ``why`` carries a negative number, e.g. "blame (−15)"."""
    return "(−" in ev.why or "(-" in ev.why


def _fmt_metric(v: Any, unit: str = "", digits: int = 1) -> str:
    if isinstance(v, bool) or v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _e(v)
    if not math.isfinite(f):
        return "–"
    return f"{f:.{digits}f}{unit}"

SCRIPT = """
(function(){
  var a=document.getElementById('player');
  var now=document.getElementById('now');
  function clock(t){t=Math.max(0,Math.floor(t||0));var m=Math.floor(t/60),s=t%60;return (m<10?'0':'')+m+':'+(s<10?'0':'')+s;}
  function seek(t){
    if(!a||!isFinite(t))return;
    if(window.getSelection&&String(window.getSelection()).length)return; // selecting text, not seeking
    a.currentTime=t;
    var p=a.play(); if(p&&p.catch){p.catch(function(){});}
  }
  function target(e){var el=e.target;return el&&el.closest?el.closest('[data-t]'):null;}
  document.addEventListener('click',function(e){var el=target(e);if(el){seek(parseFloat(el.getAttribute('data-t')));}});
  document.addEventListener('keydown',function(e){
    if(e.key!=='Enter'&&e.key!==' ')return;
    var el=target(e); if(!el||el.tagName==='BUTTON')return;
    e.preventDefault(); seek(parseFloat(el.getAttribute('data-t')));
  });
  var svg=document.getElementById('timeline');
  var ph=svg?svg.querySelector('.playhead'):null;
  var turns=[].slice.call(document.querySelectorAll('ol.transcript li[data-start]'));
  function tick(){
    if(!a)return; var t=a.currentTime||0;
    if(now)now.textContent=clock(t);
    if(ph){var x0=+svg.dataset.x0,x1=+svg.dataset.x1,d=+svg.dataset.durS||1;var x=x0+(x1-x0)*Math.min(Math.max(t/d,0),1);
      ph.setAttribute('x1',x);ph.setAttribute('x2',x);ph.setAttribute('visibility','visible');}
    turns.forEach(function(li){var on=t>=+li.dataset.start&&t<+li.dataset.end;li.classList.toggle('playing',on);});
  }
  if(a){a.addEventListener('timeupdate',tick);a.addEventListener('seeked',tick);
    var gone=function(){var g=document.getElementById('gone');if(!g)return;  // moved or deleted
      g.textContent='The recording ('+decodeURIComponent(a.getAttribute('src'))+') is not beside this report any more: '+
        'times are shown but cannot be played.';g.hidden=false;a.hidden=true;};
    a.addEventListener('error',gone);if(a.error)gone();}
  var m=/^#t=([0-9.]+)$/.exec(location.hash);
  if(m&&a){a.currentTime=parseFloat(m[1]);}
  document.documentElement.setAttribute('data-ready','1');
})();
"""


def _skill_meta(rubric: "Rubric | None") -> dict[str, tuple[str, str]]:
    meta = dict(SKILL_LABELS)
    if rubric is not None:
        for name, spec in rubric.skills.items():
            meta[name] = (spec.label or name.title(), spec.description or meta.get(name, ("", ""))[1])
    return meta


def _rubric_of(report: Report) -> "Rubric | None":
    """The rubric named by ``report.source["rubric"]`` (a file path), if it can be loaded."""
    ref = (report.source or {}).get("rubric")
    if not ref:
        return None
    from voicetrainer.analysis.rubric import load_rubric
    from voicetrainer.errors import VoiceTrainerError

    try:
        return load_rubric(None if ref == "default" else ref)
    except VoiceTrainerError as e:
        log.warning("report.html uses the default thresholds: %s", e)
        return None


def _skills_html(report: Report, rubric: "Rubric | None") -> str:
    meta = _skill_meta(rubric)
    names = list(SKILLS) + [k for k in report.skills if k not in SKILLS]
    out = []
    for name in names:
        sk = report.skills.get(name) or Skill(score=None, summary="not scored in this report")
        label, desc = meta.get(name, (name.title(), ""))
        cls = _score_class(sk.score)
        width = 0 if sk.score is None else max(0.0, min(100.0, sk.score))
        evs = sorted(sk.evidence, key=lambda e: e.t_s)
        items = []
        for ev in evs:
            ecls = "neg" if _is_negative(ev) else "pos"
            if "not counted" in ev.why:
                ecls += " nc"
            quote = f"<q>{_e(ev.quote)}</q> " if ev.quote else ""
            items.append(
                f'<li class="{ecls}" data-t="{ev.t_s:.2f}"><button class="ts" type="button" data-t="{ev.t_s:.2f}" '
                f'aria-label="Play from {fmt_clock(ev.t_s)}">{fmt_clock(ev.t_s)}</button> '
                f'{quote}<span class="why">— {_e(ev.why)}</span></li>'
            )
        ev_html = f'<ul class="ev">{"".join(items)}</ul>' if items else '<p class="na">No moments found for this skill.</p>'
        out.append(
            f'<article class="skill" id="skill-{_e(name)}" data-skill="{_e(name)}" data-score="{"" if sk.score is None else f"{sk.score:.1f}"}">'
            f'<div class="top"><h3>{_e(label)}</h3><span class="score {cls}">{_score_text(sk.score)}</span></div>'
            f'<div class="bar {cls}" aria-hidden="true"><i style="width:{width:.0f}%"></i></div>'
            f'<p class="desc">{_e(desc)}</p>' + (f"<p>{_e(sk.summary)}</p>" if sk.summary else "")
            + (f'<p class="instead"><b>Say this instead:</b> “{_e(sk.say_instead)}”</p>' if sk.say_instead else "")
            + f"{ev_html}</article>"
        )
    return "".join(out)


def _quality_html(report: Report) -> str:
    """One line per channel: band (from the spectrum), speech-to-noise ratio, clipping, caller leak."""
    q = report.metrics.get("audio_quality") or {}
    parts = []
    for channel, v in q.items():
        bits = ["telephone band" if v.get("telephone_band") else ("wideband" if v.get("high_band_db") is not None else "band not judged")]
        if v.get("snr_db") is not None:
            bits.append(f"speech {v['snr_db']:.0f} dB above the noise")
        bits.append(f"{(v.get('clipped_fraction') or 0):.1%} clipped")
        if v.get("crosstalk_db") is not None:
            bits.append(f"caller leaks in at {v['crosstalk_db']:.0f} dB")
        parts.append(f"{_e(channel)}: {_e(', '.join(bits))}")
    return f'<p class="sub" id="audio-quality">Audio quality — {"; ".join(parts)}</p>' if parts else ""


def _metric_cards(report: Report) -> str:
    m = report.metrics or {}
    calm = m.get("calm") if isinstance(m.get("calm"), Mapping) else {}
    rows = [
        ("Duration", fmt_clock(report.duration_s)),
        ("Speaking rate", _fmt_metric(m.get("trainee_wpm"), " WPM", 0)),
        ("Talk share", _fmt_metric(None if m.get("talk_ratio") is None else 100 * float(m["talk_ratio"]), " %", 0)),
        ("Mean reply gap", _fmt_metric(m.get("mean_response_gap_s"), " s")),
        ("Longest silence", _fmt_metric(m.get("longest_silence_s"), " s")),
        ("Interruptions", _fmt_metric(m.get("interruptions_by_trainee"), "", 0)),
        ("Fillers / 100 words", _fmt_metric(m.get("filler_rate"), "", 1)),  # filler_rate is per 100 words
        ("Vocal calm", _fmt_metric(calm.get("score"), "", 0)),
    ]
    return "".join(f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div></div>' for k, v in rows)


def _recovery_html(report: Report) -> str:
    """Each caller escalation: did the trainee's voice leave their calm band, and how long until
    it was back (metrics.recovery). Empty when the report has no recovery analysis."""
    rec = (report.metrics or {}).get("recovery")
    if not isinstance(rec, Mapping) or not rec.get("escalations"):
        return ""
    items = []
    for row in rec["escalations"]:
        t = float(row.get("t_s") or 0.0)
        what = "the caller got angrier"
        if row.get("mood_before") is not None and row.get("mood_after") is not None:
            what += f" (mood {row['mood_before']:.1f} → {row['mood_after']:.1f})"
        if row.get("recovered") is None:
            verdict, cls = "you did not answer before the next escalation", "nc"
        elif not row.get("left_band"):
            verdict, cls = "your voice stayed in your calm band", "pos"
        elif row.get("recovered"):
            verdict, cls = f"your voice left your calm band and was back after {row['recovery_s']:.1f} s", "pos"
        else:
            verdict, cls = "your voice left your calm band and had not come back before the next escalation", "neg"
        if row.get("followed_pitch") or row.get("followed_loudness"):
            verdict += ", but it rose with the caller's" if not row.get("left_band") else "; you followed the caller's rise"
            cls = "neg"
        items.append(
            f'<li class="{cls}" data-t="{t:.2f}"><button class="ts" type="button" data-t="{t:.2f}" '
            f'aria-label="Play from {fmt_clock(t)}">{fmt_clock(t)}</button> {_e(what)}: '
            f'<span class="why">{_e(verdict)}</span></li>'
        )
    answered = [r for r in rec["escalations"] if r.get("recovered") is not None]
    parts = []
    if answered:
        stayed = sum(1 for r in answered if not r.get("left_band"))
        parts.append(f"your voice stayed in your calm band after {stayed} of {len(answered)} escalations you answered")
    if rec.get("max_recovery_s"):
        parts.append(f'when it left, it was back after {rec["recovery_s"]:.1f} s on average (longest '
                     f'{rec["max_recovery_s"]:.1f} s)')
    if rec.get("unrecovered"):
        n = rec["unrecovered"]
        parts.append(f"{n} time{'s' if n > 1 else ''} it had not come back before the next escalation")
    text = "; ".join(parts)
    summary = f"<p>{_e(text[:1].upper() + text[1:])}.</p>" if parts else ""
    return (
        '<section aria-labelledby="h-recovery"><h2 id="h-recovery">Under pressure</h2>'
        f'{summary}<ul class="ev">{"".join(items)}</ul></section>'
    )


def _marked(text: str, turn_start_s: float, turn_end_s: float, cited: list[tuple[Evidence, str]]) -> str:
    """``text`` escaped, with each cited quote of this turn wrapped in <mark> (first occurrence
    at or after the previous mark; quotes that do not occur verbatim are left unmarked)."""
    spans: list[tuple[int, int, str, str]] = []
    low = text.lower()
    for ev, skill in sorted(cited, key=lambda c: c[0].t_s):
        q = ev.quote.strip().rstrip("…").strip()
        if len(q) < 2 or len(q) >= 0.8 * len(text) or not (turn_start_s - 0.5 <= ev.t_s <= turn_end_s + 0.5):
            continue  # (a quote of the whole turn is a delivery signal, not a phrase)
        at = low.find(q.lower())
        if at < 0 or any(a < at + len(q) and at < b for a, b, _, _ in spans):
            continue
        spans.append((at, at + len(q), "neg" if _is_negative(ev) else "pos", f"{skill}: {ev.why}"))
    out, pos = [], 0
    for a, b, cls, tip in sorted(spans):
        out.append(_e(text[pos:a]))
        out.append(f'<mark class="{cls}" title="{_e(tip)}">{_e(text[a:b])}</mark>')
        pos = b
    out.append(_e(text[pos:]))
    return "".join(out)


def _transcript_html(report: Report) -> str:
    # phrase evidence (not whole-turn signals) is highlighted in the transcript
    cited = [
        (ev, name) for name, sk in report.skills.items() for ev in sk.evidence
        if ev.quote and not ev.quote.endswith("…")
    ]  # fmt: skip
    items = []
    for i, t in enumerate(report.turns):
        text = t.text or " ".join(w.word.strip() for w in t.words)
        if text:
            body = _marked(text, t.start_s, t.end_s, cited) if t.speaker == "trainee" else _e(text)
        else:
            body = "(no words recognised)" if t.text_source != "none" else "(not transcribed)"
        extra = f' <span class="na">[{_e(t.asr_error)}]</span>' if t.asr_error else ""
        items.append(
            f'<li class="{_e(t.speaker)}" id="turn-{i}" data-t="{t.start_s:.2f}" data-start="{t.start_s:.2f}" data-end="{t.end_s:.2f}">'
            f'<span><button class="ts" type="button" data-t="{t.start_s:.2f}" aria-label="Play from {fmt_clock(t.start_s)}">'
            f"{fmt_clock(t.start_s)}</button></span>"
            f'<span class="who">{_e(t.speaker.title())}</span><p>{body}{extra}</p></li>'
        )
    return f'<ol class="transcript">{"".join(items)}</ol>' if items else "<p>No turns in this report.</p>"

def render_report_html(
    report: Report,
    *,
    audio_href: str | None,
    title: str | None = None,
    rubric: "Rubric | None" = None,
    subtitle: str | None = None,
) -> str:
    """The report page as a string. See `write_report_html`."""
    from voicetrainer.analysis.rubric import Thresholds

    if rubric is None:
        rubric = _rubric_of(report)
    th = rubric.thresholds if rubric is not None else Thresholds()
    band = (th.wpm_min, th.wpm_max)
    long_s = th.long_silence_s
    src = report.source or {}
    name = src.get("persona") or (Path(str(src["input"])).name if src.get("input") else None)
    title = title or f"Call report — {name or 'practice call'}"
    bits = [f"{fmt_clock(report.duration_s)} call"]
    for key in ("trainee", "persona", "date", "mode"):
        if src.get(key):
            bits.append(f"{key}: {src[key]}")
    if rubric is not None:
        bits.append(f"rubric: {rubric.name}")
    subtitle = subtitle or " · ".join(str(b) for b in bits)
    if audio_href:
        player = (
            f'<audio id="player" controls preload="metadata" src="{_e(audio_href)}">'
            f'Your browser cannot play the recording; open <a href="{_e(audio_href)}">{_e(audio_href)}</a>.</audio>'
            '<span class="now" id="now" aria-live="off">00:00</span><span class="low" id="gone" role="alert" hidden></span>'
            '<span class="sub">Click a turn, a bar or a time to play from there.</span>'
        )
    else:
        player = '<span class="sub">No recording is linked to this report; times are shown but cannot be played.</span>'
    overall_cls = _score_class(report.overall)
    warnings = "".join(f"<li>{_e(w)}</li>" for w in report.warnings)
    outcome = (
        f'<section class="outcome" aria-label="How the call ended"><h2>Outcome: {_e(OUTCOME_LABELS.get(report.outcome, report.outcome))}</h2>'
        + (f"<p>{_e(report.outcome_reason)}</p>" if report.outcome_reason else "") + "</section>"
        if report.outcome else ""
    )
    body = (
        f'<div class="player" role="region" aria-label="Recording"><div class="in">{player}</div></div><main>'
        + outcome
        + f'<div class="hdr"><div><h1>{_e(title)}</h1><p class="sub">{_e(subtitle)}</p></div>'
        f'<div class="overall {overall_cls}" aria-label="Overall score"><b id="overall">{_score_text(report.overall)}</b>overall</div></div>'
        + (f'<section class="warn"><h2>Notes</h2><ul>{warnings}</ul></section>' if warnings else "")
        + f'<section aria-labelledby="h-metrics"><h2 id="h-metrics">Key figures</h2><div class="cards">{_metric_cards(report)}</div>'
        + _quality_html(report) + '</section>'
        f'<section aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2>{plots.timeline_svg(report, long_silence_s=long_s)}'
        '<div class="legend"><span style="--c:#64748b">caller</span><span style="--c:#0f766e">trainee</span>'
        f'<span style="--c:#b91c1c">interruption</span><span style="--c:#e2e8f0">silence ≥ {long_s:g} s</span></div></section>'
        f'<section aria-labelledby="h-skills"><h2 id="h-skills">Skills</h2><div class="skills">{_skills_html(report, rubric)}</div></section>'
        f'<section aria-labelledby="h-voice"><h2 id="h-voice">Voice</h2>{plots.voice_svg(report)}'
        '<div class="legend"><span style="--c:#0f766e">trainee</span><span style="--c:#ccfbf1">own baseline band</span>'
        '<span style="--c:#7c3aed">caller mood</span></div></section>'
        + _recovery_html(report)
        + f'<section aria-labelledby="h-pacing"><h2 id="h-pacing">Pacing</h2>{plots.pacing_svg(report, band_wpm=band)}'
        f'<div class="legend"><span style="--c:#ccfbf1">target {band[0]:.0f}–{band[1]:.0f} words/min</span>'
        '<span style="--c:#0f766e">in band</span><span style="--c:#d97706">outside the band</span></div></section>'
        f'<section aria-labelledby="h-transcript"><h2 id="h-transcript">Transcript</h2>{_transcript_html(report)}</section>'
        "</main>"
    )
    return _page(title, body, script=SCRIPT)

def relative_href(target: str | Path, page: str | Path) -> str:
    """``target`` as a URL relative to the folder of ``page`` (forward slashes, %-escaped)."""
    from urllib.parse import quote

    rel = os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    return quote(Path(rel).as_posix())


def write_report_html(
    report: Report,
    path: str | Path,
    *,
    audio_href: str | None,
    title: str | None = None,
    rubric: "Rubric | None" = None,
) -> Path:
    """Write report.html for one call.

    Args:
        report: the graded call (skills already scored).
        path: the page to write, normally ``<session>/report.html`` beside report.json.
        audio_href: the recording as a URL relative to the page (see `relative_href`), or None
            when there is no recording to play.
        title: page title; default from ``report.source``.
        rubric: the rubric used; gives skill labels, the WPM band and the long-silence threshold.
    Returns:
        the path written.
    """
    path = Path(path)
    _write_text(path, render_report_html(report, audio_href=audio_href, title=title, rubric=rubric))
    log.info("wrote %s", path)
    return path
