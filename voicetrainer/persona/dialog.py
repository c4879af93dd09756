"""The caller's mind: a mood (anger 0-10) that reacts to what the agent just did, and a caller
who converses — answers questions from the scenario, corrects wrong facts, remembers promises.

Public API (used by the live-practice runner, the simulated demo and ``personas chat``)::

    engine = DialogEngine(persona, seed=0)
    line = engine.opening()                              # CallerLine: text, situation, mood, voice
    line = engine.respond(TraineeObservation(text="Can I have the last four digits?", t_s=12.4))
    #  -> CallerLine(text="Ugh. It ends in 4471.", situation="answer", ...)
    line = engine.on_interrupted(t_s=20.1)               # "Let me finish!" or None (talks on)
    line = engine.on_silence(silence_s=6.0, t_s=30.0)    # "Hello? Are you there?" or None
    line = engine.maybe_barge_in(trainee_talk_s=14.0, t_s=45.0)  # an angry caller cuts in, or None
    engine.finished, engine.outcome, engine.end        # outcome "resolved" | "hung_up" | "turn_limit"; end: CallEnd
    engine.log                                           # every Decision, with reasons and times

One agent turn: the moves found by ``voicetrainer.analysis.language.detect_moves`` and the voice
move the mood (``persona.mood``); what the caller *heard* (``persona.facts``,
``persona.listening``) adds its own effects and is logged as "heard" decisions: a question and
the fact that answers it, a fact stated wrongly, a question asked again, an off-topic or empty
turn, a promise (next step, timeframe), the agent's name. Then the call may end (resolved when
the persona's required moves were heard and the mood is low enough, after the persona's
objections; hung up when the mood reaches ``hang_up_at``; gives up after ``max_turns``), else
the situation is chosen, in this order: silence, a correction, jargon, interrupted, escalation,
an answer, clarify ("what?"), an objection to a weak solution, the solution received, empathy
received, the complaint. Lines come from ``LineBook``: never the same line twice while others
remain.

Deterministic: the same persona, seed and sequence of calls give the same lines and log. The
engine never reads a clock; times come in with the observations.
"""

from __future__ import annotations

import random

from voicetrainer import get_logger
from voicetrainer.analysis.language import Move, PhraseLists, detect_moves, load_phrases

from . import phrasing as ph
from .call import CallEnd, CallerLine, Decision, TraineeObservation, fmt_mood, fmt_time
from .linebook import LineBook, Pick, planned_renders
from .listening import agent_name, scenario_vocabulary, second_person
from .mood import (
    ANGER_KINDS,
    BARGE_IN_MIN_MOOD,
    CONTENTLESS_EFFECT,
    FIRST_OFF_TOPIC_EFFECT,
    MOOD_MAX,
    MOOD_MIN,
    MOVE_EFFECTS,
    OFF_TOPIC_EFFECT,
    REPEAT_QUESTION_EFFECT,
    SOFT_KINDS,
    WRONG_FACT_EFFECT,
    Thresholds,
    mood_deltas,
)
from .reply import Heard, answer_line, hear
from .schema import SITUATIONS, Persona
from .tts import MOOD_BAND_NAMES, mood_band, voice_for_mood

log = get_logger(__name__)

__all__ = [
    "DialogEngine", "TraineeObservation", "CallerLine", "Decision", "CallEnd", "Thresholds", "MOVE_EFFECTS",
    "planned_renders", "fmt_time", "SITUATIONS",
]  # fmt: skip

MAX_PROMISE_CHARS = 80  # a promise repeated back longer than this is cut to its timeframe
CLOSING_SLACK = 1.5  # "anything else I can help with?" once all is done: accepts up to max_anger + this


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
        self.end: CallEnd | None = None
        self.log: list[Decision] = []
        self.moves_seen: dict[str, int] = {}  # turns in which each move kind occurred
        self.book = LineBook(persona, random.Random(f"{seed}:{persona.id}:lines"))
        self._rng_talk = random.Random(f"{seed}:{persona.id}:talk")
        self._vocabulary = scenario_vocabulary(
            [persona.scenario.summary, persona.scenario.resolution.description, *persona.scenario.facts,
             *(t for s in SITUATIONS for t in persona.lines.of(s))])  # fmt: skip
        self.answered: dict[str, int] = {}  # fact key -> times the caller answered it
        self.promise: str | None = None  # what the agent promised, as the caller repeats it
        self.agent: str | None = None  # the agent's name, once given
        self._name_used = False
        self._promise_said = False
        self._objections = 0
        self._off_topic = 0  # off-topic turns so far
        self._pending_interrupts, self._interrupt_at = 0, None  # barge-ins since the last turn, first one's time
        self._interrupt_answered = False
        self._barged_this_turn = False
        self._final_line: CallerLine | None = None

    # -- helpers
    def _decide(self, t_s: float, kind: str, reason: str, before: float | None = None) -> Decision:
        d = Decision(t_s, kind, reason, self.mood if before is None else before, self.mood)
        self.log.append(d)
        log.debug("%s %s: %s", fmt_time(t_s), kind, reason)
        return d

    def _say(self, situation: str, pick: Pick, t_s: float | None, decisions: list[Decision], *, moves=(),
             outcome=None) -> CallerLine:
        text = pick.text
        if self.agent and not self._name_used and situation not in ("answer", "clarify", "opening", "interrupted"):
            self._name_used = True
            text = f"{self.agent}, {ph.lower_first(text)}"
        self.book.mark(text)
        voice = voice_for_mood(self.persona.voice, self.mood)
        where = f"{situation}[{pick.index}]" if pick.index >= 0 else f"{situation} ({pick.source})"
        decisions.append(self._decide(t_s or 0.0, "line", f"{where}, {MOOD_BAND_NAMES[mood_band(self.mood)]} voice: {text!r}"))
        return CallerLine(
            text=text, situation=situation, mood=round(self.mood, 2), voice=voice,
            ends_call=outcome is not None, outcome=outcome, decisions=tuple(decisions),
            moves=tuple(moves), line_index=pick.index, t_s=t_s,
        )  # fmt: skip

    def _values(self, t_s: float, **extra) -> dict[str, str]:
        values = {"elapsed": ph.elapsed_words(t_s), **extra}
        if self.promise:
            values.update(promise=self.promise, promise_cap=ph.capitalise(self.promise))
        return values

    # -- the public protocol
    def opening(self) -> CallerLine:
        """The caller's first line, at the persona's starting anger."""
        d = [self._decide(0.0, "situation", f"opening at anger {fmt_mood(self.mood)} ({self.persona.name})")]
        return self._say("opening", self.book.line("opening", {}), 0.0, d)

    def on_interrupted(self, t_s: float) -> CallerLine | None:
        """The trainee started talking over the caller's current line. Returns the reaction to
        play instead of the rest of the line ("Let me finish!"), or None when this caller talks
        on (probability ``temperament.talk_over``). The mood effect is applied once, in the
        next ``respond``."""
        if self.finished:
            return None
        self._pending_interrupts += 1
        self._interrupt_at = t_s if self._interrupt_at is None else self._interrupt_at
        if self._rng_talk.random() < self.persona.temperament.talk_over:
            self._decide(t_s, "interrupt", f"interrupted at {fmt_time(t_s)}: talks on over the trainee")
            return None
        self._interrupt_answered = True
        d = [self._decide(t_s, "interrupt", f"interrupted at {fmt_time(t_s)}: stops and objects")]
        return self._say("interrupted", self.book.line("interrupted", self._values(t_s)), t_s, d)

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
        return self._say("complaint", self.book.line("complaint", self._values(t_s)), t_s, d)

    def respond(self, obs: TraineeObservation) -> CallerLine:
        """The caller's answer to one trainee turn: updates the mood, picks the situation and the
        line, and decides whether the call ends. After the call ended, returns the last line again
        (``ends_call`` set) without changing anything."""
        if self.finished and self._final_line is not None:
            return self._final_line
        self.turn += 1
        t_s = obs.t_s
        moves = detect_moves(obs.text, words=list(obs.words) or None, facts=self.persona.scenario.facts,
                             phrases=self.phrases)  # fmt: skip
        heard = hear(obs, moves, self.book, self.answered, self._vocabulary)
        moves = heard.moves  # without questions heard as off topic
        if heard.wrong:  # a fact read back wrongly is not a repeat-back
            moves = [m for m in moves if m.kind != "repeat_back"]
        kinds_now = {m.kind for m in moves}
        decisions: list[Decision] = [self._decide(t_s, "heard", why) for why in heard.notes]
        before = self.mood
        deltas = mood_deltas(obs, moves, temperament=self.persona.temperament, thresholds=self.thresholds,
                             moves_seen=self.moves_seen, pending_interrupts=self._pending_interrupts, interrupt_at=self._interrupt_at,
                             extra=self._heard_effects(heard), unhelpful=self._unhelpful(heard))  # fmt: skip
        total = sum(d for d, _ in deltas)
        self.mood = min(MOOD_MAX, max(MOOD_MIN, before + total))
        reasons = "; ".join(f"{why} ({d:+.1f})" for d, why in deltas) or "no change"
        decisions.insert(0, self._decide(t_s, "mood", f"mood {fmt_mood(before)}→{fmt_mood(self.mood)}: {reasons}", before))
        for k in kinds_now:
            self.moves_seen[k] = self.moves_seen.get(k, 0) + 1
        self._remember(obs, moves, t_s, decisions)

        interrupted = obs.interrupted_caller or self._pending_interrupts > 0
        answered = self._interrupt_answered
        self._pending_interrupts, self._interrupt_answered, self._barged_this_turn = 0, False, False
        self._interrupt_at = None

        ended = self._maybe_end(t_s, decisions, moves, kinds_now, heard)
        if ended is not None:
            return ended
        situation, why, pick = self._choose(obs, heard, kinds_now, total, interrupted and not answered)
        decisions.append(self._decide(t_s, "situation", f"{situation}: {why}"))
        return self._say(situation, pick, t_s, decisions, moves=moves)

    # -- internals
    def _heard_effects(self, heard: Heard) -> list[tuple[float, str]]:
        out = [(WRONG_FACT_EFFECT, f"stated a fact wrongly: {w.said!r}") for w in heard.wrong[:1]]
        fresh = [m.fact.text for a in heard.questions for m in a.matches if m.fact.text not in heard.repeated]
        special = [s for a in heard.questions for s in a.special]
        if (fresh or special) and not heard.wrong:  # a fair question is not stalling
            out.append((0.0, f"asked about {fresh[0]!r}" if fresh else f"asked: {special[0].replace('_', ' ')}"))
        if heard.repeated:
            out.append((REPEAT_QUESTION_EFFECT, f"asked again for {heard.repeated[0]!r}"))
        return out

    def _unhelpful(self, heard: Heard) -> tuple[float, str] | None:
        """Why a turn with no other effect did not help: off topic, or empty of content."""
        if heard.content == "off_topic":
            self._off_topic += 1
            first = self._off_topic == 1
            if first:
                return FIRST_OFF_TOPIC_EFFECT, "off topic (puzzled: the first time)"
            return OFF_TOPIC_EFFECT, "off topic"
        if heard.content == "contentless":
            return CONTENTLESS_EFFECT, "said nothing with content"
        return None

    def _remember(self, obs: TraineeObservation, moves: list[Move], t_s: float, decisions: list[Decision]) -> None:
        name = agent_name(obs.text)
        if name and name != self.agent:
            self.agent, self._name_used = name, False
            decisions.append(self._decide(t_s, "heard", f"remembers the agent's name: {name}"))
        tf = next((m for m in reversed(moves) if m.kind == "timeframe"), None)  # the last one: the promise's time
        if tf is None:
            return
        step = next((m for m in reversed(moves) if m.kind in ("next_step", "ownership") and m.start_char <= tf.start_char), None)
        quote = tf.quote
        if step is not None and tf.end_char - step.start_char <= MAX_PROMISE_CHARS:
            quote = obs.text[step.start_char : tf.end_char]
        promise = second_person(quote.strip(" ,."))
        if step is None and (self.promise or len(quote.split()) < 2):
            return  # a bare "today" is no promise to repeat, nor replaces one with its next step
        if promise != self.promise:
            self.promise, self._promise_said = promise, False
            decisions.append(self._decide(t_s, "heard", f"remembers the promise: {promise!r}"))

    def _maybe_end(self, t_s, decisions, moves, kinds_now, heard) -> CallerLine | None:
        t = self.persona.temperament
        res = self.persona.scenario.resolution
        missing = [k for k in res.requires if k not in self.moves_seen]
        if self.mood >= t.hang_up_at:
            return self._end("hang_up", "hung_up", t_s, decisions, moves,
                             f"hangs up: anger {fmt_mood(self.mood)} reached {t.hang_up_at:g}")  # fmt: skip
        closing_offer = bool(heard.questions) and all(a.special == ("anything_else",) for a in heard.questions)
        limit = res.max_anger + (CLOSING_SLACK if closing_offer else 0.0)
        if not missing and self.mood <= limit and not heard.wrong and (closing_offer or not heard.questions):
            if self._objections < res.objections:
                return None  # _choose pushes back first
            return self._end("closing", "resolved", t_s, decisions, moves,
                             f"resolved: {', '.join(res.requires) or 'no requirements'} heard and anger "
                             f"{fmt_mood(self.mood)} ≤ {limit:g}"
                             + (" (accepts the closing offer)" if closing_offer else ""))  # fmt: skip
        if self.turn >= t.max_turns:
            return self._end("hang_up", "turn_limit", t_s, decisions, moves,
                             f"gives up after {self.turn} turns (limit {t.max_turns})"
                             + (f"; still missing: {', '.join(missing)}" if missing else ""))  # fmt: skip
        return None

    def _end(self, situation, outcome, t_s, decisions, moves, reason) -> CallerLine:
        decisions.append(self._decide(t_s, "end", reason))
        self.finished = True
        self.outcome = outcome
        self.end = CallEnd(outcome, reason, float(t_s or 0.0), self.turn, round(self.mood, 2))
        pick = self.book.line(situation, {})
        if outcome == "resolved" and self.promise and not self._promise_said:
            pick = Pick(f"So {self.promise}. {pick.text}", pick.index, pick.source)
        line = self._say(situation, pick, t_s, decisions, moves=moves, outcome=outcome)
        self._final_line = line
        return line

    def _choose(self, obs: TraineeObservation, heard: Heard, kinds: set[str], total: float,
                interrupted: bool) -> tuple[str, str, Pick]:
        book, band = self.book, mood_band(self.mood)
        values = self._values(obs.t_s, silence=f"{obs.silence_s:.0f}")
        res = self.persona.scenario.resolution
        if not obs.text.strip():
            return "silence", f"the trainee said nothing for {obs.silence_s:.1f} s", book.line("silence", values)
        if heard.wrong:
            w = heard.wrong[0]
            text = f"{ph.CORRECT[band].format(wrong=w.said)} {w.fact.core}"
            return "answer", f"corrects the agent: {w.why}", Pick(text, -1, "composed")
        if "jargon" in kinds:
            quote = next((m.quote for m in heard.moves if m.kind == "jargon"), "that")
            return "jargon", "the trainee used jargon", book.line("jargon", {**values, "jargon": quote})
        if interrupted:
            return "interrupted", "the trainee talked over the caller", book.line("interrupted", values)
        if kinds & set(ANGER_KINDS):
            return "escalation", "the trainee made it worse", book.line("escalation", values)
        if heard.questions and not heard.content:
            text, why = answer_line(heard, self, band)
            if text is not None:
                return "answer", why, Pick(text, -1, "composed")
            if heard.content == "off_topic":
                return "clarify", f"an off-topic question: {why}", book.built_in("clarify", band)
            return "answer", why, book.built_in("dont_know", band)
        if heard.content:
            choices = ph.CLARIFY_UNCLEAR if heard.content == "contentless" else None
            return "clarify", f"the turn was {heard.content.replace('_', ' ')}: asks what the agent means", \
                book.built_in("clarify", band, choices=choices if not self.persona.lines.clarify else None)
        if total >= 1.0:
            return "escalation", "the trainee made it worse", book.line("escalation", values)
        solution = kinds & {"next_step", "ownership"}
        if solution and (heard.vague or "timeframe" not in kinds):
            self._objections += 1
            why = "a weak solution: " + ("a vague timeframe" if heard.vague else "no timeframe")
            return "objection", why, book.built_in("objection", band)
        if self._objections < res.objections and not [k for k in res.requires if k not in self.moves_seen] \
                and self.mood <= res.max_anger:
            self._objections += 1
            return "objection", f"pushes back before accepting ({self._objections} of {res.objections})", \
                book.built_in("objection", band)
        if "timeframe" in kinds and solution:
            if self.promise and not self._promise_said:
                self._promise_said = True
                follow = book.persona_line("solution_received")
                if follow and "when" in follow.text.lower():  # the agent just said when
                    follow = None
                text = f"So {self.promise}, right?" + (f" {follow.text}" if follow else "")
                return "solution_received", "a concrete solution with a timeframe: repeats the promise", \
                    Pick(text, follow.index if follow else -1, "composed")
            return "solution_received", "a concrete solution with a timeframe was offered", \
                book.line("solution_received", values)
        missing = [k for k in res.requires if k not in self.moves_seen]
        if missing and self.mood <= res.max_anger:
            for line in ph.ASK_MISSING.get(missing[0], ()):
                if book.is_new(line):
                    return "complaint", f"calm enough, but still missing: {', '.join(missing)}: asks for it", \
                        Pick(line, -1, "built-in")
        if kinds & set(SOFT_KINDS) and total < 0:
            return "empathy_received", "the caller felt heard", book.line("empathy_received", values)
        return "complaint", "nothing changed: the caller presses on", book.line("complaint", values)

    def summary(self) -> dict:
        """For the report: outcome, final mood, turns, and the decision log as plain data."""
        return {
            "persona": self.persona.id,
            "seed": self.seed,
            "outcome": self.outcome,
            "end_reason": self.end.reason if self.end else None,
            "turns": self.turn,
            "final_mood": round(self.mood, 2),
            "agent_name": self.agent,
            "promise": self.promise,
            "decisions": [
                {"t_s": d.t_s, "kind": d.kind, "reason": d.reason, "mood_before": round(d.mood_before, 2),
                 "mood_after": round(d.mood_after, 2)}
                for d in self.log
            ],  # fmt: skip
        }
