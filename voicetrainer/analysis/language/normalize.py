"""Recognised speech made matchable: fillers and stutters out, spoken numbers as digits.

Whisper writes what people say: "let me just uh pull that up", "you should see it in three to
five business days", "the the card". Patterns are written for the words that matter, so
before matching the detector removes fillers ("uh", "um", "erm"), softeners ("just",
"actually", "basically"), a word repeated at once ("the the"), and writes spoken numbers
as digits ("three to five" -> "3 to 5"; a lone "one" stays a word: "one moment"). Missing
apostrophes ("ill", "im", "dont") are handled by the patterns themselves (see
`phrases.to_regex`). Every character of the normalised text maps back to the original, so a
move still quotes the words as spoken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicetrainer.analysis.language.numbers import spoken_runs

FILLERS = frozenset({"uh", "um", "umm", "uhm", "uhh", "erm", "er", "ah", "hmm", "mm", "eh"})
SOFTENERS = frozenset({"just", "actually", "basically", "literally", "honestly", "totally"})
STUTTER_OK = frozenset({"that", "had", "is", "very", "so", "really", "no", "bye", "whoa", "well"})

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # keeps lengths
_PIECE_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*|\s+|.", re.DOTALL)


@dataclass(frozen=True)
class Normalized:
    """The normalised text and, per character, the span of the original it came from.

    Attributes:
        text: the normalised text.
        starts, ends: for character i of ``text``, the original span it stands for.
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind ``text[start:end]`` (end > start)."""
        return self.starts[start], self.ends[end - 1]


def normalize(text: str) -> Normalized:
    """``text`` lowercased, with fillers, softeners and stutters removed and spoken numbers as digits."""
    text = text.replace("’", "'").replace("‘", "'")  # same length: offsets stay valid
    runs = {s: (e, vals) for s, e, vals in spoken_runs(text, ordinals=False)}
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def emit(s: str, a: int, b: int) -> None:
        out.append(s)
        starts.extend([a] * len(s))
        ends.extend([b] * len(s))

    last_word = ""
    skip_until = 0
    drop_comma = False
    for m in _PIECE_RE.finditer(text):
        a, b, piece = m.start(), m.end(), m.group(0)
        if a < skip_until:
            continue
        low = piece.lower()
        if piece.isspace():
            if out and not out[-1].isspace():
                emit(" ", a, b)
            continue
        if drop_comma and piece == ",":
            drop_comma = False
            continue
        drop_comma = False
        if a in runs:
            e, vals = runs[a]
            if not (len(vals) == 1 and text[a:e].lower() in ("one", "oh", "zero")):
                digits = "".join(map(str, vals)) if len(vals) > 1 and all(v < 10 for v in vals) else " ".join(map(str, vals))
                emit(digits, a, e)
                skip_until, last_word = e, digits
                continue
        if piece[0].isalnum():
            if low in FILLERS or low in SOFTENERS:
                drop_comma = low in FILLERS
                continue
            if low == last_word and low not in STUTTER_OK and not low.isdigit():
                continue
            last_word = low
        else:
            last_word = ""
        emit(piece, a, b)
    return Normalized("".join(out).translate(_ASCII_LOWER), tuple(starts), tuple(ends))
