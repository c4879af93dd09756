"""Text transcripts graded (JSON and WebVTT), the `moves` command, and scores that follow the call.

The transcripts in tests/data/transcripts are one angry caller (double charge, overdraft fee,
third call) answered by several good agents, several bad ones and one reading irrelevant
sentences; the caller's lines are the same in each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from voicetrainer.analysis.rubric import load_rubric, score_skills
from voicetrainer.cli import main
from voicetrainer.report.schema import Report, Turn
from voicetrainer.session.transcript import AUDIO_ABSENT, grade_transcript

DATA = Path(__file__).resolve().parent / "data" / "transcripts"
GOOD = sorted(DATA.glob("good_[0-9].*"))
BAD = sorted(DATA.glob("bad_*"))
WORD_SKILLS = ("empathy", "listening", "expectations", "courtesy")


@pytest.fixture(scope="module")
def graded() -> dict[str, Report]:
    return {p.name: grade_transcript(p) for p in sorted(DATA.iterdir())}


def test_every_good_agent_outscores_every_bad_one(graded):
    assert len(GOOD) >= 3 and len(BAD) >= 3
    for g in GOOD:
        good = graded[g.name]
        assert good.overall >= 80, (g.name, good.overall)
        for b in BAD:
            bad = graded[b.name]
            for skill in WORD_SKILLS:
                assert good.skills[skill].score > bad.skills[skill].score, (g.name, b.name, skill)
            assert good.overall > bad.overall, (g.name, b.name)


def test_irrelevant_sentences_score_low_everywhere(graded):
    r = graded["irrelevant.json"]
    assert r.overall <= 35
    for skill in WORD_SKILLS:
        assert r.skills[skill].score <= 20, (skill, r.skills[skill])
    # no free credit for fault-free delivery either: capped, and the summary says why
    for skill in ("patience", "clarity"):
        assert r.skills[skill].score <= 30 and "Capped" in r.skills[skill].summary


def test_audio_measures_are_absent_and_said_so(graded):
    r = graded["good_1.json"]
    assert AUDIO_ABSENT in r.warnings and r.source["mode"] == "transcript"
    assert r.skills["calm"].score is None and "transcript" in r.skills["calm"].summary
    assert r.metrics["trainee_wpm"] is None and r.metrics["calm"] is None and r.metrics["filler_rate"] is None
    assert r.outcome is None  # no caller engine
    # evidence still cites the words and a time inside the turn that said them
    ev = [e for e in r.skills["expectations"].evidence if "timeframe" in e.why]
    turn = next(t for t in r.turns if "within 2 business days" in t.text)
    assert ev and turn.start_s <= ev[0].t_s <= turn.end_s and "2 business days" in ev[0].quote


def test_vtt_and_json_give_the_same_scores(graded):
    for stem in ("good_2", "bad_dismissive"):
        a, b = graded[f"{stem}.json"], graded[f"{stem}.vtt"]
        assert [(t.speaker, t.text) for t in a.turns] == [(t.speaker, t.text) for t in b.turns]
        assert {k: s.score for k, s in a.skills.items()} == {k: s.score for k, s in b.skills.items()}


def test_dead_air_costs_patience_listening_and_expectations(graded):
    clean, slow = graded["good_1.json"], graded["good_1_dead_air.json"]
    for skill in ("patience", "listening", "expectations"):
        assert slow.skills[skill].score < clean.skills[skill].score, skill
        assert any("dead air" in e.why for e in slow.skills[skill].evidence), skill
    assert slow.overall < clean.overall


def test_every_skill_that_lost_points_says_what_to_say_instead(graded):
    rubric = load_rubric()
    for name, r in graded.items():
        for skill, s in r.skills.items():
            if s.score is not None and s.score < 100:
                assert s.say_instead, (name, skill)
                assert s.say_instead in rubric.skills[skill].instead.values()
    # the costliest penalty picks the example: "Calm down" in the dismissive agent's call
    bad = graded["bad_dismissive.json"]
    assert bad.skills["patience"].say_instead == rubric.skills["patience"].instead["calm_down"]


def test_outcome_and_reason_in_report_json_and_html():
    r = Report(duration_s=5.0, turns=[Turn("trainee", 0.0, 2.0, text="I'm sorry.")], outcome="hung_up",
               outcome_reason="hangs up: anger 10 reached 10")
    d = r.to_dict()
    assert d["outcome"] == "hung_up" and Report.from_dict(d).outcome_reason == "hangs up: anger 10 reached 10"
    from voicetrainer.report.html import render_report_html

    page = render_report_html(r, audio_href=None)
    assert page.index("the caller hung up") < page.index('id="overall"')  # shown first
    assert "hangs up: anger 10 reached 10" in page


def test_grade_cli_json_batch_and_history(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    assert main(["grade", str(DATA / "good_1.json"), "--json", "--db", str(db), "--out", str(tmp_path / "one")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["schema"] == "voicetrainer.report/1" and rep["overall"] >= 80 and "outcome" in rep
    out = tmp_path / "qa"
    inputs = [str(DATA / "good_2.json"), str(DATA / "good_2.vtt"), str(DATA / "irrelevant.json")]
    assert main(["grade", *inputs, "--out", str(out), "--db", str(db), "-q"]) == 0
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["ok"] * 3 and "outcome" in rows[0]
    assert {Path(r["report"]).parent.name for r in rows} == {"good_2.json", "good_2.vtt", "irrelevant"}
    assert (out / "index.html").exists() and (out / "good_2.vtt" / "report.html").exists()
    from voicetrainer.report.history import HistoryDB

    with HistoryDB(db) as h:
        assert len(h.sessions()) == 4


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("notjson.json", "this is not json", "not JSON"),
        ("schema.json", '{"schema": "something/else", "turns": []}', "schema"),
        ("noturns.json", '{"schema": "voicetrainer.transcript/1", "turns": [{"speaker": "caller", "start_s": 0, '
                         '"end_s": 1, "text": "Hello?"}]}', "no trainee turns"),
        ("badspeaker.json", '{"schema": "voicetrainer.transcript/1", "turns": [{"speaker": "boss", "start_s": 0, '
                            '"end_s": 1, "text": "x"}]}', "turns[0].speaker"),
        ("badtime.json", '{"schema": "voicetrainer.transcript/1", "turns": [{"speaker": "trainee", "start_s": "a", '
                         '"end_s": 1, "text": "x"}]}', "turns[0].start_s"),
        ("novoice.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n", "voice tag"),
        ("notvtt.vtt", "hello\n", "WEBVTT"),
    ],
)  # fmt: skip
def test_bad_transcripts_exit_2_naming_the_file(tmp_path, capsys, name, content, reason):
    p = tmp_path / name
    p.write_text(content)
    assert main(["grade", str(p), "--no-history", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and reason in err


def test_moves_cli_jsonl_in_order(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    lines = [
        {"text": "Sorry to hear that! DM us your order number and we'll look into it."},
        {"text": "so that's the account ending four four seven one", "facts": ["account ending 4471"]},
        {"text": "The weather is nice."},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main(["moves", "--jsonl", str(src), "--json"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [o["text"] for o in out] == [x["text"] for x in lines]
    assert out[0]["kinds"] == ["apology", "empathy", "next_step"]
    assert out[1]["kinds"] == ["repeat_back"] and out[1]["moves"][0]["quote"] == "four four seven one"
    assert out[2] == {"text": "The weather is nice.", "kinds": [], "moves": []}
    assert all(set(m) == {"kind", "quote", "why"} for o in out for m in o["moves"])


def test_moves_cli_text_fact_and_rubric(tmp_path, capsys):
    assert main(["moves", "it was charged twice", "--fact", "charged twice on March 3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kinds"] == ["repeat_back"]
    rubric = tmp_path / "r.yaml"
    rubric.write_text("phrases:\n  jargon: [widget]\n")
    assert main(["moves", "the widget is broken", "--rubric", str(rubric), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kinds"] == ["jargon"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"nope": 1}\n')
    assert main(["moves", "--jsonl", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 2" in err


def test_rubric_scores_a_report_without_free_credit():
    silent = Report(duration_s=20.0, turns=[Turn("caller", 0.0, 5.0, text="You charged me twice!"),
                                            Turn("trainee", 6.0, 8.0, text="Okay."),
                                            Turn("caller", 9.0, 12.0, text="Are you even listening?"),
                                            Turn("trainee", 13.0, 15.0, text="Yes.")])  # fmt: skip
    skills, overall = score_skills(silent, load_rubric())
    assert all(skills[s].score <= 20 for s in WORD_SKILLS) and overall <= 35


def test_call_outcome_from_the_dialog_engine():
    from types import SimpleNamespace

    from voicetrainer.session.practice import call_outcome

    end = SimpleNamespace(kind="end", reason="hangs up: anger 10 reached 10")
    worse = SimpleNamespace(kind="mood", t_s=41.0, reason="mood 7→9: told the caller to calm down (+2.0)",
                            mood_before=7.0, mood_after=9.0)
    calmer = SimpleNamespace(kind="mood", t_s=20.0, reason="mood 8→7: apology (-1.0)", mood_before=8.0, mood_after=7.0)
    mind = SimpleNamespace(outcome="hung_up", log=[calmer, SimpleNamespace(kind="situation", reason="x"), worse, end])
    outcome, why = call_outcome(mind, None)
    assert outcome == "hung_up" and why.startswith("hangs up: anger 10 reached 10; what made it worse:")
    assert "00:41 mood 7→9: told the caller to calm down" in why and "apology" not in why
    ctrl_c = call_outcome(SimpleNamespace(outcome=None, log=[]), "ended by the trainee (Ctrl-C)")
    assert ctrl_c == ("ended_by_trainee", "ended by the trainee (Ctrl-C)")
