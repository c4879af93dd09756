"""What the words around a match change: exceptions, sarcasm, "sorry, but <refusal>", past times.

All functions work on spans ``(start, end, source)`` in the normalised text, per kind:
``found = {kind: [(start, end, source pattern), ...]}``, and change ``found`` in place.
"""

from __future__ import annotations

import re

from voicetrainer.analysis.language.phrases import PHRASE_KINDS, WARM_KINDS

Span = tuple[int, int, str]

# (winner, loser): a loser match overlapping a winner match of the same text is dropped.
PRECEDENCE = (("dismissive", "apology"), ("greeting", "timeframe"), ("clarifying_question", "empathy"),
              ("calm_down", "dismissive"), ("greeting", "clarifying_question"))  # fmt: skip

_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|\n")
# "but"-like words after which a refusal turns an apology into a brush-off
_CONTRAST = re.compile(r"\b(but|however)\b", re.IGNORECASE)
# a clause with one of these looks forward: its times are commitments
_FUTURE = re.compile(
    r"\b(will|(i|you|it|they|we|she|he|that|there)'?ll|shall|going to|gonna|should|expect|expected|due|by|within|until|before|next|scheduled|booked|"
    r"arranged|promise|be (there|back|with you)|give it)\b",
    re.IGNORECASE,
)
# in the clause around a time (the time's own words may say "by", "within"...): prepositions of
# means ("by email", "before that") are no promise
_FUTURE_CLAUSE = re.compile(_FUTURE.pattern.replace("due|by|within|until|before|", "due|"), re.IGNORECASE)
# past simple after a subject: "after you cancelled on April 2", "we shipped it on Monday"
_PAST_SUBJECT = re.compile(r"\b(i|you|we|they|he|she|it)\s+(?!need|feed|speed)[a-z]{2,}(?<!e)ed\b", re.IGNORECASE)
# these look forward only when nothing in the clause looks back ("I can see it was sent on Monday")
_MAYBE_FUTURE = re.compile(r"\b(can|could|would|'d|aim|hope|plan|want to|try to)\b", re.IGNORECASE)
_PAST = re.compile(
    r"\b(was|were|did|had|has been|have been|'ve been|since|ago|last|yesterday|earlier|already|arrived|came|went|"
    r"happened|started|began|ordered|bought|paid|placed|got|received|sent|noticed|said|told|promised|never)\b",
    re.IGNORECASE,
)
_WEAK_START = re.compile(r"(on|in|at|this|around|about|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.IGNORECASE)
_CLAUSE_START = re.compile(r"[,.;:!?]|\b(and|but|so|because|while|when)\b", re.IGNORECASE)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (split after . ! ? ; and at new lines)."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def sentence_of(sents: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    for s in sents:
        if s[0] <= pos < s[1]:
            return s
    return (0, 0)


def apply_exceptions(found: dict[str, list[Span]], exceptions: dict[str, list[tuple[int, int]]]) -> None:
    """Drop every match of a kind that overlaps one of its ``not_<kind>`` matches."""
    for kind in PHRASE_KINDS:
        vetoes = exceptions.get(kind) or []
        if vetoes:
            found[kind] = [f for f in found[kind] if not any(overlaps(f[:2], v) for v in vetoes)]


def apply_precedence(found: dict[str, list[Span]]) -> None:
    for winner, loser in PRECEDENCE:
        found[loser] = [f for f in found[loser] if not any(overlaps(f[:2], w[:2]) for w in found[winner])]


def apply_sarcasm(text: str, found: dict[str, list[Span]], sarcasm: list[tuple[int, int]]) -> None:
    """A sarcastic sentence is dismissive; its warm words do not count."""
    sents = sentences(text)
    for s, e in sarcasm:
        sent = sentence_of(sents, s)
        for kind in WARM_KINDS:
            found[kind] = [f for f in found[kind] if not (sent[0] <= f[0] < sent[1] or overlaps(f[:2], (s, e)))]
        found["dismissive"].append((s, e, "sarcasm"))


def apply_refusals(text: str, found: dict[str, list[Span]], refusals: list[tuple[int, int]]) -> None:
    """"Sorry, but <refusal>": the apology (or hollow empathy) becomes dismissive.

    The refusal must follow "but" or "however" in the same sentence
    as the apology, or open the next sentence with one.
    """
    if not refusals:
        return
    sents = sentences(text)
    for kind in ("apology", "empathy"):
        keep = []
        for f in found[kind]:
            sent = sentence_of(sents, f[0])
            nxt = next((x for x in sents if x[0] >= sent[1]), None)
            reach = nxt[1] if nxt and _CONTRAST.match(text[nxt[0]:nxt[1]].lstrip()) else sent[1]
            contrast = _CONTRAST.search(text, f[0], reach)
            if contrast and any(contrast.end() <= r0 < reach for r0, _ in refusals):
                found["dismissive"].append((f[0], contrast.end(), "sorry, but"))
            else:
                keep.append(f)
        found[kind] = keep


def drop_past_times(text: str, found: dict[str, list[Span]]) -> None:
    """Timeframes count only for what will happen: "down since 8 this morning" is no promise.

    A time followed by "ago" is dropped. A time whose clause looks forward (will, by, should,
    expect...) counts; one whose clause looks back (was, since, ordered...) does not; else one
    whose sentence looks forward counts. Else "can / could / would" count as looking forward,
    and a time starting with a weak word ("on Saturday", "in two hours", "this morning": as
    often said of the caller's plans) is dropped.
    """
    keep = []
    sents = sentences(text)
    for f in found["timeframe"]:
        if re.match(r"\s*ago\b", text[f[1]:], re.IGNORECASE):
            continue
        starts = [m.end() for m in _CLAUSE_START.finditer(text, 0, f[0])]
        clause = text[(starts[-1] if starts else 0) : f[1]]
        own = text[f[0] : f[1]]
        sentence = text[sentence_of(sents, f[0])[0] : f[1]]
        if _FUTURE_CLAUSE.search(clause) or _FUTURE.search(own):  # "by email" in a clause promises nothing
            keep.append(f)
        elif _PAST.search(clause) or _PAST_SUBJECT.search(clause):
            continue
        elif _FUTURE.search(sentence):  # "we should be back up and running in an hour"
            keep.append(f)
        elif _MAYBE_FUTURE.search(clause) or not _WEAK_START.match(own):
            keep.append(f)
    found["timeframe"] = keep
