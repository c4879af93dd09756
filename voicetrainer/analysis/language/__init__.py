"""What the trainee *said*: apology, empathy, ownership, timeframes, jargon, blame, "calm down"...

One detector shared by the caller's mood (``voicetrainer.persona.dialog``) and the skills rubric
(``voicetrainer.analysis.rubric``), so the caller reacts to exactly what the report cites.

Public API::

    moves = detect_moves("I'm so sorry, I'll refund it by Friday", words=words, facts=["order 4821"])
    # -> [Move(kind="apology", quote="I'm so sorry", start_char=0, end_char=12, t_s=3.1, why="apology"),
    #     Move(kind="next_step", ...), Move(kind="timeframe", quote="by Friday", ...)]
    phrases = load_phrases()                  # voicetrainer/data/phrases.yaml
    phrases = PhraseLists.from_mapping({...}) # e.g. a rubric file's overrides
    phrases = load_phrases().merged({"jargon": [...]})

How an utterance is read:

1. `normalize`: fillers ("uh", "um"), softeners ("just") and stutters are skipped and spoken
   numbers become digits, keeping a map back to the words as spoken.
2. Each kind's patterns (phrases.yaml; `phrases.to_regex` for the syntax) are matched.
3. `context`: a match overlapping one of its kind's ``not_<kind>`` exceptions is dropped
   ("sorry?" is not an apology); a sarcastic sentence loses its warm words and is dismissive;
   "sorry, but <refusal>" is dismissive; a time in a clause that looks back is no timeframe.
4. ``repeat_back`` compares the utterance with the caller's ``facts`` (`repeat`).

Pure functions, no state; compiled patterns are cached per PhraseLists value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from voicetrainer import get_logger
from voicetrainer.analysis.language import context
from voicetrainer.analysis.language.normalize import Normalized, normalize
from voicetrainer.analysis.language.phrases import (
    MACROS,
    MOVE_KINDS,
    PHRASE_KINDS,
    WHY,
    Move,
    PhraseLists,
    compiled,
    default_phrases_path,
    load_phrases,
)
from voicetrainer.analysis.language.repeat import MAX_REPEAT_QUOTE_CHARS, repeat_back_moves
from voicetrainer.report.schema import Word

__all__ = [
    "MACROS", "MAX_REPEAT_QUOTE_CHARS", "MOVE_KINDS", "PHRASE_KINDS", "PRECEDENCE", "WHY", "Move", "Normalized",
    "PhraseLists", "count_kinds", "default_phrases_path", "detect_moves", "load_phrases", "normalize",
]  # fmt: skip

PRECEDENCE = context.PRECEDENCE

log = get_logger(__name__)


def _find(norm: str, phrases: PhraseLists) -> tuple[dict[str, list[context.Span]], dict[str, list[tuple[int, int]]]]:
    """(matches per kind, other pattern lists' matches: not_<kind> keyed by kind, sarcasm, refusal)."""
    found: dict[str, list[context.Span]] = {k: [] for k in MOVE_KINDS}
    other: dict[str, list[tuple[int, int]]] = {}
    for name, rx in compiled(phrases).items():
        for m in rx.finditer(norm):
            if m.end() <= m.start():
                continue
            if name in found:
                found[name].append((m.start(), m.end(), name))
            else:
                other.setdefault(name.removeprefix("not_"), []).append((m.start(), m.end()))
    return found, other


def detect_moves(
    text: str,
    *,
    words: Sequence[Word] | None = None,
    facts: Sequence[str] = (),
    phrases: PhraseLists | None = None,
) -> list[Move]:
    """Find the trainee's conversational moves in one utterance (or a whole transcript).

    Args:
        text: what the trainee said. May be "" when ``words`` are given (they are joined).
        words: the same utterance as words with times (``voicetrainer.report.schema.Word``, or
            mappings with "word" and "start_s" as in report JSON);
            used only to stamp each move with ``t_s`` (start of its first word, in seconds).
        facts: the caller's account facts ("order 48213", "$89.99", "charged twice on March 3")
            or the caller's previous utterances; ``repeat_back`` fires when the trainee repeats
            one (a number of 2+ digits, written or spoken, a code like "EH7", or its specific
            content words: all of them for a one- or two-word fact, at least two otherwise).
        phrases: pattern lists; default ``load_phrases()``.

    Returns:
        Moves ordered by position in the text (then by kind in MOVE_KINDS order). Several kinds
        may cover the same words ("I'll refund it by Friday" is next_step and timeframe); one
        kind never reports overlapping spans twice.
    """
    if words and not text:
        text = " ".join(str(w["word"] if isinstance(w, Mapping) else w.word).strip() for w in words)
    if not text:
        return []
    phrases = phrases if phrases is not None else load_phrases()
    text_q = text.replace("’", "'").replace("‘", "'")  # same length: spans stay valid
    norm = normalize(text_q)
    found, other = _find(norm.text, phrases)
    context.apply_exceptions(found, {k: other.get(k, []) for k in PHRASE_KINDS})
    context.apply_refusals(norm.text, found, other.get("refusal", []))
    context.apply_sarcasm(norm.text, found, other.get("sarcasm", []))
    context.drop_past_times(norm.text, found)
    context.apply_precedence(found)

    moves: list[Move] = []
    for kind in PHRASE_KINDS:
        for s, e in _non_overlapping(norm.original_span(s, e) for s, e, _ in found[kind]):
            quote = text[s:e]
            why = f"jargon: {quote.lower()!r}" if kind == "jargon" else WHY[kind]
            moves.append(Move(kind, quote, s, e, None, why))

    if facts:
        stop = frozenset(w.lower() for w in phrases.stopwords)
        for m in repeat_back_moves(text_q, facts, stop):
            moves.append(Move(m.kind, text[m.start_char : m.end_char], m.start_char, m.end_char, None, m.why))

    if words:
        spans = _align_words(text_q, words)
        moves = [_with_time(m, _time_at(spans, m.start_char, m.end_char)) for m in moves]

    order = {k: i for i, k in enumerate(MOVE_KINDS)}
    moves.sort(key=lambda m: (m.start_char, order[m.kind], m.end_char))
    log.debug("detect_moves: %d moves in %r", len(moves), text[:60])
    return moves


def _non_overlapping(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans of one kind merge into one ("I'm so sorry" + "sorry about this")."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _align_words(text: str, words: Sequence[Word]) -> list[tuple[int, int, float]]:
    """(start_char, end_char, start_s) of each word found, in order, in the text."""
    spans = []
    cursor = 0
    low = text.lower()
    for w in words:
        word, start_s = (w["word"], w["start_s"]) if isinstance(w, Mapping) else (w.word, w.start_s)
        token = str(word).strip().lower().replace("’", "'")
        token = token.strip(".,!?;:\"()[]")
        if not token:
            continue
        at = low.find(token, cursor)
        if at < 0 or at - cursor > 40 + len(token) * 2:  # not found nearby: skip this word
            continue
        spans.append((at, at + len(token), float(start_s)))
        cursor = at + len(token)
    return spans


def _time_at(spans: list[tuple[int, int, float]], start: int, end: int) -> float | None:
    for s, e, t in spans:
        if e > start and s < end:
            return t
    return None


def _with_time(m: Move, t_s: float | None) -> Move:
    return Move(m.kind, m.quote, m.start_char, m.end_char, t_s, m.why)


def count_kinds(moves: Iterable[Move]) -> dict[str, int]:
    """How many moves of each kind (kinds with none are absent)."""
    counts: dict[str, int] = {}
    for m in moves:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    return counts
