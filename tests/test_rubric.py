"""The rubric: loading and validation of rubric files, and skill scores with evidence."""

from __future__ import annotations

import re
import textwrap

import pytest

from report_builder import make_report, words_for
from voicetrainer.analysis.rubric import DEFAULT_RUBRIC_PATH, SIGNALS, load_rubric, score_skills
from voicetrainer.errors import ConfigError
from voicetrainer.report.schema import SKILLS, Interruption, Report, Turn


def _write(tmp_path, text: str, name: str = "r.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _norm(s: str) -> str:
    return re.sub(r"[^\w']+", "", s.lower())


# --------------------------------------------------------------------------------------------
# loading


def test_default_rubric_loads_all_seven_skills():
    r = load_rubric()
    assert list(r.skills)[:7] == list(SKILLS)
    assert r.name == "default" and r.path == str(DEFAULT_RUBRIC_PATH)
    assert (r.thresholds.wpm_min, r.thresholds.wpm_max) == (120, 160)
    assert r.skills["calm"].base_from == "calm_score"
    assert r.skills["listening"].moves["repeat_back"].points > 0
    assert r.skills["listening"].moves["clarifying_question"].points > 0
    assert r.skills["patience"].signals["interruption"].points < 0
    assert r.labels["calm_down"] == "dismissive"
    assert set(r.weights) >= set(SKILLS)
    for spec in r.skills.values():
        assert set(spec.signals) <= set(SIGNALS)


def test_override_file_merges_over_the_default(tmp_path):
    p = _write(tmp_path, """
        skills:
          patience:
            signals:
              interruption: {points: -30, max_count: 2}
          courtesy:
            moves:
              blame: null          # removes the default rule
        thresholds:
          wpm_max: 170
        weights:
          calm: 2
    """, "strict.yaml")  # fmt: skip
    r = load_rubric(p)
    d = load_rubric()
    assert r.name == "strict" and r.path == str(p)
    assert r.skills["patience"].signals["interruption"].points == -30
    assert r.skills["patience"].signals["quick_reply"] == d.skills["patience"].signals["quick_reply"]
    assert "blame" not in r.skills["courtesy"].moves and "blame" in d.skills["courtesy"].moves
    assert r.thresholds.wpm_max == 170 and r.thresholds.wpm_min == 120
    assert r.weights["calm"] == 2 and r.weights["empathy"] == d.weights["empathy"]


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("skills:\n  empathy:\n    moves:\n      apology: {points: lots}\n", "skills.empathy.moves.apology.points", "number"),
        ("skills:\n  empathy:\n    moves:\n      hugging: 10\n", "skills.empathy.moves", "unknown move 'hugging'"),
        ("skills:\n  clarity:\n    signals:\n      mumbling: -5\n", "skills.clarity.signals", "unknown signal 'mumbling'"),
        ("skills:\n  empathy:\n    bonus: 5\n", "skills.empathy.bonus", "Extra inputs"),
        ("skills:\n  empathy:\n    base: 150\n", "skills.empathy.base", "less than or equal to 100"),
        ("thresholds:\n  wpm_min: 170\n", "thresholds", "wpm_min (170) must be below wpm_max (160)"),
        ("weights:\n  charm: 1\n", "(top level)", "weights given for unknown skill 'charm'"),
        ("extends: none\nskills:\n  empathy: {base: 50}\n", "(top level)", "skills missing: listening"),
        ("skills:\n  empathy:\n    moves:\n      apology: {points: 5, max_count: 0}\n",
         "skills.empathy.moves.apology.max_count", "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_bad_rubric_names_file_and_field(tmp_path, text, field, message):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_rubric(p)
    e = ei.value
    assert e.path == str(p) and e.exit_code == 2
    assert e.field == field, str(e)
    assert message in str(e)


def test_unreadable_rubric_files(tmp_path):
    with pytest.raises(ConfigError, match="rubric file not found"):
        load_rubric(tmp_path / "missing.yaml")
    p = _write(tmp_path, "skills:\n  empathy: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_rubric(p)
    p = _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_rubric(p)


# --------------------------------------------------------------------------------------------
# scoring


@pytest.fixture(scope="module")
def scored():
    report = make_report(with_skills=False)
    rubric = load_rubric()
    skills, overall = score_skills(report, rubric, facts=["order 4471", "refund"])
    return report, rubric, skills, overall


def _ev(skills, skill: str, why: str):
    return [e for e in skills[skill].evidence if why in e.why]


def test_all_seven_skills_scored_with_evidence_inside_the_call(scored):
    report, _, skills, overall = scored
    assert list(skills)[:7] == list(SKILLS)
    for name in SKILLS:
        s = skills[name]
        assert s.score is not None and 0 <= s.score <= 100, name
        assert s.summary
        times = [e.t_s for e in s.evidence]
        assert times == sorted(times)
        assert all(0 <= t <= report.duration_s for t in times)
    assert overall is not None and 0 <= overall <= 100


def test_evidence_points_at_the_exact_words(scored):
    report, rubric, skills, _ = scored
    starts = {w.start_s: w for t in report.turns for w in t.words}
    move_labels = set(rubric.labels.values())
    checked = 0
    for name in SKILLS:
        for e in skills[name].evidence:
            label = e.why.split(" (")[0]
            if label not in move_labels:
                continue  # signals quote the turn
            assert e.t_s in starts, f"{name}: {e} is not at a word start"
            assert _norm(e.quote).startswith(_norm(starts[e.t_s].word)), f"{name}: {e} vs {starts[e.t_s].word}"
            checked += 1
    assert checked >= 6


def test_expected_moves_are_credited_and_penalised(scored):
    report, _, skills, _ = scored
    apology = _ev(skills, "empathy", "apology")
    assert apology and "sorry" in apology[0].quote.lower()
    assert 9.8 <= apology[0].t_s <= 16.0 and "(+15)" in apology[0].why
    # "Please calm down" at 23.2 s is cited against empathy, patience and courtesy
    for skill in ("empathy", "patience", "courtesy"):
        neg = _ev(skills, skill, "dismissive")
        assert neg and "calm down" in neg[0].quote.lower() and "(−" in neg[0].why
        assert 23.2 <= neg[0].t_s <= 27.5
    assert _ev(skills, "expectations", "timeframe")
    assert any("48 hours" in e.quote for e in _ev(skills, "expectations", "timeframe"))
    assert _ev(skills, "courtesy", "thanks the caller")
    assert _ev(skills, "courtesy", "greeting") or _ev(skills, "courtesy", "thanks the caller")


def test_listening_credits_repeat_back_and_clarifying_question(scored):
    _, _, skills, _ = scored
    ev = skills["listening"].evidence
    credited = [e for e in ev if "(+" in e.why]
    kinds = {e.why.split(" (")[0] for e in credited}
    assert kinds & {"repeats the caller's facts back", "clarifying question"}, ev
    # both happen in the trainee turn at 33.8-40.5 s ("... order 4471 has not arrived, is that correct?")
    assert all(33.8 <= e.t_s <= 40.5 for e in credited)


def test_interruption_and_dead_air_signals(scored):
    _, _, skills, _ = scored
    (inter,) = _ev(skills, "patience", "interrupted the caller")
    assert inter.t_s == 23.2 and "(−15)" in inter.why and inter.quote.lower().startswith("please")
    assert _ev(skills, "listening", "interrupted the caller")
    (dead,) = _ev(skills, "expectations", "dead air")
    assert dead.t_s == 44.0 and "8 s" in dead.why


def test_listening_without_stock_phrases_repeat_back_only():
    """A plain repeat of the caller's facts earns listening credit; the same call without it does not."""
    def call(reply: str) -> Report:
        caller = "My parcel 88231 never arrived at 12 Baker Street"
        return Report(
            duration_s=20.0,
            turns=[
                Turn("caller", 0.0, 5.0, text=caller, words=words_for(caller, 0.0, 5.0)),
                Turn("trainee", 6.0, 11.0, text=reply, words=words_for(reply, 6.0, 11.0)),
            ],
            metrics={"interruptions_by_trainee": 0},
        )

    rubric = load_rubric()
    with_repeat, _ = score_skills(call("Parcel 88231 to 12 Baker Street did not arrive."), rubric)
    without, _ = score_skills(call("Okay. Let me see what I can do here."), rubric)
    assert with_repeat["listening"].score > without["listening"].score
    assert any("(+" in e.why for e in with_repeat["listening"].evidence)


def test_new_rubric_regrades_an_old_report(tmp_path, scored):
    report, _, skills, overall = scored
    old = Report.from_dict(report.to_dict())  # as read back from report.json
    p = _write(tmp_path, """
        name: strict-patience
        skills:
          patience:
            base: 100
            signals:
              interruption: -40
        weights: {patience: 3}
    """)  # fmt: skip
    new_skills, new_overall = score_skills(old, load_rubric(p), facts=["order 4471", "refund"])
    d = skills["patience"]
    assert new_skills["patience"].score == pytest.approx(d.score + 10 - 25)  # base +10, interruption −40 not −15
    assert new_skills["empathy"].score == skills["empathy"].score
    assert new_overall != overall
    ws = load_rubric(p).weights
    expect = sum(ws[k] * new_skills[k].score for k in SKILLS) / sum(ws[k] for k in SKILLS)
    assert new_overall == pytest.approx(expect, abs=0.06)


def test_max_count_caps_points_but_keeps_the_evidence():
    reply = "I'm sorry. I'm so sorry. I am really sorry about this."
    r = Report(duration_s=10.0, turns=[Turn("trainee", 0.0, 6.0, text=reply, words=words_for(reply, 0.0, 6.0))])
    skills, _ = score_skills(r, load_rubric())
    apologies = _ev(skills, "empathy", "apology")
    assert len(apologies) >= 3
    assert sum("not counted" in e.why for e in apologies) == len(apologies) - 2
    assert skills["empathy"].score == load_rubric().skills["empathy"].base + 2 * 15


def test_no_basis_gives_none_not_zero():
    r = Report(duration_s=10.0, turns=[Turn("trainee", 0.0, 6.0, text="", text_source="none")])
    skills, overall = score_skills(r, load_rubric())
    assert skills["calm"].score is None and "calm" in skills["calm"].summary.lower()
    assert skills["empathy"].score is None and skills["expectations"].score is None
    assert overall is None or 0 <= overall <= 100


def test_calm_follows_the_vocal_calm_score_and_cites_tense_turns():
    report = make_report(with_skills=False)
    rubric = load_rubric()
    turns = [t for t in report.turns if t.speaker == "trainee"]
    turns[1].calm = {"score": 30.0, "components": {"pitch_rise": {"delta": 3.4, "penalty": 17.4, "unit": "semitones"}}}
    turns[3].calm = {"score": 95.0}
    skills, _ = score_skills(report, rubric)
    calm = skills["calm"]
    assert calm.score == pytest.approx(72.0 - 5)  # metrics.calm.score, one tense turn
    (tense,) = _ev(skills, "calm", "tense voice")
    assert tense.t_s == turns[1].start_s and "pitch rise +3.4 semitones" in tense.why
    (steady,) = _ev(skills, "calm", "steady voice")
    assert steady.t_s == turns[3].start_s and "(" not in steady.why
    report.metrics["calm"]["score"] = 90.0
    assert score_skills(report, rubric)[0]["calm"].score == 85.0


def test_pace_and_filler_signals_use_rubric_thresholds(tmp_path):
    report = make_report(with_skills=False)
    report.metrics["filler_rate"] = 6.5
    report.metrics["fillers"] = [{"t_s": 10.3, "word": "um"}, {"t_s": 53.0, "word": "uh"}]
    skills, _ = score_skills(report, load_rubric())
    pace = _ev(skills, "clarity", "words/min")
    assert {round(e.t_s, 1) for e in pace} == {23.2, 52.0}  # 99 and 109 WPM: too slow
    (fill,) = _ev(skills, "clarity", "fillers per 100 words")
    assert fill.t_s == 10.3 and fill.quote == "um, uh"
    wide = _write(tmp_path, "thresholds: {wpm_min: 90, wpm_max: 200, filler_rate_max: 10}\n")
    skills2, _ = score_skills(report, load_rubric(wide))
    assert not _ev(skills2, "clarity", "words/min") and not _ev(skills2, "clarity", "fillers")
    assert skills2["clarity"].score > skills["clarity"].score


def test_caller_words_are_not_scored():
    text = "Calm down and stop blaming me, thank you"
    r = Report(
        duration_s=10.0,
        turns=[Turn("caller", 0.0, 4.0, text=text, words=words_for(text, 0.0, 4.0)),
               Turn("trainee", 5.0, 7.0, text="Okay.", words=words_for("Okay.", 5.0, 7.0))],
        interruptions=[Interruption("caller", 5.5, 0.5, "interruption")],
    )  # fmt: skip
    skills, _ = score_skills(r, load_rubric())
    for s in skills.values():
        assert all(e.t_s >= 5.0 for e in s.evidence), s.evidence


def test_same_words_count_once_per_skill(scored):
    _, _, skills, _ = scored
    for name in SKILLS:
        keys = [(e.t_s, e.quote) for e in skills[name].evidence if e.quote]
        assert len(keys) == len(set(keys)), (name, skills[name].evidence)
    # "Thank you for calling" is both a greeting and thanks: courtesy credits it once, as thanks (+20)
    at_start = [e for e in skills["courtesy"].evidence if e.t_s == 9.8]
    assert len(at_start) == 1 and "(+20)" in at_start[0].why


def test_rubric_phrases_section_feeds_the_detector(tmp_path):
    p = _write(tmp_path, """
        phrases:
          jargon: ["escalate", "payments team"]
    """)  # fmt: skip
    report = make_report(with_skills=False)
    base, _ = score_skills(report, load_rubric())
    skills, _ = score_skills(report, load_rubric(p))
    jargon = _ev(skills, "clarity", "jargon")
    assert [e.quote.lower() for e in jargon] == ["escalate", "payments team"]
    word = next(w for t in report.turns for w in t.words if w.word == "escalate")
    assert jargon[0].t_s == word.start_s and "(−10)" in jargon[0].why
    assert skills["clarity"].score == base["clarity"].score - 20
    bad = _write(tmp_path, "phrases:\n  flattery: [nice]\n", "bad.yaml")
    with pytest.raises(ConfigError) as ei:
        load_rubric(bad)
    assert ei.value.path == str(bad) and ei.value.field == "phrases.flattery"


def test_short_caller_turns_are_not_facts():
    """A trainee answering "Hello." to the caller's "Hello." has not repeated any fact back."""
    r = Report(
        duration_s=10.0,
        turns=[Turn("caller", 0.0, 1.0, text="Hello.", words=words_for("Hello.", 0.0, 1.0)),
               Turn("trainee", 1.5, 2.5, text="Hello.", words=words_for("Hello.", 1.5, 2.5))],
    )  # fmt: skip
    skills, _ = score_skills(r, load_rubric(), facts=["Hello."])
    assert not _ev(skills, "listening", "repeats")


def test_two_hour_call_scores_quickly():
    import time

    turns, t = [], 0.0
    for k in range(1200):  # 1200 turns, 2 hours
        text = f"I'm sorry about order {4000 + k}, I will call you back within 48 hours, is that correct?"
        turns.append(Turn("caller" if k % 2 == 0 else "trainee", t, t + 5, text=text, words=words_for(text, t, t + 5)))
        t += 6
    r = Report(duration_s=t, turns=turns)
    t0 = time.perf_counter()
    skills, _ = score_skills(r, load_rubric())
    assert time.perf_counter() - t0 < 5.0
    assert len(_ev(skills, "listening", "repeats")) == 600  # each trainee turn repeats a number the caller just said ("48")


def test_trainee_only_recording_leaves_caller_skills_unscored():
    text = "I'm so sorry, I will fix this today. Is that correct?"
    r = Report(duration_s=8.0, turns=[Turn("trainee", 0.0, 5.0, text=text, words=words_for(text, 0.0, 5.0))],
               metrics={"interruptions_by_trainee": None, "calm": {"score": 80.0}})  # fmt: skip
    skills, overall = score_skills(r, load_rubric())
    assert skills["patience"].score is None and skills["listening"].score is None
    assert "trainee-only" in skills["patience"].summary
    assert skills["empathy"].score > load_rubric().skills["empathy"].base and skills["calm"].score == 80.0
    w = load_rubric().weights
    scored = {k: s.score for k, s in skills.items() if s.score is not None}
    assert overall == pytest.approx(sum(w[k] * v for k, v in scored.items()) / sum(w[k] for k in scored), abs=0.06)


def test_pace_band_edges_are_inside_and_voice_evidence_never_quotes_nothing():
    """Issue #16 item 6: 160 words/min (shown as "160") is inside the 120-160 band; a calm
    signal on a turn without recognised words quotes that fact, never ""."""
    from voicetrainer.analysis.pacing import WPM_BAND, pace_verdict

    assert WPM_BAND == (120.0, 160.0)
    assert [pace_verdict(w) for w in (119.4, 120.0, 160.0, 160.4, 160.6, 119.6)] == [
        "too slow", None, None, None, "too fast", None]
    report = make_report(with_skills=False)
    turns = [t for t in report.turns if t.speaker == "trainee"]
    turns[0].wpm, turns[1].wpm = 160.4, 161.0
    turns[2].words, turns[2].text, turns[2].calm = [], "", {"score": 97.0}
    skills, _ = score_skills(report, load_rubric())
    pace = {round(e.t_s, 1): e.why for e in _ev(skills, "clarity", "words/min")}
    assert turns[0].start_s not in pace and "161 words/min, too fast" in pace[turns[1].start_s]
    for ev in skills["calm"].evidence:
        assert ev.quote.strip(), ev
    assert any("no words" in ev.quote for ev in skills["calm"].evidence)
