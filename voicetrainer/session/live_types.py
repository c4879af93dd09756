"""What a live session takes and gives: options, the live-view snapshot, the typed result, and
the caller's-mind protocol. No behaviour; `live.py` wires the stages that use them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from voicetrainer.session.analyzer import CallResult


class CallerMind(Protocol):
    """What the live runner needs from the dialog engine (voicetrainer.persona.dialog)."""

    def opening(self) -> Any: ...
    def respond(self, obs: Any) -> Any: ...
    def on_interrupted(self, t_s: float) -> Any: ...


@dataclass
class LiveUpdate:
    """A snapshot for the live view (terminal or web), a few times per second."""

    t_s: float
    mood: float | None
    caller_speaking: bool
    trainee_speaking: bool
    trainee_level_dbfs: float
    trainee_pitch_hz: float | None
    baseline: dict | None
    wpm: float | None
    captions: list[dict]
    nudge: str | None
    ended: bool = False


@dataclass
class LiveOptions:
    """
    Attributes:
        silence_check_s: every this many seconds of dead air, the persona is asked whether it
            reacts (its patience sets how long it waits).
        max_call_s: hard stop.
        realtime: True when frames come from a real-time source (mic or paced simulation).
        end_grace_s: after the final caller line, how long to keep recording.
        first_line_delay_s: when the caller's opening line starts.
        turn_end_silence_s: silence that ends the trainee's turn (the speech segment itself ends
            after the shorter hysteresis of TurnConfig.min_silence_ms, as offline).
    """

    silence_check_s: float = 2.0
    max_call_s: float = 300.0
    realtime: bool = True
    end_grace_s: float = 1.0
    first_line_delay_s: float = 0.5
    turn_end_silence_s: float = 0.6


@dataclass
class LiveLatency:
    """Reply and barge-in latency of a live session (seconds), as the report's ``latency``.

    A reply's latency runs from the moment the caller could answer to the start of the answer:
    the end of the trainee's turn, or, when the turn ended while the caller was still speaking
    (the trainee talked over a line the caller finished), the end of that caller line.
    """

    reply_p50_s: float | None = None
    reply_p95_s: float | None = None
    barge_in_p50_s: float | None = None
    barge_in_p95_s: float | None = None
    replies: int = 0
    barge_ins: int = 0
    clock: str = "real time"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LiveResult:
    """What `LiveSession.run` returns: what the report needs.

    Attributes:
        result: the streaming stages' findings (turns, voice, the decided trainee words).
        latency: reply and barge-in latency.
        events: every event of the session, in order (as written to events.jsonl).
        caller_lines: the caller lines played, with times (``caller_line`` events).
        aborted: why the call ended early (Ctrl-C, End call), or None.
    """

    result: "CallResult"
    latency: LiveLatency
    events: list[dict] = field(default_factory=list)
    caller_lines: list[dict] = field(default_factory=list)
    aborted: str | None = None
