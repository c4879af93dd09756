"""What the caller heard in one agent turn (`Heard`) and the answer it calls for.

``hear`` finds the questions (by wording, or a rising end of turn), matches each to the facts
that answer it, spots facts stated wrongly, questions asked again, vague promises and turns that
are empty or off topic. ``answer_line`` phrases the answer as this caller in this mood:
"Ugh. It ends in 4471.", "I told you already: it ends in 4471.", "Yes, that's right.".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voicetrainer.analysis.language import Move

from . import phrasing as ph
from .call import TraineeObservation
from .facts import SPECIAL, FactMatch, content_stems, match_facts, numbers, question_sentences, tokens, topics_in
from .linebook import LineBook
from .listening import WrongFact, content_kind, number_class, same_id, wrong_facts

if TYPE_CHECKING:  # only for the annotation: the engine calls in, never the other way
    from .dialog import DialogEngine

VAGUE = re.compile(r"\b(soon|as soon as (possible|we can|i can)|asap|shortly|at some point|eventually|in a while"
                   r"|when(ever)? (we|i) (can|get a chance)|look into it|see what (i|we) can do)\b", re.I)  # fmt: skip
# moves that make an unmatched question an offer or a courtesy, not a request for a fact
OFFER_KINDS = {"next_step", "ownership", "timeframe", "greeting", "gratitude", "apology", "empathy"}
SPECIAL_ORDER = ("name", "what_happened", "anything_else", "small_talk", "hold", "hear")


@dataclass(frozen=True)
class Asked:
    """One question of the turn: its words, the special topics it asks about and matched facts."""

    sentence: str
    special: tuple[str, ...]
    matches: tuple[FactMatch, ...]


@dataclass
class Heard:
    """What the caller understood of one turn, with a note for the log per finding."""

    moves: list[Move]
    questions: list[Asked] = field(default_factory=list)
    wrong: list[WrongFact] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    content: str | None = None  # "off_topic" | "contentless" | None
    vague: bool = False
    notes: list[str] = field(default_factory=list)


def hear(obs: TraineeObservation, moves: list[Move], book: LineBook, answered: dict[str, int],
         vocabulary: frozenset[str]) -> Heard:
    heard = Heard(moves=moves)
    text = obs.text.strip()
    if not text:
        return heard
    heard.wrong = wrong_facts(text, book.facts)
    for w in heard.wrong:
        heard.notes.append(f"wrong fact: {w.why}")
    spans = [(m.start_char, m.end_char, m.kind) for m in moves]
    for q in question_sentences(text, rising_end=obs.rising_end):
        special = tuple(s for s in SPECIAL_ORDER if s in topics_in(q))
        matches = tuple(match_facts(q, book.facts))
        start = text.find(q)
        kinds_in = {k for s, e, k in spans if start <= s < start + len(q)}
        if not matches and not special:
            if "clarifying_question" in kinds_in and not _names_a_thing(q):
                special = ("what_happened",)  # "Could you give me some details?": tell the story
            elif kinds_in & OFFER_KINDS:
                continue  # "Would you like me to refund it today?" is an offer, not a question for a fact
            elif not re.search(r"\byour\b", q, re.I) and content_kind(q, has_moves=False, vocabulary=vocabulary) == "off_topic":
                # "Did you see the game last night?" asks nothing about the call: off topic (clarify),
                # neither "I don't know" nor a clarifying question that calms the caller
                heard.moves = [m for m in heard.moves
                               if not (m.kind == "clarifying_question" and start <= m.start_char < start + len(q))]
                continue
        heard.questions.append(Asked(q, special, matches))
        found = ", ".join(f"{m.fact.text!r} ({m.why})" for m in matches) or ", ".join(special) or "no fact"
        heard.notes.append(f"question {q!r} -> {found}" + (" (rising end)" if obs.rising_end else ""))
        wrong_facts_here = {w.fact.text for w in heard.wrong}
        for m in matches:
            if answered.get(m.fact.text) and not _confirms(q, m) and m.fact.text not in wrong_facts_here:
                heard.repeated.append(m.fact.text)
    if heard.repeated:
        heard.notes.append(f"asked again: {', '.join(repr(r) for r in heard.repeated)}")
    understood = bool(heard.wrong) or any(a.matches or a.special for a in heard.questions)
    heard.content = content_kind(text, has_moves=bool(heard.moves) or understood, vocabulary=vocabulary)
    if heard.questions and heard.content == "contentless":
        heard.content = None
    if heard.content:
        heard.notes.append(f"the turn is {heard.content.replace('_', ' ')}")
    heard.vague = bool(VAGUE.search(text))
    if heard.vague:
        heard.notes.append(f"vague promise: {VAGUE.search(text).group(0)!r}")
    return heard


# words a question asking for the caller's story uses; any other content word names a specific
# thing ("What's your date of birth?") which the caller may simply not know
_GENERIC = frozenset(
    "what whats when where which who whom whose why how can could would will may might please you your "
    "you're me i i'm the a an some any more about with for from this that there it its is are was were do "
    "does did have has had get give tell let know understand explain describe details detail information "
    "info happened happen going issue issues problem problems situation on call calling today help just "
    "again exactly bit little clarify confirm check sure make mind share walk through go over".split()
)


def _names_a_thing(question: str) -> bool:
    words = re.findall(r"[a-z']+", question.lower())
    return any(len(w) >= 3 and w not in _GENERIC for w in words)


_WH = re.compile(r"^\W*(?:(?:and|so|okay|ok|alright|right|well|now),?\s+)?(what|what's|whats|when|where|which|who|whom|whose|why|how)\b", re.I)


def _confirms(question: str, m: FactMatch) -> bool:
    """The agent reads the fact back as a yes/no question ("So that's 4471?", "Do you live alone?")."""
    if _WH.match(question):
        return False
    if m.fact.numbers:
        q_toks, f_toks = tokens(question), tokens(m.fact.text)
        said = [number_class(q_toks, n) for n in numbers(question)]
        known = [number_class(f_toks, n) for n in m.fact.numbers]
        return any(a and b and a[0] == b[0] and (a[1] == b[1] or (a[0] == "id" and same_id(a[1], b[1])))
                   for a in said for b in known)
    stems = m.fact.stems
    return bool(stems) and stems <= content_stems(question)


def answer_line(heard: Heard, engine: DialogEngine, band: int) -> tuple[str | None, str]:
    """The caller's answer to the turn's questions, and why; (None, why) when the caller does not
    know (no fact matches and no special topic)."""
    persona, book = engine.persona, engine.book
    parts: list[str] = []
    whys: list[str] = []
    said_values = {v for t in book.said for n in numbers(t) for v in n.values if len(v) >= 2}
    for a in heard.questions:
        for special in a.special:
            part = _special(special, engine, band)
            if part and part not in parts:
                parts.append(part)
                whys.append(f"asked {special.replace('_', ' ')}")
        for m in a.matches:
            key = m.fact.text
            n = engine.answered.get(key, 0)
            core = m.fact.answers[n % len(m.fact.answers)] if m.fact.answers else m.fact.core
            fact_values = {v for num in m.fact.numbers for v in num.values if len(v) >= 2}
            if _confirms(a.sentence, m):
                part, why = ph.CONFIRM[band], f"confirms {key!r}"
            elif n > 0:
                part, why = ph.after(ph.TOLD_YOU[band], core), f"annoyed repeat of {key!r} (asked {n + 1} times)"
            elif fact_values & said_values:
                part, why = ph.after(ph.SAID_IT[band], core), f"answers {key!r}, said before in a caller line"
            else:
                lead = ph.ANSWER_LEADS[band][len(engine.answered) % 2]
                part, why = ph.after(lead, core), f"answers from the fact {key!r} ({m.why})"
            engine.answered[key] = n + 1
            if part not in parts:
                parts.append(part)
                whys.append(why)
    if not parts:
        asked = "; ".join(repr(a.sentence) for a in heard.questions)
        return None, f"asked {asked}: not in the caller's facts, so does not know"
    return " ".join(parts), "; ".join(whys)


def _special(topic: str, engine: DialogEngine, band: int) -> str | None:
    persona, book = engine.persona, engine.book
    if topic == "name":
        return ph.NAME_LEADS[band].format(name=persona.name)
    if topic == "what_happened":
        pick = book.persona_line("complaint") or book.persona_line("opening")
        return pick.text if pick else persona.scenario.summary.split(". ")[0].rstrip(".") + "."
    if topic == "anything_else":
        res = persona.scenario.resolution
        missing = [k for k in res.requires if k not in engine.moves_seen]
        if not missing:
            return "No, that's all. Just make sure it actually happens."
        why = ph.MISSING.get(missing[0], "you haven't fixed anything yet")
        return ph.ANYTHING_ELSE[min(band, 2)].format(missing=why, missing_cap=ph.capitalise(why))
    table = {"small_talk": ph.SMALL_TALK, "hold": ph.HOLD, "hear": ph.HEAR}
    return table[topic][band] if topic in table else None


assert set(SPECIAL_ORDER) == set(SPECIAL)
