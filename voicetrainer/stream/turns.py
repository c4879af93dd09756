"""Turn taking: a per-speaker state machine with hysteresis, and two-party turn analysis.

`SpeakerTracker` turns per-frame speech/non-speech decisions into confirmed speech segments
(QUIET -> STARTING -> SPEAKING -> STOPPING -> QUIET), emitting `TurnEvent`s as they are
confirmed. `build_turns` and `find_overlaps` are pure functions over the resulting segments:
who held the floor, who talked over whom and for how long, gaps and dead air.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from voicetrainer.config import FRAME_MS, TurnConfig

FRAME_S = FRAME_MS / 1000


class VoiceState(enum.Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


class EventKind(str, enum.Enum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    OVERLAP_START = "overlap_start"  # a speaker started while the other was speaking (barge-in)


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """Something confirmed about the conversation.

    Attributes:
        kind: what happened.
        speaker: "caller" or "trainee".
        t_s: when it happened (session clock; a speech start is back-dated to its first frame).
        detected_s: the session time at which it was confirmed (t_s + hysteresis delay).
        data: extra fields (e.g. ``start_s`` on SPEECH_END).
    """

    kind: EventKind
    speaker: str
    t_s: float
    detected_s: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Segment:
    """Confirmed continuous speech of one speaker (pauses shorter than min_silence inside)."""

    speaker: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class SpeakerTracker:
    """Hysteresis state machine for one speaker: ``push(is_speech, t_s) -> list[TurnEvent]``.

    Speech must last `min_speech_ms` to start a segment and silence `min_silence_ms` to end it.
    """

    def __init__(self, speaker: str, cfg: TurnConfig = TurnConfig()):
        self.speaker = speaker
        self.cfg = cfg
        self._min_speech = max(1, round(cfg.min_speech_ms / FRAME_MS))
        self._min_silence = max(1, round(cfg.min_silence_ms / FRAME_MS))
        self.reset()

    def reset(self) -> None:
        self.state = VoiceState.QUIET
        self._onset_s = 0.0
        self._last_speech_end_s = 0.0
        self._run = 0  # consecutive frames supporting the pending transition
        self._misses = 0
        self._soft_from: float | None = None  # start of the run of soft frames before an onset
        self._voice_end_s = 0.0  # end of the last speech frame (before soft-tail extension)
        self._tail_open = False  # soft frames still continue the last speech frame

    @property
    def speaking(self) -> bool:
        """Inside a confirmed segment (SPEAKING or STOPPING)."""
        return self.state in (VoiceState.SPEAKING, VoiceState.STOPPING)

    def push(self, is_speech: bool, t_s: float, *, soft: bool = False) -> list[TurnEvent]:
        """One frame's decision. `soft`: not speech, but the level is still above the noise
        floor (the front end's low threshold): a run of soft frames just before a confirmed
        onset moves the onset back onto it, and a run just after speech moves the offset
        forward, each by at most `edge_s`, so turns start and end where the voice does."""
        s = self.state
        end_s = t_s + FRAME_S
        if s is VoiceState.QUIET:
            if is_speech:
                onset = t_s if self._soft_from is None else max(self._soft_from, t_s - self.cfg.edge_s)
                self.state, self._onset_s, self._run, self._misses = VoiceState.STARTING, onset, 1, 0
                if self._run >= self._min_speech:
                    return self._confirm_start(end_s)
            elif soft:
                if self._soft_from is None:
                    self._soft_from = t_s
            else:
                self._soft_from = None
        elif s is VoiceState.STARTING:
            if is_speech:
                self._run += 1
                if self._run >= self._min_speech:
                    return self._confirm_start(end_s)
            else:
                self._misses += 1
                if self._misses > 1:  # one dropped frame is tolerated inside an onset
                    self.state = VoiceState.QUIET
                    self._soft_from = None
        elif s is VoiceState.SPEAKING:
            if is_speech:
                self._last_speech_end_s = self._voice_end_s = end_s
                self._tail_open = True
            else:
                self.state, self._run = VoiceState.STOPPING, 1
                self._extend_tail(soft, end_s)
        elif s is VoiceState.STOPPING:
            if is_speech:
                self.state = VoiceState.SPEAKING
                self._last_speech_end_s = self._voice_end_s = end_s
                self._tail_open = True
            else:
                self._extend_tail(soft, end_s)
                self._run += 1
                if self._run >= self._min_silence:
                    return self._confirm_end(end_s)
        return []

    def _extend_tail(self, soft: bool, end_s: float) -> None:
        """A soft frame right after speech (no gap) extends the segment's end, up to `edge_s`."""
        if soft and self._tail_open and end_s - self._voice_end_s <= self.cfg.edge_s + 1e-9:
            self._last_speech_end_s = end_s
        else:
            self._tail_open = False

    def flush(self, t_s: float) -> list[TurnEvent]:
        """End of stream: close an open segment at its last speech frame."""
        if self.speaking:
            return self._confirm_end(t_s)
        self.state = VoiceState.QUIET
        return []

    def _confirm_start(self, now_s: float) -> list[TurnEvent]:
        self.state = VoiceState.SPEAKING
        self._last_speech_end_s = self._voice_end_s = now_s
        self._soft_from = None
        self._tail_open = True
        return [TurnEvent(EventKind.SPEECH_START, self.speaker, self._onset_s, now_s)]

    def _confirm_end(self, now_s: float) -> list[TurnEvent]:
        self.state = VoiceState.QUIET
        return [
            TurnEvent(
                EventKind.SPEECH_END, self.speaker, self._last_speech_end_s, now_s,
                {"start_s": self._onset_s},
            )
        ]


# ----------------------------------------------------------------------------- two parties


@dataclass(frozen=True)
class TurnSpan:
    """A turn: one or more segments of one speaker, nobody else taking the floor in between."""

    speaker: str
    start_s: float
    end_s: float
    segments: tuple[Segment, ...]

    @property
    def speech_s(self) -> float:
        return sum(s.duration_s for s in self.segments)


@dataclass(frozen=True)
class Overlap:
    """`by` started speaking while `over` was speaking.

    Attributes:
        start_s: when `by` started.
        overlap_s: how long both spoke (seconds).
        stopped_first: who fell silent first during the overlap.
        segment: the overlapping segment of `by`.
    """

    by: str
    over: str
    start_s: float
    overlap_s: float
    stopped_first: str
    segment: Segment


def find_overlaps(segments: list[Segment], *, min_lead_s: float = 0.1) -> list[Overlap]:
    """Every segment that starts while another speaker's segment is running.

    Segments starting within `min_lead_s` of each other are simultaneous starts, not
    interruptions.
    """
    ordered = sorted(segments, key=lambda s: s.start_s)
    out: list[Overlap] = []
    longest: dict[str, Segment] = {}  # per speaker, the segment seen so far that ends last
    for seg in ordered:
        for spk, other in longest.items():
            if spk != seg.speaker and other.start_s + min_lead_s <= seg.start_s < other.end_s:
                overlap = min(seg.end_s, other.end_s) - seg.start_s
                first = seg.speaker if seg.end_s < other.end_s else other.speaker
                out.append(Overlap(seg.speaker, other.speaker, seg.start_s, overlap, first, seg))
                break
        prev = longest.get(seg.speaker)
        if prev is None or seg.end_s > prev.end_s:
            longest[seg.speaker] = seg
    return out


def build_turns(segments: list[Segment], *, merge_pause_s: float = 2.0) -> list[TurnSpan]:
    """Group segments into turns.

    A speaker's segment extends their open turn when it follows within `merge_pause_s` and the
    other speaker did not take the floor meanwhile (no other segment that started before this
    one and ran past the end of the open turn).
    """
    ordered = sorted(segments, key=lambda s: s.start_s)
    open_turn: dict[str, list[Segment]] = {}
    max_end: dict[str, float] = {}  # latest end of any segment seen so far, per speaker
    closed: list[list[Segment]] = []
    for seg in ordered:
        cur = open_turn.get(seg.speaker)
        if cur is not None:
            cur_end = cur[-1].end_s
            took_floor = any(end > cur_end for spk, end in max_end.items() if spk != seg.speaker)
            if seg.start_s - cur_end <= merge_pause_s and not took_floor:
                cur.append(seg)
                max_end[seg.speaker] = max(max_end.get(seg.speaker, 0.0), seg.end_s)
                continue
            closed.append(cur)
        open_turn[seg.speaker] = [seg]
        max_end[seg.speaker] = max(max_end.get(seg.speaker, 0.0), seg.end_s)
    closed.extend(open_turn.values())
    turns = [TurnSpan(g[0].speaker, g[0].start_s, g[-1].end_s, tuple(g)) for g in closed]
    return sorted(turns, key=lambda t: t.start_s)


def response_gaps(turns: list[TurnSpan], *, responder: str = "trainee") -> list[tuple[TurnSpan, float]]:
    """(turn, gap_s) for each `responder` turn that begins after the other speaker stopped.

    The gap runs from the end of the other speaker's last turn to the start of this one. Turns
    that begin while the other speaker is talking are interruptions, not gaps, and turns that
    follow the responder's own previous turn are continuations.
    """
    out = []
    last: TurnSpan | None = None  # the turn with the latest end among those started so far
    for t in sorted(turns, key=lambda u: u.start_s):
        if t.speaker == responder and last is not None:
            if last.speaker != responder and last.end_s <= t.start_s:
                out.append((t, t.start_s - last.end_s))
        if last is None or t.end_s > last.end_s:
            last = t
    return out


def silences(segments: list[Segment]) -> list[tuple[float, float]]:
    """(start_s, end_s) of every stretch where nobody speaks, between the first and last speech."""
    spans = sorted((s.start_s, s.end_s) for s in segments)
    out = []
    if not spans:
        return out
    cur_end = spans[0][1]
    for a, b in spans[1:]:
        if a > cur_end:
            out.append((cur_end, a))
        cur_end = max(cur_end, b)
    return out
