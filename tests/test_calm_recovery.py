"""Recovery after escalation and emotional contagion (voicetrainer.analysis.recovery).

Known answers: a constructed two-channel call of espeak-ng voices (the caller's pitch raised at
a known time, the trainee's raised and back to calm after a known delay), graded end to end;
and hand-made tracks for the mood-event path of practice sessions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from calm_voices import SR, constructed_call

from voicetrainer.analysis.recovery import (
    RecoveryOptions, Track, analyze_recovery, mood_escalations, recovery_after, report_recovery, Band,
)

TOL_S = 0.4  # recovery time tolerance: track points are 250 ms apart


@pytest.fixture(scope="module")
def graded_calls(tmp_path_factory):
    """The constructed call with a quick (1 raised sentence) and a slow (3) return, graded."""
    import soundfile as sf

    from voicetrainer.session.grader import grade

    out = {}
    for n in (1, 3):
        call = constructed_call(n)
        path = tmp_path_factory.mktemp("calls") / f"raised{n}.wav"
        sf.write(str(path), call.audio, SR)
        out[n] = (call, grade(path, transcriber=None))
    return out


@pytest.mark.parametrize("raised", [1, 3])
def test_recovery_time_on_constructed_call(graded_calls, raised):
    call, report = graded_calls[raised]
    rec = report.metrics["recovery"]
    assert rec["escalation_source"] == "voice"
    esc = rec["escalations"]
    assert [round(e["t_s"], 1) for e in esc] == pytest.approx([round(t, 1) for t in call.escalation_s], abs=0.15)
    first, second = esc
    truth = call.back_s - call.escalation_s[0]
    assert first["left_band"] is True and first["recovered"] is True
    assert first["recovery_s"] == pytest.approx(truth, abs=TOL_S)
    assert first["peak_pitch_rise_st"] > 6.0
    # contagion: the caller rose and the trainee followed in pitch and loudness ...
    assert first["caller_pitch_rise_st"] > 5.0 and first["followed_pitch"] is True
    assert first["followed_loudness"] is True
    # ... the second time the trainee stayed in the band and did not follow
    assert second["left_band"] is False and second["recovery_s"] == 0.0
    assert second["caller_pitch_rise_st"] > 5.0 and second["followed_pitch"] is False
    assert rec["contagion"]["pitch_followed_share"] == 0.5
    assert rec["recovery_s"] == pytest.approx(truth / 2, abs=TOL_S)  # mean of (truth, 0)
    assert rec["max_recovery_s"] == first["recovery_s"]
    assert rec["unrecovered"] == 0


def test_slow_return_takes_longer(graded_calls):
    (quick, rq), (slow, rs) = graded_calls[1], graded_calls[3]
    dq = rq.metrics["recovery"]["escalations"][0]["recovery_s"]
    ds = rs.metrics["recovery"]["escalations"][0]["recovery_s"]
    extra = (slow.back_s - slow.escalation_s[0]) - (quick.back_s - quick.escalation_s[0])
    assert extra > 4.0
    assert ds - dq == pytest.approx(extra, abs=TOL_S)


def test_report_json_has_recovery(graded_calls):
    import json

    _, report = graded_calls[1]
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(d["metrics"]["recovery"]) >= {"escalations", "recovery_s", "contagion", "band"}


# ----------------------------------------------------------------------------- pure functions

def _tracks(points_s: float, trainee_pitch, trainee_loud, caller_pitch=None, caller_loud=None) -> dict:
    t = [round(0.125 + 0.25 * i, 3) for i in range(int(points_s / 0.25))]

    def col(f):
        return [None if f is None else f(x) for x in t]

    tracks = {"trainee": {"t_s": t, "pitch_hz": col(trainee_pitch), "loudness_dbfs": col(trainee_loud)}}
    if caller_pitch:
        tracks["caller"] = {"t_s": t, "pitch_hz": col(caller_pitch), "loudness_dbfs": col(caller_loud)}
    return tracks


def _speaking(spans, value):
    return lambda x: value(x) if any(a <= x < b for a, b in spans) else None


BASE = {"pitch_median_hz": 120.0, "loudness_dbfs": -30.0}


def test_mood_escalation_recovery_from_tracks():
    """A session: the mood rises at a trainee turn ending 6 s; the caller's next turn starts at
    7 s; the trainee answers from 10 s, 6 semitones high until 14 s, calm after: 7 s recovery."""
    trainee_spans = [(1, 6), (10, 20)]
    pitch = _speaking(trainee_spans, lambda x: 120.0 * (2 ** (6 / 12) if 10 <= x < 14 else 1.0))
    loud = _speaking(trainee_spans, lambda x: -30.0)
    tracks = _tracks(24, pitch, loud)
    turns = [{"speaker": "trainee", "start_s": 1, "end_s": 6}, {"speaker": "caller", "start_s": 7, "end_s": 9.5},
             {"speaker": "trainee", "start_s": 10, "end_s": 20}]
    events = [
        {"type": "decision", "t_s": 1.0, "kind": "mood", "reason": "calm_down", "mood_before": 5.0, "mood_after": 7.0},
        {"type": "decision", "t_s": 1.0, "kind": "line", "reason": "escalation", "mood_before": 7.0, "mood_after": 7.0},
        {"type": "decision", "t_s": 10.0, "kind": "mood", "reason": "apology", "mood_before": 7.0, "mood_after": 6.0},
    ]
    rec = analyze_recovery(tracks=tracks, turns=turns, baseline=BASE, events=events, duration_s=24)
    assert rec["escalation_source"] == "mood"
    (esc,) = rec["escalations"]
    assert esc["t_s"] == 7 and esc["mood_before"] == 5.0 and esc["mood_after"] == 7.0
    assert esc["recovery_s"] == pytest.approx(7.0, abs=0.25)
    assert esc["back_at_s"] == pytest.approx(14.0, abs=0.25)
    assert esc["peak_pitch_rise_st"] == pytest.approx(6.0, abs=0.1)


def test_loudness_alone_leaves_the_band():
    trainee_spans = [(2, 12)]
    pitch = _speaking(trainee_spans, lambda x: 120.0)
    loud = _speaking(trainee_spans, lambda x: -30.0 + (12.0 if x < 6 else 0.0))
    rec = recovery_after(Track.from_dict(_tracks(14, pitch, loud)["trainee"]), 1.0, 14.0,
                         Band.from_baseline(BASE))
    assert rec["left_band"] is True
    # loudness is judged on a 2 s mean: the return shows within loudness_smooth_s of 6 s
    assert 5.0 <= rec["back_at_s"] <= 6.0 + RecoveryOptions().loudness_smooth_s


def test_never_returning_and_silent_trainee():
    band = Band.from_baseline(BASE)
    high = Track.from_dict(_tracks(10, _speaking([(2, 10)], lambda x: 180.0), lambda x: -30.0)["trainee"])
    rec = recovery_after(high, 1.0, 10.0, band)
    assert rec["left_band"] is True and rec["recovered"] is False and rec["recovery_s"] is None
    silent = Track.from_dict(_tracks(10, lambda x: None, lambda x: None)["trainee"])
    rec = recovery_after(silent, 1.0, 10.0, band)
    assert rec["recovered"] is None and rec["recovery_s"] is None


def test_octave_error_is_not_a_rise():
    """One track point an octave up (a YIN error) is smoothed away: the trainee never left."""
    pitch = _speaking([(2, 8)], lambda x: 240.0 if abs(x - 4.125) < 0.01 else 120.0)
    rec = recovery_after(Track.from_dict(_tracks(10, pitch, lambda x: -30.0)["trainee"]), 1.0, 10.0,
                         Band.from_baseline(BASE))
    assert rec["left_band"] is False and rec["recovery_s"] == 0.0


def test_mood_escalations_merge_on_one_caller_turn():
    events = [{"type": "decision", "t_s": 3.0, "mood_before": 4.0, "mood_after": 5.0, "reason": "a"},
              {"type": "decision", "t_s": 3.5, "mood_before": 5.0, "mood_after": 6.5, "reason": "b"},
              {"type": "decision", "t_s": 9.0, "mood_before": 6.5, "mood_after": 6.0, "reason": "c"}]
    (esc,) = mood_escalations(events, [(0.0, 2.0), (4.0, 6.0), (10.0, 12.0)])
    assert (esc.t_s, esc.mood_before, esc.mood_after, esc.caller_turn) == (4.0, 4.0, 6.5, 1)


def test_small_mood_drifts_are_not_escalations():
    """Issue #16 item 5: the +0.4 "nothing that helps" drifts (and a rise capped at 10, shown
    as "mood 10.0 -> 10.0") are not escalations; a rise of a full point is, and two drifts
    landing on the same caller turn count by their sum."""
    events = [{"type": "decision", "t_s": 1.0, "mood_before": 7.0, "mood_after": 7.44, "reason": "nothing that helps"},
              {"type": "decision", "t_s": 5.0, "mood_before": 7.44, "mood_after": 9.09, "reason": "talked over"},
              {"type": "decision", "t_s": 8.0, "mood_before": 9.53, "mood_after": 9.97, "reason": "nothing that helps"},
              {"type": "decision", "t_s": 12.0, "mood_before": 9.97, "mood_after": 10.0, "reason": "nothing that helps"},
              {"type": "decision", "t_s": 14.0, "mood_before": 3.0, "mood_after": 3.6, "reason": "a"},
              {"type": "decision", "t_s": 14.5, "mood_before": 3.6, "mood_after": 4.2, "reason": "b"}]
    turns = [(2.0, 4.0), (6.0, 7.0), (9.0, 10.0), (13.0, 13.5), (15.0, 16.0)]
    got = mood_escalations(events, turns)
    assert [(e.t_s, e.mood_before, e.mood_after) for e in got] == [(6.0, 7.44, 9.09), (15.0, 3.0, 4.2)]


def test_no_escalation_no_recovery():
    tracks = _tracks(10, _speaking([(5, 9)], lambda x: 120.0), lambda x: -30.0,
                     _speaking([(1, 4)], lambda x: 200.0), lambda x: -25.0)
    turns = [{"speaker": "caller", "start_s": 1, "end_s": 4}, {"speaker": "trainee", "start_s": 5, "end_s": 9}]
    rec = analyze_recovery(tracks=tracks, turns=turns, baseline=BASE)
    assert rec["escalations"] == [] and rec["recovery_s"] is None and rec["unrecovered"] == 0
    assert not math.isnan(rec["band"]["pitch_max_hz"])


def test_report_recovery_uses_events():
    from voicetrainer.report.schema import Report, Turn

    trainee_spans = [(10, 20)]
    tracks = _tracks(22, _speaking(trainee_spans, lambda x: 200.0 if x < 12 else 120.0),
                     _speaking(trainee_spans, lambda x: -30.0))
    rep = Report(duration_s=22, turns=[Turn("caller", 7, 9.5), Turn("trainee", 10, 20)],
                 metrics={"calm": {"baseline": BASE}}, tracks=tracks,
                 events=[{"type": "decision", "t_s": 2.0, "mood_before": 3, "mood_after": 5, "reason": "x"}])
    rec = report_recovery(rep)
    assert rec["escalation_source"] == "mood"
    assert rec["escalations"][0]["recovery_s"] == pytest.approx(5.0, abs=0.25)
    assert np.isfinite(rec["recovery_s"])


class _CalmDownTranscriber:
    """ASR stand-in: every answer is heard as "you need to calm down" (angers any caller)."""

    def transcribe(self, audio, *, offset_s: float = 0.0):
        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        dur = len(audio) / SR
        if dur < 0.6:
            return Transcript()
        words = [Word(w, offset_s + 0.1 + 0.25 * i, offset_s + 0.3 + 0.25 * i) for i, w in enumerate("you need to calm down".split())]
        return Transcript(words=words, text=" ".join(w.word for w in words))


def test_practice_session_reports_recovery_after_mood_rises(tmp_path):
    """A simulated practice call (accelerated, FakeTTS caller, an answer the caller hates): the
    report's escalations are the dialog's mood rises, each at the start of the caller turn that
    followed it, and the hang-up gets the breathing exercise offered."""
    from pathlib import Path

    from voicetrainer.calm.breathe import breathing_suggestion
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.live import LiveOptions
    from voicetrainer.session.practice import simulate

    demo = Path(__file__).resolve().parents[1] / "audio_fixtures" / "demo_trainee.wav"
    report = simulate("billing-double-charge", demo, tmp_path / "s", realtime=False, transcriber=_CalmDownTranscriber(),
                      tts_backend=FakeTTS(), db=None, html=False, options=LiveOptions(realtime=False))
    rec = report.metrics["recovery"]
    assert rec["escalation_source"] == "mood"
    rises = [e for e in report.events if e.get("type") == "decision" and e["mood_after"] - e["mood_before"] >= 1.0]
    assert rises, "'calm down' must anger the caller"
    caller_starts = [t.start_s for t in report.turns if t.speaker == "caller"]
    want = sorted({min((s for s in caller_starts if s >= e["t_s"] - 0.05), default=e["t_s"]) for e in rises})
    assert [e["t_s"] for e in rec["escalations"]] == pytest.approx(want, abs=1e-3)
    for e in rec["escalations"]:
        assert e["mood_after"] - e["mood_before"] >= 1.0
        assert e["recovered"] is None or (e["recovery_s"] is None) != e["recovered"]
    assert report.source["outcome"] == "hung_up" and "calm breathe" in breathing_suggestion(report)


def test_contagion_in_a_session_counts_mood_rises():
    """Sessions: a mood rise is the caller's rise even if the synthetic voice barely moved; the
    trainee who answers 4 semitones above their last turn followed it."""
    spans = [(1, 5), (9, 14)]
    pitch = _speaking(spans, lambda x: 120.0 * (2 ** (4 / 12) if x >= 9 else 1.0))
    tracks = _tracks(16, pitch, _speaking(spans, lambda x: -30.0),
                     _speaking([(6, 8.5)], lambda x: 200.0), _speaking([(6, 8.5)], lambda x: -25.0))
    turns = [{"speaker": "trainee", "start_s": 1, "end_s": 5}, {"speaker": "caller", "start_s": 6, "end_s": 8.5},
             {"speaker": "trainee", "start_s": 9, "end_s": 14}]
    events = [{"type": "decision", "t_s": 1.0, "mood_before": 5.0, "mood_after": 6.0, "reason": "x"}]
    rec = analyze_recovery(tracks=tracks, turns=turns, baseline=BASE, events=events, duration_s=16)
    (esc,) = rec["escalations"]
    assert esc["trainee_pitch_change_st"] == pytest.approx(4.0, abs=0.1)
    assert esc["followed_pitch"] is True and esc["followed_loudness"] is False
    assert rec["contagion"]["pitch_followed_share"] == 1.0


def test_report_html_shows_each_escalation_and_the_recovery_time(graded_calls):
    """The HTML report's "Under pressure" section: one clickable line per escalation, the
    recovery time of the one the trainee's voice left the band for, and the contagion."""
    import re

    from voicetrainer.report.html import render_report_html

    call, report = graded_calls[3]
    rec = report.metrics["recovery"]
    html = render_report_html(report, audio_href=None)
    section = html[html.index('id="h-recovery"'):]
    section = section[: section.index("</section>")]
    lines = re.findall(r'<li class="(\w+)" data-t="([\d.]+)"', section)
    assert [float(t) for _, t in lines] == pytest.approx([e["t_s"] for e in rec["escalations"]], abs=0.01)
    first, second = rec["escalations"]
    assert f"back after {first['recovery_s']:.1f} s" in section and "followed the caller" in section
    assert lines[0][0] == "neg" and lines[1][0] == "pos"  # followed the rise / stayed in the band
    assert "stayed in your calm band" in section
    assert f"back after {rec['recovery_s']:.1f} s on average (longest {rec['max_recovery_s']:.1f} s)" in section
    assert "stayed in your calm band after 1 of 2 escalations" in section
