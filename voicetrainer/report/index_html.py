"""The batch index page (index.html): one sortable row per graded input (split out of ``html.py``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicetrainer import get_logger
from voicetrainer.report.html_base import SKILL_LABELS, _e, _page, _score_class, _write_text
from voicetrainer.report.schema import OUTCOME_LABELS, SKILLS, Report
from voicetrainer.report.svg import fmt_clock

log = get_logger(__name__)


@dataclass(frozen=True)
class IndexEntry:
    """One row of a batch index.

    Attributes:
        name: what the row is called (the input's file or folder name).
        href: the row's report.html, relative to index.html; None when grading failed.
        report: the graded report, or None when grading failed.
        error: why grading failed (shown instead of scores).
        trainee, persona, date: optional labels (ISO 8601 date).
    """

    name: str
    href: str | None
    report: Report | None = None
    error: str | None = None
    trainee: str | None = None
    persona: str | None = None
    date: str | None = None


INDEX_SCRIPT = """
(function(){
  var table=document.getElementById('summary');
  var body=table.tBodies[0];
  [].forEach.call(table.tHead.rows[0].cells,function(th,col){
    var b=th.querySelector('button'); if(!b)return;
    b.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      [].forEach.call(table.tHead.rows[0].cells,function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var num=th.dataset.type==='num';
      var rows=[].slice.call(body.rows);
      function val(r){var c=r.cells[col];return c&&c.colSpan===1?c.dataset.v:'';}
      rows.sort(function(r1,r2){
        var a=val(r1),b2=val(r2);
        if(num){var x=a===''?NaN:+a,y=b2===''?NaN:+b2;
          if(isNaN(x)&&isNaN(y))return 0;if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;}
        return asc?a.localeCompare(b2):b2.localeCompare(a);
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  document.documentElement.setAttribute('data-ready','1');
})();
"""


def _num_cell(v: Any, digits: int = 0, unit: str = "") -> tuple[str, str]:
    """(sort value, shown text) of a number; ("", "–") when missing."""
    f = None
    if not isinstance(v, bool) and v is not None:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = None
    if f is None or not math.isfinite(f):
        return ("", "–")
    return (f"{f:.3f}", f"{f:.{digits}f}{unit}")


def render_index_html(entries: Iterable[IndexEntry], *, title: str = "Graded calls") -> str:
    """The batch index page as a string. See `write_index_html`."""
    entries = list(entries)

    def label(en: IndexEntry, key: str) -> str:
        src = (en.report.source if en.report else {}) or {}
        return str(getattr(en, key) or src.get(key) or "")

    # label columns only when some row has a value (a batch of loose WAV files has none)
    labels = [k for k in ("trainee", "persona", "date") if any(label(en, k) for en in entries)]
    cols: list[tuple[str, str]] = [("Call", "text"), *[(k.title(), "text") for k in labels]]
    show_outcome = any(en.report is not None and en.report.outcome for en in entries)  # none for recordings
    if show_outcome:
        cols.insert(1, ("Outcome", "text"))
    cols += [("Length", "num"), ("Overall", "num")]
    cols += [(SKILL_LABELS[s][0], "num") for s in SKILLS]
    cols += [("WPM", "num"), ("Interruptions", "num"), ("Vocal calm", "num"), ("Notes", "text")]
    shy = {"Expectations": "Expec\u00adtations", "Interruptions": "Inter\u00adruptions", "Listening": "Listen\u00ading",
           "Patience": "Pa\u00adtience", "Courtesy": "Cour\u00adtesy", "Empathy": "Empa\u00adthy"}  # soft hyphens: narrow
    head = "".join(
        f'<th scope="col" data-type="{t}"><button type="button" class="sort">{_e(shy.get(c, c))}</button></th>'
        for c, t in cols
    )
    rows = []
    for en in entries:
        r = en.report
        link = f'<a href="{_e(en.href)}">{_e(en.name)}</a>' if en.href else _e(en.name)
        outcome = (r.outcome or "") if r else ""
        cells = [(en.name, link), *([(outcome, _e(OUTCOME_LABELS.get(outcome, outcome)))] if show_outcome else []),
                 *[(label(en, k), _e(label(en, k))) for k in labels]]
        if r is None:
            span = len(cols) - len(cells)
            err = f'<span class="low">failed: {_e(en.error or "unknown error")}</span>'
            rows.append("<tr>" + "".join(f'<td data-v="{_e(v)}">{h}</td>' for v, h in cells)
                        + f'<td class="wrap" colspan="{span}" data-v="">{err}</td></tr>')  # fmt: skip
            continue
        cells.append((f"{r.duration_s:.3f}", fmt_clock(r.duration_s)))
        v, s = _num_cell(r.overall)
        cells.append((v, f'<b class="{_score_class(r.overall)}">{s}</b>'))
        for skill in SKILLS:
            sk = r.skills.get(skill)
            v, s = _num_cell(sk.score if sk else None)
            cells.append((v, f'<span class="{_score_class(sk.score if sk else None)}">{s}</span>'))
        m = r.metrics or {}
        calm = m.get("calm") if isinstance(m.get("calm"), Mapping) else {}
        cells += [_num_cell(m.get("trainee_wpm")), _num_cell(m.get("interruptions_by_trainee")), _num_cell(calm.get("score"))]
        notes = "".join(f"<li>{_e(w)}</li>" for w in r.warnings)  # every warning: telephone band, clipping, mono...
        rows.append("<tr>" + "".join(f'<td data-v="{_e(v)}">{h}</td>' for v, h in cells)
                    + f'<td class="wrap notes" data-v="{_e("; ".join(r.warnings))}">'
                    + (f'<ul class="notes">{notes}</ul>' if notes else "–") + "</td></tr>")
    ok = sum(1 for e in entries if e.report is not None)
    body = (
        f'<main><h1>{_e(title)}</h1><p class="sub">{ok} of {len(entries)} calls graded. '
        "Click a column heading to sort; click a call to open its report.</p>"
        f'<section><div class="scroll"><table id="summary"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div></section></main>'
    )
    css_extra = (
        # fits 1280 px: headings and notes wrap, numbers do not; anything wider scrolls inside its card
        "table{font-size:.9rem}th,td{padding:6px 5px;vertical-align:top}th{white-space:normal;vertical-align:bottom}"
        "td{white-space:nowrap}td:first-child,td.wrap{white-space:normal;overflow-wrap:anywhere}td:first-child{min-width:9em}"
        "td.notes{min-width:13em;font-size:.85rem;color:var(--muted)}ul.notes{margin:0;padding-left:1.1em}a{color:var(--focus)}"
        "th button.sort{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:var(--fg)}"
        'th[aria-sort=ascending] button.sort::after{content:" ▲"}th[aria-sort=descending] button.sort::after{content:" ▼"}'
        "main{max-width:1400px}.scroll{overflow-x:auto}"
    )
    return _page(title, body, script=INDEX_SCRIPT).replace("</style>", css_extra + "</style>", 1)


def write_index_html(entries: Iterable[IndexEntry], path: str | Path, *, title: str = "Graded calls") -> Path:
    """Write index.html for a batch: one sortable row per call, linking its report.html."""
    path = Path(path)
    _write_text(path, render_index_html(entries, title=title))
    log.info("wrote %s", path)
    return path
