"""The caller's mind: a mood (anger 0-10) that reacts to what the trainee just did.

Public API (used by the live-practice runner and the simulated demo)::

    engine = DialogEngine(persona, seed=0)
    line = engine.opening()                              # CallerLine: text, situation, mood, voice
    line = engine.respond(TraineeObservation(text="I'm so sorry...", t_s=12.4, words=words,
                                             interrupted_caller=False, silence_s=0.8,
                                             pitch_rise_semitones=0.5, loudness_rise_db=1.0, wpm=150))
    line = engine.on_interrupted(t_s=20.1)               # "Let me finish!" or None (talks on)
    line = engine.on_silence(silence_s=6.0, t_s=30.0)    # "Hello? Are you there?" or None
    line = engine.maybe_barge_in(trainee_talk_s=14.0, t_s=45.0)  # an angry caller cuts in, or None
    engine.finished, engine.outcome                      # "resolved" | "hung_up" | "turn_limit"
    engine.log                                           # every Decision, with reasons and times

How a turn moves the mood: each move kind found by ``voicetrainer.analysis.language`` in the
trainee's words counts once per turn (MOVE_EFFECTS; calming moves wear off when repeated:
the n-th apology counts ``REPEAT_DECAY ** n``), plus a bonus for a concrete solution (a next
step or ownership *with* a timeframe in the same turn), plus the voice: pitch or loudness above
the trainee's baseline, rushing, talking over the caller, and long silence, each against a
threshold set by the persona's patience (``Thresholds.for_patience``). Anger increases are
multiplied by ``temperament.escalation``, decreases by ``temperament.calming``. The new mood
picks the situation of the next line, and its voice (``voice_for_mood``); the call ends when the
caller is satisfied (resolution requirements met and mood at or below ``max_anger``), hangs up
(mood reaches ``hang_up_at``) or gives up (``max_turns``).

Deterministic: the same persona, seed and sequence of calls give the same lines and log. The
engine never reads a clock; times come in with the observations.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from voicetrainer import get_logger
from voicetrainer.analysis.language import Move, PhraseLists, detect_moves, load_phrases
from voicetrainer.report.schema import Word
from voicetrainer.rules import RULES

from .schema import SITUATIONS, Persona
from .tts import MOOD_BAND_NAMES, VoiceSettings, band_mood, mood_band, voice_for_mood

log = get_logger(__name__)

MOOD_MIN, MOOD_MAX = 0.0, 10.0

# Anger change per move kind found in a trainee turn (negative = calmer). Counted once per turn.
MOVE_EFFECTS: dict[str, float] = {
    "apology": -1.0,
    "empathy": -1.0,
    "ownership": -0.8,
    "timeframe": -0.8,
    "next_step": -0.6,
    "repeat_back": -0.6,
    "clarifying_question": -0.2,
    "gratitude": -0.2,
    "greeting": 0.0,
    "jargon": +0.8,
    "blame": +1.5,
    "calm_down": +2.0,
    "policy": +1.2,
    "dismissive": +1.5,
}
SOLUTION_BONUS = -1.0  # a next step or ownership together with a timeframe, in one turn
REPEAT_DECAY = 0.5  # the n-th turn with the same calming move counts REPEAT_DECAY ** n
INTERRUPTION_EFFECT = +1.5  # the trainee talked over the caller
PITCH_EFFECT = +0.6  # pitch above baseline by more than the threshold
LOUDNESS_EFFECT = +0.8  # louder than baseline by more than the threshold
RUSHING_EFFECT = +0.5  # faster than the threshold
SILENCE_EFFECT = +0.8  # silent longer than the threshold
BARGE_IN_MIN_MOOD = 6.5  # only an angry caller cuts into a long answer

ANGER_KINDS = ("jargon", "blame", "calm_down", "policy", "dismissive")
SOFT_KINDS = ("apology", "empathy", "ownership", "repeat_back")


@dataclass(frozen=True)
class Thresholds:
    """When the trainee's delivery bothers this caller (set by the persona's patience 0-10).

    Attributes:
        silence_s: silence after the caller's line longer than this is "are you there?".
        pitch_rise_semitones: median pitch this far above the trainee's baseline sounds tense.
        loudness_rise_db: this much louder than baseline sounds like shouting back.
        rushing_wpm: faster than this (words per minute) is rushing.
        stall_effect: anger added by a turn with no calming and no angering move at all.
        barge_in_after_s: an angry caller may cut in when the trainee talks longer than this.
    """

    silence_s: float
    pitch_rise_semitones: float
    loudness_rise_db: float
    rushing_wpm: float
    stall_effect: float
    barge_in_after_s: float

    @classmethod
    def for_patience(cls, patience: float) -> "Thresholds":
        p = float(patience)
        return cls(
            silence_s=3.0 + 0.4 * p,  # 3 s (patience 0) .. 7 s (patience 10)
            pitch_rise_semitones=1.5 + 0.25 * p,  # 1.5 .. 4 semitones
            loudness_rise_db=3.0 + 0.4 * p,  # 3 .. 7 dB
            rushing_wpm=RULES.rushing_wpm_for(p),  # 175 .. 205 wpm (voicetrainer/rules.py)
            stall_effect=0.1 + 0.05 * (10.0 - p),  # 0.6 .. 0.1
            barge_in_after_s=6.0 + 0.8 * p,  # 6 .. 14 s
        )


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
    """

    text: str
    t_s: float = 0.0
    words: Sequence[Word] = ()
    interrupted_caller: bool = False
    silence_s: float = 0.0
    pitch_rise_semitones: float | None = None
    loudness_rise_db: float | None = None
    wpm: float | None = None


@dataclass(frozen=True)
class Decision:
    """One logged decision of the caller's mind, for the report.

    Attributes:
        t_s: call time the decision refers to (seconds).
        kind: "mood" | "situation" | "line" | "interrupt" | "end".
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
        situation: one of schema.SITUATIONS.
        mood: the caller's anger 0-10 when saying it.
        voice: the exact voice settings (mood-dependent) — the render-cache key.
        ends_call: True for the last line (resolution, hang-up or turn limit).
        outcome: None while the call goes on, else "resolved" | "hung_up" | "turn_limit".
        decisions: the log entries that led to this line.
        moves: the trainee's moves detected in the turn this line answers.
        line_index: index of the text in ``persona.lines.<situation>``.
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


def _fmt_mood(m: float) -> str:
    return f"{round(m, 1):g}"


def planned_renders(persona: Persona) -> list[tuple[str, VoiceSettings]]:
    """Every (text, voice) the engine can ask for with this persona: the opening at the starting
    mood's voice, every other line at every mood band. ``RenderCache.prefill`` renders these."""
    out: list[tuple[str, VoiceSettings]] = []
    seen = set()
    start_voice = voice_for_mood(persona.voice, persona.temperament.start_anger)
    for situation in SITUATIONS:
        voices = (
            [start_voice]
            if situation == "opening"
            else [voice_for_mood(persona.voice, band_mood(b)) for b in range(len(MOOD_BAND_NAMES))]
        )
        for text in persona.lines.of(situation):
            for v in voices:
                if (text, v) not in seen:
                    seen.add((text, v))
                    out.append((text, v))
    return out


@dataclass
class _Deck:
    """Lines of one situation drawn without repeating until all were used."""

    size: int
    order: list[int] = field(default_factory=list)
    last: int | None = None

    def draw(self, rng: random.Random) -> int:
        if not self.order:
            self.order = list(range(self.size))
            rng.shuffle(self.order)
            if self.size > 1 and self.order[-1] == self.last:  # never the same line twice in a row
                self.order[0], self.order[-1] = self.order[-1], self.order[0]
        self.last = self.order.pop()
        return self.last


class DialogEngine:
    """One call with one persona. Not thread-safe: call it from the session's control thread.

    Args:
        persona: a validated Persona.
        seed: makes line choices and talk-over decisions reproducible.
        phrases: phrase lists for move detection (default ``load_phrases()``).
    """

    def __init__(self, persona: Persona, seed: int = 0, *, phrases: PhraseLists | None = None):
        self.persona = persona
        self.seed = seed
        self.phrases = phrases if phrases is not None else load_phrases()
        t = persona.temperament
        self.thresholds = Thresholds.for_patience(t.patience)
        self.mood = float(t.start_anger)
        self.turn = 0
        self.finished = False
        self.outcome: str | None = None
        self.log: list[Decision] = []
        self.moves_seen: dict[str, int] = {}  # turns in which each move kind occurred
        self._rng_lines = random.Random(f"{seed}:{persona.id}:lines")
        self._rng_talk = random.Random(f"{seed}:{persona.id}:talk")
        self._decks = {s: _Deck(len(persona.lines.of(s))) for s in SITUATIONS}
        self._pending_interrupts = 0
        self._interrupt_answered = False
        self._barged_this_turn = False
        self._final_line: CallerLine | None = None

    # -- helpers
    def _decide(self, t_s: float, kind: str, reason: str, before: float | None = None) -> Decision:
        d = Decision(t_s, kind, reason, self.mood if before is None else before, self.mood)
        self.log.append(d)
        log.debug("%s %s: %s", fmt_time(t_s), kind, reason)
        return d

    def _line(self, situation: str, t_s: float | None, decisions: list[Decision], *, moves=(), outcome=None) -> CallerLine:
        idx = self._decks[situation].draw(self._rng_lines)
        text = self.persona.lines.of(situation)[idx]
        voice = voice_for_mood(self.persona.voice, self.mood)
        decisions.append(
            self._decide(t_s or 0.0, "line", f"{situation}[{idx}], {MOOD_BAND_NAMES[mood_band(self.mood)]} voice: {text!r}")
        )
        return CallerLine(
            text=text, situation=situation, mood=round(self.mood, 2), voice=voice,
            ends_call=outcome is not None, outcome=outcome, decisions=tuple(decisions),
            moves=tuple(moves), line_index=idx, t_s=t_s,
        )  # fmt: skip

    # -- the public protocol
    def opening(self) -> CallerLine:
        """The caller's first line, at the persona's starting anger."""
        d = [self._decide(0.0, "situation", f"opening at anger {_fmt_mood(self.mood)} ({self.persona.name})")]
        return self._line("opening", 0.0, d)

    def on_interrupted(self, t_s: float) -> CallerLine | None:
        """The trainee started talking over the caller's current line. Returns the reaction to
        play instead of the rest of the line ("Let me finish!"), or None when this caller talks
        on (probability ``temperament.talk_over``). The mood effect is applied once, in the
        next ``respond``."""
        if self.finished:
            return None
        self._pending_interrupts += 1
        if self._rng_talk.random() < self.persona.temperament.talk_over:
            self._decide(t_s, "interrupt", f"interrupted at {fmt_time(t_s)}: talks on over the trainee")
            return None
        self._interrupt_answered = True
        d = [self._decide(t_s, "interrupt", f"interrupted at {fmt_time(t_s)}: stops and objects")]
        return self._line("interrupted", t_s, d)

    def on_silence(self, silence_s: float, t_s: float) -> CallerLine | None:
        """The trainee has said nothing for ``silence_s`` after the caller's line. Returns a
        "Hello? Are you there?" line (a turn, with its mood effect) once the silence passes this
        caller's threshold, else None."""
        if self.finished or silence_s < self.thresholds.silence_s:
            return None
        return self.respond(TraineeObservation(text="", t_s=t_s, silence_s=silence_s))

    def maybe_barge_in(self, trainee_talk_s: float, t_s: float) -> CallerLine | None:
        """Whether an angry caller cuts into a long trainee answer (at most once per turn).
        Returns the line to say over the trainee, or None."""
        if (
            self.finished
            or self._barged_this_turn
            or self.mood < BARGE_IN_MIN_MOOD
            or trainee_talk_s < self.thresholds.barge_in_after_s
        ):
            return None
        self._barged_this_turn = True
        if self._rng_talk.random() >= self.persona.temperament.talk_over:
            return None
        d = [self._decide(t_s, "interrupt", f"barges in at {fmt_time(t_s)}: the trainee has talked for {trainee_talk_s:.0f} s")]
        return self._line("complaint", t_s, d)

    def respond(self, obs: TraineeObservation) -> CallerLine:
        """The caller's answer to one trainee turn: updates the mood, picks the situation and the
        line, and decides whether the call ends. After the call ended, returns the last line again
        (``ends_call`` set) without changing anything."""
        if self.finished and self._final_line is not None:
            return self._final_line
        self.turn += 1
        t_s = obs.t_s
        facts = self.persona.scenario.facts
        moves = detect_moves(obs.text, words=list(obs.words) or None, facts=facts, phrases=self.phrases)
        before = self.mood
        deltas = self._mood_deltas(obs, moves)
        total = sum(d for d, _ in deltas)
        self.mood = min(MOOD_MAX, max(MOOD_MIN, before + total))
        decisions: list[Decision] = []
        reasons = "; ".join(f"{why} ({d:+.1f})" for d, why in deltas) or "no change"
        decisions.append(self._decide(t_s, "mood", f"mood {_fmt_mood(before)}→{_fmt_mood(self.mood)}: {reasons}", before))
        kinds_now = {m.kind for m in moves}
        for k in kinds_now:
            self.moves_seen[k] = self.moves_seen.get(k, 0) + 1

        interrupted = obs.interrupted_caller or self._pending_interrupts > 0
        answered = self._interrupt_answered
        self._pending_interrupts, self._interrupt_answered, self._barged_this_turn = 0, False, False

        # -- does the call end?
        t = self.persona.temperament
        res = self.persona.scenario.resolution
        missing = [k for k in res.requires if k not in self.moves_seen]
        if self.mood >= t.hang_up_at:
            return self._end("hang_up", "hung_up", t_s, decisions, moves,
                             f"hangs up: anger {_fmt_mood(self.mood)} reached {t.hang_up_at:g}")  # fmt: skip
        if not missing and self.mood <= res.max_anger:
            return self._end("closing", "resolved", t_s, decisions, moves,
                             f"resolved: {', '.join(res.requires) or 'no requirements'} heard and anger "
                             f"{_fmt_mood(self.mood)} ≤ {res.max_anger:g}")  # fmt: skip
        if self.turn >= t.max_turns:
            return self._end("hang_up", "turn_limit", t_s, decisions, moves,
                             f"gives up after {self.turn} turns (limit {t.max_turns})"
                             + (f"; still missing: {', '.join(missing)}" if missing else ""))  # fmt: skip

        situation, why = self._situation(obs, kinds_now, total, interrupted and not answered)
        decisions.append(self._decide(t_s, "situation", f"{situation}: {why}"))
        return self._line(situation, t_s, decisions, moves=moves)

    # -- internals
    def _end(self, situation, outcome, t_s, decisions, moves, reason) -> CallerLine:
        decisions.append(self._decide(t_s, "end", reason))
        self.finished = True
        self.outcome = outcome
        line = self._line(situation, t_s, decisions, moves=moves, outcome=outcome)
        self._final_line = line
        return line

    def _situation(self, obs: TraineeObservation, kinds: set[str], total: float, interrupted: bool) -> tuple[str, str]:
        if not obs.text.strip():
            return "silence", f"the trainee said nothing for {obs.silence_s:.1f} s"
        if "jargon" in kinds:
            return "jargon", "the trainee used jargon"
        if interrupted:
            return "interrupted", "the trainee talked over the caller"
        if kinds & {"blame", "calm_down", "policy", "dismissive"} or total >= 1.0:
            return "escalation", "the trainee made it worse"
        if "timeframe" in kinds and kinds & {"next_step", "ownership"}:
            return "solution_received", "a concrete solution with a timeframe was offered"
        if kinds & set(SOFT_KINDS) and total < 0:
            return "empathy_received", "the caller felt heard"
        return "complaint", "nothing changed: the caller repeats the complaint"

    def _mood_deltas(self, obs: TraineeObservation, moves: list[Move]) -> list[tuple[float, str]]:
        """(anger change, reason) for one turn, temperament applied."""
        t = self.persona.temperament
        th = self.thresholds
        raw: list[tuple[float, str]] = []
        first: dict[str, Move] = {}
        for m in moves:
            first.setdefault(m.kind, m)
        for kind, m in first.items():
            effect = MOVE_EFFECTS.get(kind, 0.0)
            if effect == 0.0:
                continue
            if effect < 0:
                effect *= REPEAT_DECAY ** self.moves_seen.get(kind, 0)
            at = fmt_time(m.t_s if m.t_s is not None else obs.t_s)
            label = m.why if kind == "jargon" else {
                "calm_down": "trainee said", "policy": "trainee said", "blame": "trainee blamed",
                "dismissive": "trainee was dismissive:", "apology": "apology", "empathy": "empathy",
                "ownership": "ownership", "timeframe": "timeframe", "next_step": "next step",
                "repeat_back": "repeated the facts", "clarifying_question": "clarifying question",
                "gratitude": "thanked",
            }.get(kind, kind)  # fmt: skip
            raw.append((effect, f"{label} {m.quote!r} at {at}"))
        kinds = set(first)
        if "timeframe" in kinds and kinds & {"next_step", "ownership"}:
            raw.append((SOLUTION_BONUS, "a concrete solution with a timeframe"))
        interrupted = obs.interrupted_caller or self._pending_interrupts > 0
        if interrupted:
            raw.append((INTERRUPTION_EFFECT, f"trainee talked over the caller at {fmt_time(obs.t_s)}"))
        if obs.pitch_rise_semitones is not None and obs.pitch_rise_semitones > th.pitch_rise_semitones:
            raw.append((PITCH_EFFECT, f"voice pitch up {obs.pitch_rise_semitones:.1f} st over baseline"))
        if obs.loudness_rise_db is not None and obs.loudness_rise_db > th.loudness_rise_db:
            raw.append((LOUDNESS_EFFECT, f"voice {obs.loudness_rise_db:.1f} dB louder than baseline"))
        if obs.wpm is not None and obs.wpm > th.rushing_wpm:
            raw.append((RUSHING_EFFECT, f"rushing at {obs.wpm:.0f} wpm"))
        if obs.silence_s > th.silence_s:
            raw.append((SILENCE_EFFECT, f"silent for {obs.silence_s:.1f} s"))
        if not raw and obs.text.strip():
            raw.append((th.stall_effect, "nothing that helps"))
        return [(d * (t.escalation if d > 0 else t.calming), why) for d, why in raw]

    def summary(self) -> dict:
        """For the report: outcome, final mood, turns, and the decision log as plain data."""
        return {
            "persona": self.persona.id,
            "seed": self.seed,
            "outcome": self.outcome,
            "turns": self.turn,
            "final_mood": round(self.mood, 2),
            "decisions": [
                {"t_s": d.t_s, "kind": d.kind, "reason": d.reason, "mood_before": round(d.mood_before, 2),
                 "mood_after": round(d.mood_after, 2)}
                for d in self.log
            ],  # fmt: skip
        }
