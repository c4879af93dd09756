"""What a new user sees in the terminal (issue #16): console lines in time order, practice
without an audio device, the demo's closing tip, `personas list` in 80 columns."""

from __future__ import annotations

import pytest

from voicetrainer.cli.practice import CaptionLines
from voicetrainer.session.live import LiveUpdate


def _u(t_s, captions, *, trainee_speaking=False, ended=False):
    return LiveUpdate(t_s=t_s, mood=7.0, caller_speaking=False, trainee_speaking=trainee_speaking,
                      trainee_level_dbfs=-40.0, trainee_pitch_hz=None, baseline=None, wpm=None,
                      captions=list(captions), nudge=None, ended=ended)


def test_caption_lines_print_in_time_order_when_the_caller_cuts_in():
    """Issue #16 item 8, the demo's sequence: the trainee starts at 00:14, the caller objects at
    00:15 ("Can you please let me talk?"), the trainee's caption arrives when their turn ends
    (00:17): "00:14 YOU" must print before "00:15 CALLER"."""
    c0 = {"speaker": "caller", "t_s": 0.0, "text": "Hi. You charged me twice."}
    c1 = {"speaker": "caller", "t_s": 13.1, "text": "I checked my statement three times."}
    c2 = {"speaker": "caller", "t_s": 15.14, "text": "Can you please let me talk?"}
    y1 = {"speaker": "trainee", "t_s": 14.2, "text": "he was not ill-disposed"}
    c3 = {"speaker": "caller", "t_s": 18.0, "text": "Are you even listening?"}
    lines = CaptionLines()
    printed = []
    printed += lines.feed(_u(1.0, [c0]))
    printed += lines.feed(_u(13.2, [c0, c1]))
    printed += lines.feed(_u(14.4, [c0, c1], trainee_speaking=True))
    printed += lines.feed(_u(15.2, [c0, c1, c2], trainee_speaking=True))
    assert [c["t_s"] for c in printed] == [0.0, 13.1]  # the caller's 00:15 waits for the trainee's turn
    printed += lines.feed(_u(17.8, [c0, c1, c2, y1]))
    printed += lines.feed(_u(18.2, [c1, c2, y1, c3]))
    printed += lines.feed(_u(19.0, [c1, c2, y1, c3], ended=True))
    assert [c["t_s"] for c in printed] == [0.0, 13.1, 14.2, 15.14, 18.0]


def test_caption_lines_flush_at_the_end_and_skip_empty_turns():
    lines = CaptionLines()
    out = lines.feed(_u(3.0, [{"speaker": "caller", "t_s": 2.0, "text": "Hello?"}], trainee_speaking=True))
    assert out == []  # a trainee turn is open from 1.5 s before this update
    out = lines.feed(_u(4.0, [{"speaker": "trainee", "t_s": 2.5, "text": " "}], ended=True))
    assert [c["text"] for c in out] == ["Hello?"]


def test_summary_says_no_barge_in_instead_of_zero_seconds(capsys):
    """Issue #16 item 6: a call without barge-ins has no barge-in latency to print."""
    from voicetrainer.cli._common import console
    from voicetrainer.cli.practice import _print_result
    from voicetrainer.report.schema import Report

    report = Report(duration_s=30.0, latency={"reply_p50_s": 0.6, "reply_p95_s": 0.7, "barge_in_p50_s": None,
                                              "clock": "real time"})
    _print_result(report, "/tmp/nowhere", console())
    out = capsys.readouterr().out
    assert "barge-in detected in 0.00" not in out and "no barge-in" in out
    report.latency["barge_in_p50_s"] = 0.1
    _print_result(report, "/tmp/nowhere", console())
    assert "barge-in detected in 0.10 s" in capsys.readouterr().out


def test_practice_without_devices_fails_first_and_says_what_works(monkeypatch, capsys, tmp_path):
    """Issue #16 item 9: no baseline sentence, no voice cache: the device check comes first."""
    import voicetrainer.audio.sources as sources
    import voicetrainer.session.practice as practice
    from voicetrainer.cli import main

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(sources, "list_devices", lambda: [])
    monkeypatch.setattr(practice, "prepare", lambda *a, **k: (_ for _ in ()).throw(AssertionError("prepared first")))
    assert main(["practice", "--trainee", "alex"]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert "no audio devices" in text and "--simulate" in text and "voicetrainer demo" in text
    assert "read this sentence" not in text and "preparing" not in text


def test_the_demo_tip_runs_on_a_machine_without_devices(monkeypatch, capsys):
    """Issue #16 item 10: the closing tip after a hang-up is a command that works here: without
    an output device `calm breathe` shows the pacer alone (exit 0), it no longer exits 2."""
    import shlex

    import voicetrainer.audio.playback as playback
    import voicetrainer.audio.sources as sources
    import voicetrainer.calm.breathe as breathe
    from voicetrainer.cli import main
    from voicetrainer.cli._common import console
    from voicetrainer.cli.practice import _print_result
    from voicetrainer.report.schema import Report

    monkeypatch.setattr(sources, "list_devices", lambda: [])

    class NoPlayer:
        def __init__(self, *a, **k):
            raise AssertionError("no device to open")

    class QuickPacer(breathe.Pacer):  # the real pacer, its clock run 1000 times faster
        def position_s(self) -> float:
            return super().position_s() * 1000

    monkeypatch.setattr(playback, "Player", NoPlayer)
    monkeypatch.setattr(breathe, "Pacer", QuickPacer)
    _print_result(Report(duration_s=40.0, source={"outcome": "hung_up"}), "/tmp/nowhere", console())
    tip = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tip:"))
    argv = shlex.split(tip[tip.index("voicetrainer "):])[1:]
    assert argv[:2] == ["calm", "breathe"]
    assert main(argv + ["--quiet"]) == 0
    assert "without its tones" in capsys.readouterr().out


@pytest.mark.parametrize("columns", [80, 60])
def test_personas_list_never_cuts_ids(columns, monkeypatch, capsys):
    """Issue #16 item 12: "password-reset-plain..." in 80 columns; ids are what users type."""
    from voicetrainer.cli import main
    from voicetrainer.persona.loader import persona_files, personas_dir

    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["personas", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = [f.stem for f in persona_files(personas_dir())]
    assert "password-reset-plain-language" in ids
    for pid in ids:
        assert any(f" {pid} " in ln for ln in lines), pid
    if columns >= 80:  # (narrower than the ids' table itself, the ids still come whole)
        assert max(len(ln) for ln in lines) <= columns
