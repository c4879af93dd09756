"""The demo's simulated agent listens: it answers each caller line from its playbook, with a
second TTS voice, through the microphone path and Whisper; good resolves, rude hangs up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicetrainer.persona.loader import load_persona
from voicetrainer.session.agent import ListeningTrainee, PlaybookAgent, agent_voice, load_playbook, speakable


@pytest.fixture(scope="module")
def sandra():
    return load_persona("billing-double-charge")


def test_playbook_reacts_to_what_the_caller_said(sandra):
    agent = PlaybookAgent(load_playbook("good"), sandra)
    first, why = agent.answer("Hi. You charged me twice this month.")
    assert why == "step 1" and "sorry" in first
    again, why = agent.answer("What? I didn't catch that.")
    assert again == first and "says the last answer again" in why
    when, why = agent.answer("Okay. And when exactly will I see the money back?")
    assert "five business days" in when and why.startswith("reaction")
    assert agent.answer("Fine.")[1] == "step 2"
    assert "charged twice" in agent.fill("{facts}")  # this persona's facts, read back in words


def test_every_playbook_line_can_be_said_and_the_voice_differs(sandra):
    for name in ("good", "rude"):
        agent = PlaybookAgent(load_playbook(name), sandra)
        assert all("{" not in line for line in agent.all_lines())
    assert agent_voice(sandra).voice != sandra.voice.voice
    assert speakable("$89.99 charged twice") == "89 dollars 99 charged twice"


def test_listening_trainee_waits_for_the_end_of_the_caller_line(sandra):
    agent = PlaybookAgent(load_playbook("good"), sandra)
    clip = np.full(1600, 0.5, dtype=np.float32)  # 0.1 s

    class Voice:
        def __getitem__(self, text):
            return clip

    lines: list[dict] = []
    t = ListeningTrainee(agent, Voice(), lambda s: 0.0 <= s < 2.0, lambda: lines)
    lines.append({"text": "Hi. You charged me twice.", "start_s": 0.0, "end_s": 2.0, "situation": "opening"})
    heard = [float(np.abs(t.block(320)).max()) > 0.1 for _ in range(200)]  # 4 s in 20 ms blocks
    first = heard.index(True) * 0.02
    assert 2.0 + 0.6 <= first <= 2.0 + 0.8  # after the line ended, with the answer gap
    assert t.decisions[0]["why"] == "step 1" and t.texts[0].startswith("Hello")
    lines.append({"text": "Okay, thanks. Bye.", "start_s": 4.0, "end_s": 5.0, "situation": "closing"})
    assert not any(float(np.abs(t.block(320)).max()) > 0.1 for _ in range(150))  # no answer to a goodbye


@pytest.mark.slow
@pytest.mark.parametrize("playbook, outcome", [("good", "resolved"), ("rude", "hung_up")])
def test_demo_call_ends_as_the_agent_deserves(tmp_path, monkeypatch, transcriber, playbook, outcome):
    from voicetrainer.persona.tts import FakeTTS, espeak_engine_id
    from voicetrainer.session.demo import demo_call

    if "espeak-ng-unknown" in espeak_engine_id():
        pytest.skip("espeak-ng is not installed: the agent's voice needs a real speech engine")
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    out = tmp_path / playbook
    result = demo_call("billing-double-charge", out, playbook=playbook, realtime=False, db=None, html=False,
                       tts_backend=FakeTTS(), transcriber=transcriber)
    assert result.outcome == outcome, [d["says"] for d in result.agent_decisions]
    said = json.loads((out / "trainee_script.json").read_text())
    turns = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    heard = [e["text"] for e in turns if e["type"] == "trainee_turn" and e["text"]]
    assert len(said) >= 3 and len(heard) >= 3  # the agent's lines went through Whisper
    assert json.loads((out / "agent_decisions.json").read_text())[0]["heard"]
