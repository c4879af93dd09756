"""The values that cross between the caller's mind and the session: what the trainee did in a
turn (`TraineeObservation`), what the caller says next (`CallerLine`), each logged `Decision`
and how the call ended (`CallEnd`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicetrainer.analysis.language import Move
from voicetrainer.report.schema import Word

from .tts import VoiceSettings


@dataclass(frozen=True)
class TraineeObservation:
    """What the trainee did in one turn (the live runner or the simulator fills it).

    Attributes:
        text: what the trainee said ("" for silence).
        t_s: when the turn started, seconds from the start of the call.
        words: the words with times (``report.schema.Word``), for evidence times.
        interrupted_caller: the trainee started talking while the caller was speaking.
        silence_s: how long the trainee stayed silent after the caller's line.
        pitch_rise_semitones: median pitch of the turn minus the trainee's baseline (None = unknown).
        loudness_rise_db: loudness of the turn minus baseline, in dB (None = unknown).
        wpm: speaking rate of the turn in words per minute (None = unknown).
        rising_end: the pitch rose at the end of the turn, as in a question (None = unknown).
    """

    text: str
    t_s: float = 0.0
    words: Sequence[Word] = ()
    interrupted_caller: bool = False
    silence_s: float = 0.0
    pitch_rise_semitones: float | None = None
    loudness_rise_db: float | None = None
    wpm: float | None = None
    rising_end: bool | None = None


@dataclass(frozen=True)
class Decision:
    """One logged decision of the caller's mind, for the report.

    Attributes:
        t_s: call time the decision refers to (seconds).
        kind: "mood" | "situation" | "line" | "interrupt" | "end" | "heard" (what the caller
            understood: a question and its matched fact, a wrong fact, a promise, a name).
        reason: human sentence, e.g. "mood 6→8: trainee said 'calm down' at 00:41 (+2.0)".
        mood_before, mood_after: anger 0-10 around the decision.
    """

    t_s: float
    kind: str
    reason: str
    mood_before: float
    mood_after: float


@dataclass(frozen=True)
class CallerLine:
    """What the caller says next, and why.

    Attributes:
        text: the words (render with ``RenderCache.get(text, voice)``).
        situation: one of schema.ENGINE_SITUATIONS: a persona situation, "objection",
            "answer" (from the scenario's facts: an answer, a correction, a repeat, "I don't know")
            or "clarify" (asks what the agent means).
        mood: the caller's anger 0-10 when saying it.
        voice: the exact voice settings (mood-dependent) — the render-cache key.
        ends_call: True for the last line (resolution, hang-up or turn limit).
        outcome: None while the call goes on, else "resolved" | "hung_up" | "turn_limit".
        decisions: the log entries that led to this line.
        moves: the trainee's moves detected in the turn this line answers.
        line_index: index of the text in ``persona.lines.<situation>`` (-1: a composed line).
        t_s: the call time the line answers (the observation's t_s), when known.
    """

    text: str
    situation: str
    mood: float
    voice: VoiceSettings
    ends_call: bool = False
    outcome: str | None = None
    decisions: tuple[Decision, ...] = ()
    moves: tuple[Move, ...] = ()
    line_index: int = 0
    t_s: float | None = None


def fmt_time(t_s: float | None) -> str:
    """mm:ss (call time)."""
    if t_s is None:
        return "--:--"
    t = max(0, int(round(t_s)))
    return f"{t // 60:02d}:{t % 60:02d}"


def fmt_mood(m: float) -> str:
    return f"{round(m, 1):g}"


@dataclass(frozen=True)
class CallEnd:
    """How the call ended, for the report's top-level ``outcome``.

    Attributes:
        outcome: "resolved" | "hung_up" | "turn_limit".
        reason: the decision that ended it, e.g. "resolved: apology, timeframe heard and anger 3 ≤ 3.5".
        t_s: call time of the last agent turn.
        turns: agent turns heard.
        final_mood: anger 0-10 at the end.
    """

    outcome: str
    reason: str
    t_s: float
    turns: int
    final_mood: float
