"""`voicetrainer demo`: a whole practice call where the trainee is a simulated agent that listens.

The agent (``session.agent``) hears each caller line, picks its answer from a playbook (a good
agent by default, ``rude`` to see escalation and a hang-up), says it with a second TTS voice into
the simulated microphone, and the live pipeline transcribes it with Whisper and passes the text
to the caller's mind, exactly as for a real trainee.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.config import Settings, user_data_dir
from voicetrainer.report.schema import Report

log = get_logger(__name__)


@dataclass
class DemoResult:
    """The report, the session folder and what the agent heard and said (with reasons)."""

    report: Report
    session_dir: Path
    agent_decisions: list[dict]
    outcome: str | None


def demo_call(
    persona_id: str, out_dir: Path, *, playbook: str = "good", settings: Settings = Settings(), realtime: bool = True,
    seed: int = 0, on_update=None, db: str | None = "", tts_backend=None, transcriber=None, speed: float = 1.0,
    html: bool = True, player_factory=None, agent_tts_backend=None, phone_line: bool = False,
) -> DemoResult:
    """Run the demo call into `out_dir` (session folder). `playbook`: ``good``, ``rude`` or a YAML
    file (see ``voicetrainer/data/agents``). The agent's lines are rendered before the call, with
    `agent_tts_backend` (default: the real speech engine, which Whisper can understand; the
    caller's lines use `tts_backend`)."""
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.session.agent import AgentVoice, ListeningTrainee, PlaybookAgent, agent_voice, load_playbook
    from voicetrainer.session.practice import simulate

    persona = load_persona(persona_id)
    agent = PlaybookAgent(load_playbook(playbook), persona)
    with RenderCache(user_data_dir(settings) / "tts-cache", backend=agent_tts_backend) as cache:
        voice = AgentVoice(cache, agent_voice(persona)).load(agent.all_lines())
    holder: dict = {}

    def factory(session):
        trainee = ListeningTrainee(agent, voice, session.track.active, lambda: session.caller_lines, seed=seed)
        holder["trainee"] = trainee
        return trainee

    report = simulate(persona_id, None, out_dir, settings=settings, realtime=realtime, seed=seed, on_update=on_update,
                      transcriber=transcriber, tts_backend=tts_backend, player_factory=player_factory, db=db,
                      trainee=f"demo agent ({playbook})", html=html, speed=speed, agent_factory=factory,
                      phone_line=phone_line)  # fmt: skip
    decisions = holder["trainee"].decisions if "trainee" in holder else []
    (Path(out_dir) / "agent_decisions.json").write_text(json.dumps(decisions, indent=2) + "\n")
    outcome = getattr(report, "outcome", None) or report.source.get("outcome")
    return DemoResult(report, Path(out_dir), decisions, outcome)
