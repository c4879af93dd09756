"""A typed conversation with the caller engine: the same mind as a practice call, without audio.

For trainers testing a persona, recruits practising chat support, ``voicetrainer personas
chat`` and the web app's practice page::

    chat = ChatSession(load_persona("billing-double-charge"), seed=0)
    chat.opening.text                        # the caller's first line
    turn = chat.say("Can I have the last four digits of the account?")
    turn.caller, turn.situation, turn.mood, turn.reason   # "Ugh. It ends in 4471.", "answer", 6.8, "..."
    chat.transcript()                        # {"persona", "opening", "turns": [...], "outcome"}

Time is simulated (no clock is read): each agent turn starts after the caller's line, which
lasts as long as its words take to say, and takes as long as its own words. An empty turn is
silence, long enough to pass this caller's patience.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .call import CallerLine, TraineeObservation
from .dialog import DialogEngine
from .schema import Persona

CALLER_WORDS_PER_S = 2.8  # a caller line of n words lasts n / 2.8 s (about 170 words/min)
AGENT_WORDS_PER_S = 2.5  # an agent turn of n words takes n / 2.5 s (150 words/min)
REPLY_GAP_S = 0.8  # the agent starts this long after the caller stops
SILENCE_MARGIN_S = 1.0  # an empty turn is silence this much past the caller's threshold


@dataclass(frozen=True)
class ChatTurn:
    """One exchange: what the agent typed and what the caller answered, and why.

    Attributes:
        agent: the agent's words ("" = silence).
        caller: the caller's answer.
        situation: the line's situation (schema.ENGINE_SITUATIONS).
        mood: the caller's anger 0-10 when answering.
        reason: why the caller answered so (the engine's heard/situation/end decisions).
        t_s: simulated call time of the agent's turn, in seconds.
        ends_call: the caller's answer ended the call.
        outcome: None while the call goes on, else "resolved" | "hung_up" | "turn_limit".
    """

    agent: str
    caller: str
    situation: str
    mood: float
    reason: str
    t_s: float
    ends_call: bool = False
    outcome: str | None = None


def _reason(line: CallerLine) -> str:
    keep = [d.reason for d in line.decisions if d.kind in ("heard", "situation", "end")]
    mood = next((d.reason for d in line.decisions if d.kind == "mood"), None)
    return "; ".join(keep + ([mood] if mood else []))


class ChatSession:
    """One typed call with `persona`. `seed` makes it reproducible."""

    def __init__(self, persona: Persona, seed: int = 0):
        self.persona = persona
        self.engine = DialogEngine(persona, seed=seed)
        self.opening = self.engine.opening()
        self.turns: list[ChatTurn] = []
        self.t_s = self._duration(self.opening.text, CALLER_WORDS_PER_S) + REPLY_GAP_S

    @staticmethod
    def _duration(text: str, words_per_s: float) -> float:
        return max(1.0, len(text.split()) / words_per_s)

    @property
    def finished(self) -> bool:
        return self.engine.finished

    @property
    def outcome(self) -> str | None:
        return self.engine.outcome

    def say(self, text: str) -> ChatTurn:
        """The caller's answer to one agent turn (after the call ended: the last line again)."""
        text = " ".join(text.split())
        start = self.t_s
        if text:
            line = self.engine.respond(TraineeObservation(text=text, t_s=start))
            self.t_s += self._duration(text, AGENT_WORDS_PER_S)
        else:
            silence = self.engine.thresholds.silence_s + SILENCE_MARGIN_S
            line = self.engine.respond(TraineeObservation(text="", t_s=start + silence, silence_s=silence))
            self.t_s += silence
        self.t_s += self._duration(line.text, CALLER_WORDS_PER_S) + REPLY_GAP_S
        turn = ChatTurn(text, line.text, line.situation, round(line.mood, 2), _reason(line), round(start, 2),
                        line.ends_call, line.outcome)  # fmt: skip
        self.turns.append(turn)
        return turn

    def transcript(self, *, details: bool = False) -> dict:
        """``{"persona", "opening", "turns": [{"agent", "caller", "situation", "mood"}], "outcome"}``
        (outcome null when the call did not end); `details` adds each turn's reason and time."""
        keys = ("agent", "caller", "situation", "mood") + (("reason", "t_s") if details else ())
        return {
            "persona": self.persona.id,
            "opening": self.opening.text,
            "turns": [{k: v for k, v in asdict(t).items() if k in keys} for t in self.turns],
            "outcome": self.outcome,
        }
