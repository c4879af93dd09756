"""The caller converses: answers from the scenario's facts, corrects, remembers, asks "what?",
objects, never loops. On test personas written for these tests (tests/data/personas), one
of them with only the fields personas had before (facts as plain strings)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicetrainer.errors import PersonaError
from voicetrainer.persona.chat import ChatSession
from voicetrainer.persona.dialog import DialogEngine, TraineeObservation
from voicetrainer.persona.loader import load_persona
from voicetrainer.persona.schema import ENGINE_SITUATIONS

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gym():  # plain-string facts only
    return load_persona(DATA / "personas" / "gym-cancel.yaml")


@pytest.fixture(scope="module")
def flight():  # long-form facts, objections, its own clarify/dont_know lines
    return load_persona(DATA / "personas" / "flight-refund.yaml")


def chat(persona, turns, seed=0) -> ChatSession:
    c = ChatSession(persona, seed=seed)
    for t in turns:
        if c.finished:
            break
        c.say(t)
    return c


def ask(persona, text, seed=0):
    return chat(persona, [text], seed).turns[0]


# -------------------------------------------------------------------- answers from the facts

@pytest.mark.parametrize("question, expected", [
    ("What's your member number?", "88231"),
    ("Could you give me the membership number, please?", "88231"),
    ("How much is the monthly fee?", "$45"),
    ("When did you cancel?", "April 2"),
    ("And who did you speak to at the gym?", "Dana"),
    ("Tell me your name please.", "Marcus Bell"),
])  # fmt: skip
def test_plain_string_facts_are_answered(gym, question, expected):
    turn = ask(gym, question)
    assert turn.situation == "answer", turn.reason
    assert expected in turn.caller
    assert "answers from the fact" in turn.reason or "asked name" in turn.reason


def test_two_questions_in_one_turn_get_two_answers():
    sandra = load_persona("billing-double-charge")
    turn = ask(sandra, "Can I have your name and the last four of the account number?")
    assert "Sandra Okafor" in turn.caller and "4471" in turn.caller


def test_spoken_digits_are_understood(gym):
    # read back in words: the caller confirms; read back wrongly in words: the caller corrects
    right = ask(gym, "So that's member number eight eight two three one?")
    assert right.situation == "answer" and right.caller.startswith("Yes")
    wrong = ask(gym, "So that's member number eight eight three two one?")
    assert "88231" in wrong.caller and "eight eight three two one" in wrong.caller
    assert "corrects" in wrong.reason


def test_long_form_fact_answer_lines_are_used(flight):
    turn = ask(flight, "Can I have your booking reference?")
    assert "KX7Q2L" in turn.caller and "K, X, seven" in turn.caller


@pytest.mark.parametrize("statement, right", [
    ("So that was the $54 fee?", "$45"),
    ("I see you cancelled on April 9.", "April 2"),
])  # fmt: skip
def test_wrong_fact_is_corrected_and_costs_mood(gym, statement, right):
    c = chat(gym, [statement])
    turn = c.turns[0]
    assert turn.situation == "answer" and right in turn.caller and turn.caller.startswith("No")
    assert "corrects the agent" in turn.reason
    assert turn.mood > gym.temperament.start_anger


def test_right_fact_read_back_is_not_corrected(gym):
    turn = ask(gym, "I can see the $45 fee taken after you cancelled by email on April 2. I'm so sorry.")
    assert "corrects" not in turn.reason and not turn.caller.startswith("No")


def test_promises_and_offers_are_not_corrected(gym):
    turn = ask(gym, "I'll refund it within 5 business days and add a $10 credit for the trouble.")
    assert "corrects" not in turn.reason


def test_unknown_question_gets_i_dont_know_in_character(gym, flight):
    turn = ask(gym, "What's your date of birth?")
    assert turn.situation == "answer" and "know" in turn.caller.lower()
    assert "not in the caller's facts" in turn.reason
    own = ask(flight, "What's the aircraft registration of the plane?")
    assert own.caller == flight.lines.dont_know[0]  # the persona's own line wins


def test_repeated_question_gets_an_annoyed_repeat_and_moves_the_mood(gym):
    c = chat(gym, ["What's your member number?", "What's your member number?"])
    first, second = c.turns
    assert "88231" in second.caller and re.search(r"told you|said", second.caller, re.I)
    assert "annoyed repeat" in second.reason and "asked again" in second.reason
    assert second.mood > first.mood


# -------------------------------------------------------------------- "what?"

@pytest.mark.parametrize("text", [
    "It is a truth universally acknowledged that a single man in possession of a good fortune must be in want of a wife.",
    "The mitochondria is the powerhouse of the cell.",
    "uh um hmm",
    "[inaudible]",
])  # fmt: skip
def test_off_topic_or_empty_turn_gets_clarify(gym, text):
    turn = ask(gym, text)
    assert turn.situation == "clarify", turn.reason
    assert "off topic" in turn.reason or "contentless" in turn.reason


def test_persona_clarify_lines_are_used(flight):
    assert ask(flight, "Photosynthesis converts sunlight into chemical energy.").caller == flight.lines.clarify[0]


def test_acknowledgement_is_not_clarified(gym):
    assert ask(gym, "Okay.").situation == "complaint"


# -------------------------------------------------------------------- memory, objections, outcomes

GOOD = [
    "Hi, my name is Sam. I'm so sorry you were billed after cancelling, that must be really frustrating.",
    "Can I have your member number?",
    "Thank you. I can see the $45 fee taken after you cancelled by email on April 2.",
    "I'll refund the $45 today and you'll see it on your card within 3 to 5 business days.",
    "I'll also email you a confirmation of the cancellation right now.",
    "Is there anything else I can help you with?",
]
BAD = [
    "Calm down, sir.",
    "It's our policy, there's nothing I can do.",
    "You should have read the terms.",
    "Calm down.",
    "That's just policy.",
    "Whatever.",
]


def test_good_script_resolves_and_remembers(gym):
    c = chat(gym, GOOD)
    assert c.outcome == "resolved" and c.engine.end.outcome == "resolved"
    texts = [t.caller for t in c.turns]
    assert any(t.startswith("Sam,") for t in texts), texts  # the agent's name, used once
    assert sum("Sam" in t for t in texts) == 1
    assert any(re.search(r"So .*3 to 5 business days", t) for t in texts), texts  # the promise repeated back


def test_bad_script_hangs_up(gym):
    c = chat(gym, BAD)
    assert c.outcome == "hung_up" and c.turns[-1].situation == "hang_up"


def test_weak_solution_gets_an_objection(gym):
    turn = ask(gym, "I'll look into it and get back to you soon.")
    assert turn.situation == "objection" and "weak solution" in turn.reason


def test_persona_objections_come_before_acceptance(flight):
    c = chat(flight, [
        "I'm so sorry, this should never have happened.",
        "I'll process the refund of $612 right now and you'll see it on your card within 5 business days.",
        "I understand. I'll email you the confirmation today, and I'll personally check it tomorrow.",
    ])  # fmt: skip
    situations = [t.situation for t in c.turns]
    assert "objection" in situations and situations.index("objection") < len(situations) - 1
    assert c.outcome == "resolved"


def test_stalling_hears_at_least_8_distinct_lines_in_10_turns(gym):
    c = chat(load_persona(DATA / "personas" / "gym-cancel.yaml").model_copy(
        update={"temperament": gym.temperament.model_copy(update={"max_turns": 30, "escalation": 0.3})}),
        ["Okay.", "Right.", "I see.", "Mhm.", "Okay.", "", "Sure.", "Right.", "Okay.", "Yes."])
    texts = [t.caller for t in c.turns]
    assert len(texts) == 10 and len(set(texts)) >= 8, texts
    assert len(set(texts)) == len(texts)  # no line twice while lines remain


def test_no_line_twice_over_a_long_call(gym):
    c = chat(gym.model_copy(update={"temperament": gym.temperament.model_copy(
        update={"max_turns": 40, "escalation": 0.1, "hang_up_at": 10})}), ["Okay."] * 25)
    texts = [c.opening.text] + [t.caller for t in c.turns]
    assert len(set(texts)) == len(texts)


def test_same_seed_same_conversation(gym):
    a = chat(gym, GOOD[:3] + ["Okay."] * 3, seed=4).transcript(details=True)
    b = chat(gym, GOOD[:3] + ["Okay."] * 3, seed=4).transcript(details=True)
    assert a == b


def test_every_line_explains_itself(gym):
    c = chat(gym, GOOD)
    for t in c.turns:
        assert t.reason and t.situation in ENGINE_SITUATIONS


def test_rising_end_makes_a_question():
    sandra = load_persona("billing-double-charge")
    e = DialogEngine(sandra)
    e.opening()
    flat = e.respond(TraineeObservation(text="the account number", t_s=5, rising_end=False))
    e2 = DialogEngine(sandra)
    e2.opening()
    rising = e2.respond(TraineeObservation(text="the account number", t_s=5, rising_end=True))
    assert flat.situation != "answer" and rising.situation == "answer" and "4471" in rising.text


# -------------------------------------------------------------------- schema

def test_long_form_fact_is_validated_with_a_clear_message(tmp_path, flight):
    text = (DATA / "personas" / "flight-refund.yaml").read_text().replace("topics: [booking", "topic: [booking")
    bad = tmp_path / "flight-refund.yaml"
    bad.write_text(text)
    with pytest.raises(PersonaError) as e:
        load_persona(bad)
    assert "facts[0]" in str(e.value) and "flight-refund.yaml" in str(e.value)
    assert flight.scenario.facts[0] == "booking reference KX7Q2L"  # readers of facts still get strings


# -------------------------------------------------------------------- CLI

def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "voicetrainer", *args], capture_output=True, text=True,
                          cwd=ROOT, input=stdin, timeout=120)


def test_chat_cli_script_json(tmp_path):
    script = tmp_path / "good.txt"
    script.write_text("# a good agent\n" + "\n".join(GOOD) + "\n")
    r = run_cli("personas", "chat", str(DATA / "personas" / "gym-cancel.yaml"), "--script", str(script), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"persona", "opening", "turns", "outcome"} and doc["outcome"] == "resolved"
    assert all(set(t) == {"agent", "caller", "situation", "mood"} for t in doc["turns"])
    assert doc["turns"][0]["agent"] == GOOD[0]


def test_chat_cli_interactive_shows_mood_and_reason():
    r = run_cli("personas", "chat", "billing-double-charge", stdin="What's the account number?\n")
    assert r.returncode == 0, r.stderr
    assert "4471" in r.stdout and "why:" in r.stdout and "answer" in r.stdout


def test_chat_cli_missing_script_is_exit_2(tmp_path):
    r = run_cli("personas", "chat", "billing-double-charge", "--script", str(tmp_path / "nope.txt"))
    assert r.returncode == 2 and "nope.txt" in r.stderr


def test_rising_pitch_at_the_end_is_detected():
    from voicetrainer.analysis.prosody import rising_end

    frame_s = 0.01
    flat = np.full(150, 120.0)
    rising = np.concatenate([np.full(100, 120.0), np.linspace(120, 180, 50)])  # +7 semitones at the end
    falling = np.concatenate([np.full(100, 120.0), np.linspace(120, 90, 50)])
    gaps = rising.copy()
    gaps[::3] = np.nan  # unvoiced frames in between change nothing
    assert rising_end(rising, frame_s=frame_s) is True and rising_end(gaps, frame_s=frame_s) is True
    assert rising_end(flat, frame_s=frame_s) is False and rising_end(falling, frame_s=frame_s) is False
    assert rising_end(np.full(6, 120.0), frame_s=frame_s) is None  # too short to tell


def test_calm_caller_asks_for_what_is_still_missing(gym):
    calm = gym.model_copy(update={"temperament": gym.temperament.model_copy(update={"start_anger": 3.0})})
    turn = ask(calm, "I'm so sorry about that.")  # apology heard, no timeframe yet
    assert "missing: timeframe" in turn.reason and "when" in turn.caller.lower()


def test_anything_else_before_anything_was_done_says_what_is_missing(gym):
    turn = ask(gym, "Is there anything else I can help you with today?")
    assert turn.situation == "answer" and "anything else" in turn.reason
    assert "sorry" in turn.caller.lower() or "apolog" in turn.caller.lower()  # requires: apology first


def test_silence_grows_in_words(gym):
    patient = gym.model_copy(update={"temperament": gym.temperament.model_copy(
        update={"max_turns": 30, "escalation": 0.2})})
    texts = [t.caller for t in chat(patient, [""] * 6).turns]
    assert len(set(texts)) == 6 and all(t.situation == "silence" for t in chat(patient, [""] * 6).turns)
    assert any("seconds" in t for t in texts)  # templated with the time waited


@pytest.mark.parametrize("question", ["Did you see the game last night?", "Have you tried the new pizza place downtown?"])
def test_a_small_talk_question_is_off_topic_not_a_question_for_the_facts(gym, question):
    """A question about nothing in the call gets "what?" (clarify), not "I don't know" and not
    the calming credit of a clarifying question."""
    turn = ask(gym, question)
    assert turn.situation == "clarify", (turn.situation, turn.caller, turn.reason)
