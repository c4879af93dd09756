"""Numbers in text, written or spoken: "$89.99" -> "89", "99"; "forty two" -> "42";
"four eight two one" -> "4", "8", "2", "1" and "4821"."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
_ORDINALS = {
    "first": "one", "second": "two", "third": "three", "fourth": "four", "fifth": "five", "sixth": "six",
    "seventh": "seven", "eighth": "eight", "ninth": "nine", "tenth": "ten", "eleventh": "eleven",
    "twelfth": "twelve", "thirteenth": "thirteen", "fourteenth": "fourteen", "fifteenth": "fifteen",
    "sixteenth": "sixteen", "seventeenth": "seventeen", "eighteenth": "eighteen", "nineteenth": "nineteen",
    "twentieth": "twenty",
    "thirtieth": "thirty",
}  # fmt: skip
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Tok:
    text: str  # lowercased
    start: int
    end: int


def tokens(text: str) -> list[Tok]:
    return [Tok(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def number_word(tok: str) -> str | None:
    tok = _ORDINALS.get(tok, tok)
    if tok in _UNITS or tok in _TENS or tok in _SCALES:
        return tok
    return None


def chunk_values(words: list[str]) -> list[int]:
    """Number words -> the numbers they say, chunked where a new number must begin.

    "forty two" -> [42]; "ninety nine" -> [99]; "four eight two one" -> [4, 8, 2, 1];
    "two hundred and five" (the "and" removed by the caller) -> [205].
    """
    values: list[int] = []
    total, current, last = 0, 0, None  # last: "unit" | "teen" | "tens" | "scale"
    started = False
    for w in words:
        if w in _SCALES:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total, current = total + current, 0
            last, started = "scale", True
            continue
        v = _UNITS.get(w, _TENS.get(w))
        kind = "tens" if w in _TENS else ("teen" if v >= 10 else "unit")
        new_number = started and (
            last in ("unit", "teen")
            or (last == "tens" and kind != "unit")
        )
        if new_number:
            values.append(total + current)
            total, current = 0, 0
        current += v
        last, started = kind, True
    if started:
        values.append(total + current)
    return values


def spoken_runs(text: str, *, ordinals: bool = True) -> list[tuple[int, int, list[int]]]:
    """Runs of spoken number words: (start_char, end_char, the numbers they say).

    "forty two" -> [42]; "four eight two one" -> [4, 8, 2, 1]. With ``ordinals=False`` an
    ordinal ("third") is not a number word.
    """
    def word(t: str) -> str | None:
        return None if (not ordinals and t in _ORDINALS) else number_word(t)

    out = []
    toks = tokens(text)
    i = 0
    while i < len(toks):
        if word(toks[i].text) is None or (toks[i].text == "oh" and not _run_has_digit(toks, i)):
            i += 1
            continue
        j, run = i, []
        while j < len(toks):
            w = word(toks[j].text)
            if j > i and text[toks[j - 1].end : toks[j].start].strip(" -"):
                break  # punctuation between words ends a spoken number
            if w is not None:
                run.append(w)
                j += 1
            elif toks[j].text == "and" and run and j + 1 < len(toks) and word(toks[j + 1].text):
                j += 1
            else:
                break
        out.append((toks[i].start, toks[j - 1].end, chunk_values(run)))
        i = j
    return out


def numbers(text: str) -> list[tuple[str, int, int]]:
    """Numbers in text as digit strings with spans: written digits ("$89.99" -> "89", "99") and
    spoken ones ("forty two" -> "42"); a run of spoken single digits also gives their
    concatenation ("four eight two one" -> "4821")."""
    out: list[tuple[str, int, int]] = []
    for m in re.finditer(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+", text):  # "4,800" is one number
        out.append((m.group(0).replace(",", "").lstrip("0") or "0", m.start(), m.end()))
    for start, end, values in spoken_runs(text):
        for v in values:
            out.append((str(v), start, end))
        if len(values) > 1:
            out.append(("".join(str(v) for v in values), start, end))
    return out


def _run_has_digit(toks: list[Tok], i: int) -> bool:
    """'oh' counts as zero only next to other number words ("four oh two")."""
    neighbours = [toks[k].text for k in (i - 1, i + 1) if 0 <= k < len(toks)]
    return any(number_word(n) is not None and n != "oh" for n in neighbours)
