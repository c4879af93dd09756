"""repeat_back: the trainee restates something specific the caller said.

Counts: a number of two or more digits from a fact (written or spoken: "4471" = "four four
seven one"), a code mixing letters and digits ("EH7", "3G8LU"), or the fact's specific content
words (stopwords and generic words are ignored): both words of a two-word fact, at least two of a
longer one, the one word of a short fact with one content word ("third call": "third"). A bare topic word the
caller used ("your order", "the jacket") is not enough, and answering a caller's question in its
own words is an answer, not a repeat-back (unless framed as one: "so you want to know...?").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from voicetrainer.analysis.language.numbers import Tok, numbers, tokens
from voicetrainer.analysis.language.phrases import Move

# A repeat_back quote that would span more than this many characters cites the first match only.
MAX_REPEAT_QUOTE_CHARS = 60
MIN_CONTENT_CHARS = 3  # shorter words are never content words
SHORT_FACT_WORDS = 4  # a fact this short with one content word counts when that word is repeated

# a caller's question answered with its own words is an answer, not a repeat-back, unless the
# trainee frames it as a restatement ("so you want to know...", "..., correct?")
_QUESTION = re.compile(r"\?|(^|[.!]\s+)\W*(how|what|when|where|why|which|who|can|could|do|does|did|is|are|should|"
                       r"would|will)\b", re.IGNORECASE)
_RESTATES = re.compile(r"\b(so you|you want|you('d| would) like|you said|you mentioned|you('re| are) (asking|saying)|"
                       r"you need|your question|correct|is that right|right\s*\?)|\?", re.IGNORECASE)


def stem(word: str) -> str:
    """A crude English stem, enough to equate "charged"/"charge", "shipping"/"ship"."""
    w = word.lower().replace("'s", "").replace("'", "")
    for suffix in ("ing", "ed", "es", "ly", "e", "s"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


def _is_code(tok: str) -> bool:
    return len(tok) >= 3 and any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok)


def content_tokens(text: str, stopwords: frozenset[str]) -> list[Tok]:
    """Words that can carry a fact: not stopwords (nor a form of one: "days" for "day"), no digits."""
    stop_stems = _stems_of(stopwords)
    return [
        t
        for t in tokens(text)
        if len(t.text) >= MIN_CONTENT_CHARS
        and t.text not in stopwords
        and t.text.replace("'", "") not in stopwords
        and stem(t.text) not in stop_stems
        and not any(c.isdigit() for c in t.text)
    ]


@functools.lru_cache(maxsize=8)
def _stems_of(words: frozenset[str]) -> frozenset[str]:
    return frozenset(stem(w) for w in words if len(w) >= MIN_CONTENT_CHARS)


def repeat_back_moves(text: str, facts: Sequence[str], stopwords: frozenset[str]) -> list[Move]:
    """repeat_back moves of ``text`` (spans in ``text``) against the caller's ``facts``."""
    moves = []
    text_numbers = numbers(text)
    text_codes = {t.text: t for t in tokens(text) if _is_code(t.text)}
    text_content = content_tokens(text, stopwords)
    for fact in facts:
        if not fact or not fact.strip():
            continue
        fact_numbers = {n for n, _, _ in numbers(fact)}
        # a single-digit number ("3") alone is too common to count as a repeated fact
        meaningful = {n for n in fact_numbers if len(n) >= 2} or (fact_numbers if fact.strip().isdigit() else set())
        hits = [(s, e, n) for n, s, e in text_numbers if n in meaningful]
        hits += [(t.start, t.end, t.text.upper()) for c, t in text_codes.items() if c in {x.text for x in tokens(fact)}]
        if hits:
            s, e, n = min(hits)
            moves.append(Move("repeat_back", text[s:e], s, e, None, f"repeated the caller's facts: {n!r}"))
            continue
        fact_stems = {stem(t.text) for t in content_tokens(fact, stopwords)}
        if not fact_stems or (meaningful and len(fact_stems) < 2):
            continue  # "order 48213": saying "order" is not repeating the fact
        if _QUESTION.search(fact.strip()) and not _RESTATES.search(text):
            continue  # answering "how often should it be washed?" with "wash it weekly"
        matched = [t for t in text_content if stem(t.text) in fact_stems]
        distinct = {stem(t.text) for t in matched}
        short_fact = len(tokens(fact)) <= SHORT_FACT_WORDS  # a persona fact, not a caller's sentence
        need = 1 if len(fact_stems) == 1 and short_fact else 2
        if len(distinct) >= need:
            first, last = matched[0], matched[-1]
            if last.end - first.start > MAX_REPEAT_QUOTE_CHARS:
                last = first
            words = ", ".join(sorted({t.text for t in matched}))
            moves.append(Move("repeat_back", text[first.start : last.end], first.start, last.end, None,
                              f"repeated the caller's facts: {words}"))  # fmt: skip
    return moves
