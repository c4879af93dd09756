"""What every HTML page of a report shares: labels, escaping, score classes, the stylesheet,
the page frame and the atomic writer (split out of ``html.py``)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from voicetrainer.atomic import write_atomic

SKILL_LABELS = {
    "empathy": ("Empathy", "Acknowledges the caller's feelings and apologises where it fits."),
    "listening": ("Listening", "Lets the caller finish, repeats their facts back, asks clarifying questions."),
    "patience": ("Patience", "Does not talk over the caller or rush them."),
    "calm": ("Calm", "Voice stays near the trainee's own baseline while the caller is angry."),
    "clarity": ("Clarity", "Plain words, steady pace, few fillers."),
    "expectations": ("Expectations", "Says what happens next and when."),
    "courtesy": ("Courtesy", "Greets, thanks, and never dismisses the caller."),
}


def _e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def _score_text(score: float | None) -> str:
    return "–" if score is None else f"{score:.0f}"


def _score_class(score: float | None) -> str:
    if score is None:
        return "na"
    return "good" if score >= 75 else "ok" if score >= 50 else "low"


CSS = """
:root{--fg:#1f2937;--muted:#4b5563;--bg:#f8fafc;--card:#fff;--line:#e5e7eb;--caller:#475569;
--trainee:#0f766e;--bad:#b91c1c;--good:#166534;--ok:#92400e;--focus:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1120px;margin:0 auto;padding:0 20px 48px}
h1{font-size:1.6rem;margin:20px 0 4px}
h2{font-size:1.2rem;margin:0 0 10px}
h3{font-size:1.05rem;margin:0}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:16px 0}
.sub{color:var(--muted);margin:0}
.player{position:sticky;top:0;z-index:5;background:#fffffff2;border-bottom:1px solid var(--line);backdrop-filter:blur(4px)}
.player .in{max-width:1120px;margin:0 auto;padding:8px 20px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.player audio{flex:1 1 420px;min-width:260px;height:40px}
.player .now{font-variant-numeric:tabular-nums;color:var(--muted);min-width:7ch}
.hdr{display:flex;justify-content:space-between;gap:20px;align-items:flex-end;flex-wrap:wrap}
.overall{text-align:center;border-radius:12px;padding:8px 18px;border:2px solid currentColor}
.overall b{display:block;font-size:2.2rem;line-height:1.1}
.good{color:var(--good)}.ok{color:var(--ok)}.low{color:var(--bad)}.na{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 10px;background:#fff}
.card .k{color:var(--muted);font-size:.85rem}.card .v{font-size:1.15rem;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.skills{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.skill{border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.skill .top{display:flex;justify-content:space-between;align-items:baseline;gap:8px}
.skill .score{font-size:1.5rem;font-weight:700;font-variant-numeric:tabular-nums}
.bar{height:8px;background:#eef2f7;border-radius:4px;margin:6px 0 8px;overflow:hidden}
.bar i{display:block;height:100%;border-radius:4px;background:currentColor}
.skill p{margin:4px 0;color:var(--muted);font-size:.92rem}
ul.ev{list-style:none;padding:0;margin:8px 0 0}
ul.ev li{padding:4px 0 4px 10px;border-left:3px solid var(--good);margin:4px 0;font-size:.95rem}
ul.ev li.neg{border-left-color:var(--bad)}ul.ev li.nc{border-left-color:#cbd5e1}
.skill p.desc{color:var(--fg);font-size:.9rem}
ul.ev .why{color:var(--muted)}
button.ts{font:inherit;font-variant-numeric:tabular-nums;font-size:.9rem;color:var(--focus);background:#eff6ff;
border:1px solid #bfdbfe;border-radius:5px;padding:0 6px;cursor:pointer}
button.ts:hover{background:#dbeafe}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
svg.plot{width:100%;height:auto;display:block;font-family:inherit}
svg .tick{font-size:12px;fill:#475569}svg .lane{font-size:14px;fill:#1f2937;font-weight:600}
svg .note{font-size:12px;fill:#64748b}svg .ptitle{font-size:13px;fill:#1f2937;font-weight:600}
svg [data-t]{cursor:pointer}svg [data-t]:hover{opacity:.8}
svg [data-t]:focus-visible{outline:none;stroke:var(--focus);stroke-width:3}
.legend{display:flex;gap:16px;flex-wrap:wrap;color:var(--muted);font-size:.9rem;margin:6px 0 0}
.legend span::before{content:"";display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px;background:var(--c)}
ol.transcript{list-style:none;padding:0;margin:0}
ol.transcript li,ul.ev li{cursor:pointer}ol.transcript li:hover{background:#f1f5f9}
ol.transcript li{display:grid;grid-template-columns:70px 80px 1fr;gap:10px;padding:6px 8px;border-radius:6px}
ol.transcript li.caller .who{color:var(--caller);font-weight:600}
ol.transcript li.trainee .who{color:var(--trainee);font-weight:600}
ol.transcript li.playing{background:#fef9c3}
ol.transcript p{margin:0}
mark{background:#dcfce7;color:inherit;border-radius:3px;padding:0 2px}mark.neg{background:#fee2e2}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums}
.warn{border-color:#fcd34d;background:#fffbeb}
@media print{.player{position:static}}
"""


def _page(title: str, body: str, *, script: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        "script-src 'unsafe-inline'; img-src data:; media-src 'self' file: data: blob:\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}<script>{script}</script></body></html>\n"
    )


def _write_text(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a page; the mode of
    every result file (`voicetrainer.atomic`)."""
    write_atomic(path, text)
