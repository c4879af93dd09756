"""How one agent turn moves the caller's mood (anger 0-10): the effect of each move kind, of the
voice (pitch, loudness, rate against the trainee's baseline), of talking over the caller and of
silence, scaled by the persona's temperament. One source for these numbers: the dialog engine
(``persona.dialog``) and its tests read them from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicetrainer.analysis.language import Move
from voicetrainer.rules import RULES

from .call import TraineeObservation, fmt_time

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
WRONG_FACT_EFFECT = +0.6  # the agent stated one of the caller's facts wrongly
REPEAT_QUESTION_EFFECT = +0.8  # the agent asked again for something the caller already answered
OFF_TOPIC_EFFECT = +0.6  # a turn about something else entirely (the caller asks "what?")
FIRST_OFF_TOPIC_EFFECT = +0.3  # ... the first time the caller is puzzled more than angry
CONTENTLESS_EFFECT = +0.3  # "uh... um..."


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


def mood_deltas(obs: TraineeObservation, moves: Sequence[Move], *, temperament, thresholds: Thresholds,
                moves_seen: dict[str, int], pending_interrupts: int = 0, interrupt_at: float | None = None,
                extra: Sequence[tuple[float, str]] = (),
                unhelpful: tuple[float, str] | None = None) -> list[tuple[float, str]]:
    """(anger change, reason) for one turn, temperament applied. `extra`: effects the dialog
    found itself (a fact stated wrongly, a question asked twice); `unhelpful`: why a turn with
    no other effect did not help (off topic, empty), instead of the persona's stall effect."""
    t = temperament
    th = thresholds
    raw: list[tuple[float, str]] = []
    first: dict[str, Move] = {}
    for m in moves:
        first.setdefault(m.kind, m)
    for kind, m in first.items():
        effect = MOVE_EFFECTS.get(kind, 0.0)
        if effect == 0.0:
            continue
        if effect < 0:
            effect *= REPEAT_DECAY ** moves_seen.get(kind, 0)
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
    if obs.interrupted_caller or pending_interrupts > 0:  # at the barge-in, not at the turn's end
        at = interrupt_at if interrupt_at is not None else obs.words[0].start_s if obs.words else obs.t_s
        raw.append((INTERRUPTION_EFFECT, f"trainee talked over the caller at {fmt_time(at)}"))
    if obs.pitch_rise_semitones is not None and obs.pitch_rise_semitones > th.pitch_rise_semitones:
        raw.append((PITCH_EFFECT, f"voice pitch up {obs.pitch_rise_semitones:.1f} st over baseline"))
    if obs.loudness_rise_db is not None and obs.loudness_rise_db > th.loudness_rise_db:
        raw.append((LOUDNESS_EFFECT, f"voice {obs.loudness_rise_db:.1f} dB louder than baseline"))
    if obs.wpm is not None and obs.wpm > th.rushing_wpm:
        raw.append((RUSHING_EFFECT, f"rushing at {obs.wpm:.0f} wpm"))
    if obs.silence_s > th.silence_s:
        raw.append((SILENCE_EFFECT, f"silent for {obs.silence_s:.1f} s"))
    raw.extend(extra)
    if not raw and obs.text.strip():
        raw.append(unhelpful or (th.stall_effect, "nothing that helps"))
    return [(d * (t.escalation if d > 0 else t.calming), why) for d, why in raw]
