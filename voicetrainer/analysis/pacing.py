"""Pacing: words per minute, articulation rate, pauses inside turns, filler words.

Definitions (ARCHITECTURE.md): WPM = words / speaking time, where speaking time is summed over
turns from the first word's start to the last word's end. Articulation rate leaves out the
pauses inside turns. Fillers are counted per 100 words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voicetrainer.report.schema import Word
from voicetrainer.rules import RULES

WPM_BAND = RULES.wpm_band  # words per minute: the default pacing band (voicetrainer/rules.py; rubric wpm_min, wpm_max)
PAUSE_MIN_S = 0.25  # a gap between words at least this long is a pause
FILLERS = {"um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm"}
_LIKE_KEEP_BEFORE = {  # "like" after these is a verb or a preposition, not a filler
    "i", "you", "we", "they", "would", "'d", "looks", "look", "feel", "feels", "seems", "just",
    "sounds", "something", "anything", "nothing", "things", "much", "more", "don't", "didn't",
    "do", "does", "did", "really", "also", "not", "it's", "is", "was", "be", "he", "she",
}
_PUNCT = re.compile(r"[^\w']+")


def _norm(word: str) -> str:
    return _PUNCT.sub("", word.lower())


@dataclass(frozen=True)
class Pacing:
    """Pacing of a set of turns.

    Attributes:
        wpm: words per minute over speaking time (first word start to last word end per turn).
        articulation_wpm: words per minute excluding pauses >= PAUSE_MIN_S inside turns.
        words: number of words.
        speaking_s: speaking time in seconds.
        pauses: pauses inside turns (>= PAUSE_MIN_S), in seconds.
        fillers: the filler words found, with their times.
        filler_rate: fillers per 100 words.
    """

    wpm: float | None
    articulation_wpm: float | None
    words: int
    speaking_s: float
    pauses: tuple[float, ...]
    fillers: tuple[Word, ...]
    filler_rate: float | None

    @property
    def mean_pause_s(self) -> float | None:
        return sum(self.pauses) / len(self.pauses) if self.pauses else None


def find_fillers(words: Sequence[Word]) -> list[Word]:
    """Filler words: um/uh/er always; "like" and "you know" only where used as fillers.

    "like" counts when it is set off by a comma or pause, or when the word before it is not one
    that makes it a verb or preposition ("I like", "looks like"). "you know" counts when set off
    by commas or at the end of a sentence, not in "do you know".
    """
    out = []
    for i, w in enumerate(words):
        n = _norm(w.word)
        prev = _norm(words[i - 1].word) if i else ""
        nxt = words[i + 1] if i + 1 < len(words) else None
        if n in FILLERS:
            out.append(w)
        elif n == "like":
            set_off = w.word.rstrip().endswith(",") or (i and words[i - 1].word.rstrip().endswith(","))
            paused = nxt is not None and nxt.start_s - w.end_s >= PAUSE_MIN_S
            if set_off or paused or (prev and prev not in _LIKE_KEEP_BEFORE and i > 0 and prev not in {"a", "the"}):
                if not (nxt and _norm(nxt.word) in {"this", "that", "a", "the"} and not set_off):
                    out.append(w)
        elif n == "know" and prev == "you":
            before = _norm(words[i - 2].word) if i >= 2 else ""
            ends = w.word.rstrip()[-1:] in {",", ".", "?", "!"}
            starts = i < 2 or words[i - 2].word.rstrip().endswith((",", ".", "?", "!"))
            if before not in {"do", "did", "don't", "if", "would", "will", "as"} and (ends or starts):
                out.append(Word("you know", words[i - 1].start_s, w.end_s, None))
    return out


def turn_pauses(words: Sequence[Word], *, min_pause_s: float = PAUSE_MIN_S) -> list[float]:
    """Gaps between consecutive words of one turn that are at least `min_pause_s` long."""
    return [
        round(b.start_s - a.end_s, 3)
        for a, b in zip(words, words[1:])
        if b.start_s - a.end_s >= min_pause_s
    ]


def turn_wpm(words: Sequence[Word]) -> float | None:
    if len(words) < 2:
        return None
    span = words[-1].end_s - words[0].start_s
    return len(words) / span * 60.0 if span > 0 else None


def pacing(turn_words: Sequence[Sequence[Word]]) -> Pacing:
    """Pacing over several turns (each a list of timed words, in order)."""
    n_words = 0
    speaking = 0.0
    pauses: list[float] = []
    fillers: list[Word] = []
    for words in turn_words:
        if not words:
            continue
        n_words += len(words)
        speaking += max(0.0, words[-1].end_s - words[0].start_s)
        pauses += turn_pauses(words)
        fillers += find_fillers(words)
    wpm = n_words / speaking * 60.0 if speaking > 0 and n_words >= 2 else None
    artic = speaking - sum(pauses)
    articulation = n_words / artic * 60.0 if artic > 0 and n_words >= 2 else None
    rate = 100.0 * len(fillers) / n_words if n_words else None
    return Pacing(wpm, articulation, n_words, speaking, tuple(pauses), tuple(fillers), rate)


def pace_verdict(wpm: float, band: tuple[float, float] = WPM_BAND) -> str | None:
    """"too fast", "too slow", or None inside `band` (words per minute, edges included).

    Judged on whole words per minute, as every view shows the pace: 160.4 reads "160" and is
    inside 120-160, never "160 words/min, too fast (band 120-160)".
    """
    shown = round(wpm)
    if shown > band[1]:
        return "too fast"
    return "too slow" if shown < band[0] else None
