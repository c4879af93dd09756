"""Charts a new user could not read (issue #16 item 7): silence labels on the timeline never
collide, the trend chart labels sessions with readable dates, equal scores stay visible, and
several trainees get a line each instead of every skill of everyone. The timeline is measured
in Chromium (real text widths); the trend PNGs are written for a person to look at
(``$VOICETRAINER_SCREENSHOTS``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from test_web_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401 - the headless Chromium fixture
from voicetrainer.report.schema import SKILLS, Report, Turn
from voicetrainer.report.trend_chart import chart_lines, merge_equal, offsets, session_labels, trend_png


def _dense_silences_report(n: int = 40) -> Report:
    """A 4-minute call: speech bursts of 1-5 s with 3.1-4 s of silence between them, so
    many long silences lie a few pixels apart on a 960-unit-wide timeline."""
    turns, t = [], 2.0
    for k in range(n):
        talk = 1.0 + (k * 7) % 5
        turns.append(Turn(speaker="caller" if k % 2 else "trainee", start_s=t, end_s=t + talk, text="words"))
        t += talk + 3.1 + (k % 4) * 0.3
    return Report(duration_s=t + 2.0, turns=turns)


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are needed")
def test_timeline_silence_labels_never_overlap(browser, tmp_path):
    from voicetrainer.report.html import write_report_html

    page = write_report_html(_dense_silences_report(), tmp_path / "report.html", audio_href=None)
    browser.get(page.as_uri())
    boxes = browser.execute_script(
        "return [].map.call(document.querySelectorAll('#timeline g.silence'),function(g){"
        "var t=g.querySelector('text');if(!t)return null;var b=t.getBoundingClientRect();"
        "return [b.left,b.right,t.textContent]})")
    assert len(boxes) >= 30
    shown = [b for b in boxes if b]
    assert len(shown) >= 10 and any("silence" in b[2] for b in shown)
    shown.sort()
    for (l1, r1, t1), (l2, r2, t2) in zip(shown, shown[1:]):
        assert r1 <= l2 + 0.5, f"{t1!r} overlaps {t2!r}"
    svg = browser.execute_script("var b=document.getElementById('timeline').getBoundingClientRect();return [b.left,b.right]")
    assert all(svg[0] <= lft and rgt <= svg[1] for lft, rgt, _ in shown)


def test_session_labels_are_readable_dates():
    t0 = dt.datetime(2026, 11, 29, 4, 38, 0)
    burst = [t0 + dt.timedelta(seconds=30 * i) for i in range(4)]
    assert session_labels(burst) == ["29 Nov 04:38:00", "29 Nov 04:38:30", "29 Nov 04:39:00", "29 Nov 04:39:30"]
    days = [dt.datetime(2026, 11, 3, 9), dt.datetime(2026, 11, 4, 9), dt.datetime(2026, 11, 4, 10, 30),
            dt.datetime(2026, 11, 12, 9)]
    assert session_labels(days) == ["3 Nov", "4 Nov 09:00", "4 Nov 10:30", "12 Nov"]
    assert session_labels([dt.datetime(2025, 12, 30), dt.datetime(2026, 1, 2)]) == ["30 Dec 2025", "2 Jan 2026"]


def _rows(trainees, n=8):
    t0 = dt.datetime(2026, 11, 29, 4, 38)
    rows = []
    for i in range(n):
        scores = dict.fromkeys(SKILLS, 60.0)
        scores.update(empathy=40.0 + i, calm=100.0, clarity=60.0 if i < 4 else 70.0)
        rows.append({"date": (t0 + dt.timedelta(seconds=30 * i)).isoformat(), "trainee": trainees[i % len(trainees)],
                     "overall": 50.0 + i, "scores": scores})
    return rows


def test_equal_scores_are_drawn_once_and_named_together_others_nudged():
    lines, by_trainee = chart_lines(_rows(["alex"]), SKILLS)
    labels = [label for label, _, _ in lines]
    assert not by_trainee
    assert "listening = patience = expectations = courtesy" in labels and "clarity" in labels
    assert len(labels) == 5  # empathy, the four equal ones, calm, clarity, overall -> 5 lines
    dy = offsets(len(lines))
    assert len(set(dy)) == len(dy) and max(dy) - min(dy) <= 3.0
    assert merge_equal([("a", [(0, 1.0)], {}), ("b", [(0, 1.0)], {}), ("c", [(0, 2.0)], {})])[0][0] == "a = b"


def test_several_trainees_get_one_line_each(tmp_path):
    names = ["alex", "sam", "jo", "kim", "lee", "max", "ana", "bo"]
    lines, by_trainee = chart_lines(_rows(names, 16), SKILLS)
    assert by_trainee and [label for label, _, _ in lines] == names
    out = Path(os.environ.get("VOICETRAINER_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("trend-everyone", _rows(names, 16)), ("trend-one-trainee", _rows(["alex"]))):
        png = trend_png(rows, out / f"{name}.png", skills=SKILLS)
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


