"""`voicetrainer calm breathe | drill` end to end (no audio device), and the breathing tip after calls."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from calm_voices import CALM_PITCH, RAISED_PITCH, SR, say

from voicetrainer.cli import main


def test_breathe_writes_cues_on_schedule(tmp_path, capsys):
    import soundfile as sf
    from test_calm_breathe import onsets

    from voicetrainer.calm.breathe import PATTERNS, cue_schedule

    out = tmp_path / "cues.wav"
    assert main(["calm", "breathe", "--pattern", "4-7-8", "--minutes", "1", "--out", str(out)]) == 0
    assert "4-7-8" in capsys.readouterr().out
    audio, sr = sf.read(str(out), dtype="float32")
    want = np.array([c.start_s for c in cue_schedule(PATTERNS["4-7-8"], minutes=1)])
    found = onsets(audio, sr)
    assert sr == SR and len(found) == len(want) and np.max(np.abs(found - want)) < 0.050


def test_breathe_bad_pattern_is_exit_2(capsys):
    assert main(["calm", "breathe", "--pattern", "square", "--out", "/dev/null"]) == 2
    assert "--pattern" in capsys.readouterr().err


def test_breath_view_animation():
    from rich.console import Console

    from voicetrainer.calm.breathe import PATTERNS, cue_schedule
    from voicetrainer.cli.calm import breath_view

    cues = cue_schedule(PATTERNS["box"], minutes=0.5, lead_in_s=1.0)

    def text(t_s: float) -> str:
        con = Console(file=io.StringIO(), width=60, color_system=None)
        con.print(breath_view(cues, t_s, width=40))
        return con.file.getvalue()

    mid_in = text(3.0)
    assert "Breathe in" in mid_in and " 2 s" in mid_in and mid_in.count("█") == 20
    assert text(7.0).count("█") == 40 and "Hold" in text(7.0)
    assert "Breathe out" in text(11.0) and text(11.0).count("█") == 20
    assert "breath 1 of 2" in mid_in


def test_drill_simulated_end_to_end(no_history, capsys):
    """`calm drill --simulate`: espeak-ng answers (calm, calm, raised) as the microphone, the
    persona's lines through the real TTS cache, the result in the history database."""
    import soundfile as sf

    from voicetrainer.report.history import HistoryDB

    tmp = no_history
    clips = [say("Thank you for telling me, I will look into it right away.", pitch=CALM_PITCH),
             say("I hear you, and I am going to sort this out for you today.", pitch=CALM_PITCH),
             say("That is not my problem, you should have read the contract!", pitch=RAISED_PITCH, rate_wpm=190, gain_db=6)]
    audio, answers, pos = [], [], 0
    for c in clips:
        audio += [c, np.zeros(SR // 2, np.float32)]
        answers.append({"start_s": pos / SR, "end_s": (pos + len(c)) / SR, "gap_s": 0.6})
        pos += len(c) + SR // 2
    wav = tmp / "answers.wav"
    sf.write(str(wav), np.concatenate(audio), SR)
    wav.with_suffix(".json").write_text(json.dumps({"answers": answers}))
    db = tmp / "h.sqlite"
    assert main(["calm", "drill", "--simulate", str(wav), "--rounds", "3", "--db", str(db), "--trainee", "ana"]) == 0
    out = capsys.readouterr().out
    assert "baseline set from this answer" in out
    assert "semitones above your calm" in out and "next: gentler" in out and "next: harsher" in out
    with HistoryDB(db) as h:
        (rec,) = h.drills(trainee="ana")
    assert rec.rounds == 2 and rec.min_score < 65 < rec.mean_score
    assert [r["level"] for r in rec.result["rounds"]] == [1, 1, 2]


@pytest.mark.parametrize("outcome,score,offered", [("hung_up", 90, True), ("resolved", 35, True), ("resolved", 90, False)])
def test_breathing_offered_after_a_call(outcome, score, offered, tmp_path):
    from rich.console import Console

    from voicetrainer.cli.practice import _print_result
    from voicetrainer.report.schema import Report

    report = Report(duration_s=60, metrics={"calm": {"score": score}}, source={"outcome": outcome})
    con = Console(file=io.StringIO(), width=200, color_system=None)
    _print_result(report, tmp_path, con)
    assert ("voicetrainer calm breathe" in con.file.getvalue()) is offered
