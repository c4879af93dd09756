"""The caller's lines for one call: the persona's own lines first, drawn without repeating, then
built-in templated lines (``phrasing``) so that no line is said twice while any remain.

``planned_renders(persona)`` lists every fixed (text, voice) a call can ask for, for
``RenderCache.prefill``; lines composed during the call (a correction quoting the agent, a
promise repeated back, impatience with the elapsed time) are rendered when first said.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import phrasing as ph
from .facts import Fact, build_facts
from .schema import OPTIONAL_SITUATIONS, SITUATIONS, Persona
from .tts import MOOD_BAND_NAMES, VoiceSettings, band_mood, voice_for_mood

BUILT_IN: dict[str, tuple[tuple[str, ...], ...]] = {
    "clarify": ph.CLARIFY, "dont_know": ph.DONT_KNOW, "objection": (ph.OBJECTION,) * 4,
}  # per mood band


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass
class _Deck:
    """Indexes of one situation's lines, shuffled, drawn without repeating until all were used."""

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


@dataclass(frozen=True)
class Pick:
    """A line chosen for a situation: its text, its index in the persona's lines (-1 when built
    in or composed) and where it came from ("persona", "built-in", "template", "repeat")."""

    text: str
    index: int
    source: str


class LineBook:
    """All lines of one call. `said` holds every caller line said so far (normalised)."""

    def __init__(self, persona: Persona, rng: random.Random):
        self.persona = persona
        self.rng = rng
        self.facts: tuple[Fact, ...] = build_facts(persona.scenario.facts, persona.scenario.fact_forms)
        self.said: set[str] = set()
        self._decks = {s: _Deck(len(persona.lines.of(s))) for s in SITUATIONS + OPTIONAL_SITUATIONS}
        self._template_order: dict[str, list[int]] = {}

    def mark(self, text: str) -> None:
        self.said.add(_norm(text))

    def is_new(self, text: str) -> bool:
        return _norm(text) not in self.said

    def persona_line(self, situation: str) -> Pick | None:
        """An unsaid line of the persona's `situation` group, or None when all were said."""
        lines = self.persona.lines.of(situation)
        for _ in range(len(lines)):
            i = self._decks[situation].draw(self.rng)
            if self.is_new(lines[i]):
                return Pick(lines[i], i, "persona")
        return None

    def built_in(self, situation: str, band: int, *, choices: tuple[str, ...] | None = None) -> Pick:
        """A line of an optional group: the persona's own if it has any, else the built-in ones
        for the mood band (unsaid first)."""
        own = self.persona.lines.of(situation) if situation in OPTIONAL_SITUATIONS else ()
        if own:
            return self.persona_line(situation) or self._again(situation, own)
        pool = choices or BUILT_IN[situation][band]
        near = sorted(range(len(BUILT_IN[situation])), key=lambda b: abs(b - band))  # then the other bands
        for text in (*pool, *(t for b in near for t in BUILT_IN[situation][b])):
            if self.is_new(text):
                return Pick(text, -1, "built-in")
        return Pick(pool[self.rng.randrange(len(pool))], -1, "repeat")

    def template(self, situation: str, values: dict[str, str]) -> Pick | None:
        """The next unsaid templated line of `situation`, filled with `values` ({elapsed},
        {fact}, {promise}, {silence}, {jargon}); templates whose fields are missing are skipped."""
        pool = ph.TEMPLATES.get(situation, ())
        if situation == "complaint" and values.get("promise"):
            pool = ph.STALL_PROMISED + pool
        if not pool:
            return None
        order = self._template_order.get(situation)
        if order is None:
            order = list(range(len(pool)))
            self.rng.shuffle(order)
            if situation == "complaint" and values.get("promise"):
                order = [0, 1] + [i for i in order if i > 1]
            self._template_order[situation] = order
        facts = [ph.fact_phrase(f.text) for f in self.facts] or ["my problem"]
        for n, i in enumerate(order):
            filled = dict(values)
            filled.setdefault("fact", facts[(len(self.said) + n) % len(facts)])
            try:
                text = pool[i].format(**filled)
            except (KeyError, IndexError):
                continue
            text = ph.capitalise(text)
            if self.is_new(text):
                return Pick(text, -1, "template")
        return None

    def _again(self, situation: str, lines: tuple[str, ...]) -> Pick:
        i = self._decks[situation].draw(self.rng)
        return Pick(lines[i], i, "repeat")

    def line(self, situation: str, values: dict[str, str]) -> Pick:
        """The persona's line for `situation` while unsaid ones remain, then templates, then
        the persona's lines again (only when everything was said)."""
        pick = self.persona_line(situation) or self.template(situation, values)
        if pick is not None:
            return pick
        return self._again(situation, self.persona.lines.of(situation))


def fixed_answers(persona: Persona, band: int) -> list[str]:
    """The answers a call may say at mood `band` that do not depend on what the agent said."""
    facts = build_facts(persona.scenario.facts, persona.scenario.fact_forms)
    out = []
    for f in facts:
        out += [ph.after(lead, core) for lead in ph.ANSWER_LEADS[band] for core in (f.core, *f.answers)]
    out += [ph.NAME_LEADS[band].format(name=persona.name), ph.CONFIRM[band], ph.SMALL_TALK[band], ph.HOLD[band],
            ph.HEAR[band], ph.CLARIFY_UNCLEAR[band]]
    for situation in OPTIONAL_SITUATIONS:
        own = persona.lines.of(situation)
        out += list(own) if own else list(BUILT_IN[situation][band])
    return out


def planned_renders(persona: Persona) -> list[tuple[str, VoiceSettings]]:
    """Every fixed (text, voice) the engine can ask for with this persona: the opening at the
    starting mood's voice, every other persona line at every mood band, and each band's fixed
    answers, clarifications and objections at that band's voice. ``RenderCache.prefill``
    renders these."""
    out: list[tuple[str, VoiceSettings]] = []
    seen = set()

    def add(text: str, voice: VoiceSettings) -> None:
        if (text, voice) not in seen:
            seen.add((text, voice))
            out.append((text, voice))

    start_voice = voice_for_mood(persona.voice, persona.temperament.start_anger)
    bands = [voice_for_mood(persona.voice, band_mood(b)) for b in range(len(MOOD_BAND_NAMES))]
    for situation in SITUATIONS:
        for text in persona.lines.of(situation):
            for v in [start_voice] if situation == "opening" else bands:
                add(text, v)
    for b, v in enumerate(bands):
        for text in fixed_answers(persona, b):
            add(text, v)
    return out
