"""What the rubric scores, found in a report: the trainee's moves and delivery signals, each
with a time and a quote (`find_moves`, `find_signals`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voicetrainer.analysis.pacing import pace_verdict
from voicetrainer.analysis.rubric.model import SIGNALS, Thresholds, _language, phrase_lists
from voicetrainer.report.schema import Report, Turn, finite

QUOTE_WORDS = 8  # words quoted from a turn for signal evidence
NO_WORDS = "(no words recognised in this turn)"  # the quote of a voice signal on a turn without words
MIN_FACT_WORDS = 3  # caller turns shorter than this are not facts the trainee could repeat back
# repeat-back compares a trainee turn with this many of the caller's latest turns (plus the given
# facts): what was just said; comparing with every earlier turn is quadratic in a long call
RECENT_CALLER_TURNS = 8


@dataclass(frozen=True)
class Hit:
    """One occurrence of a move or signal, before points are applied."""

    kind: str  # move kind or signal name
    t_s: float
    quote: str
    detail: str = ""  # for signals: what was measured; for moves: the detector's `why`
    span: tuple[int, int, int] | None = None  # moves: (turn index, start_char, end_char)
    value: float | None = None  # signals: the measured value (e.g. a turn's calm score)


def turn_text(turn: Turn) -> str:
    return turn.text or " ".join(w.word.strip() for w in turn.words)


def _quote_words(turn: Turn, from_s: float | None = None, n: int = QUOTE_WORDS) -> str:
    words = [w for w in turn.words if from_s is None or w.end_s >= from_s - 0.05]
    toks = [w.word.strip() for w in words] if words else turn_text(turn).split()
    q = " ".join(toks[:n])
    return q + ("…" if len(toks) > n else "")


def _char_time(turn: Turn, text: str, char: int) -> float:
    """Start time of the word containing character ``char`` of ``text`` (the turn's text)."""
    if not turn.words:
        return turn.start_s
    # walk the text, matching words in order
    pos = 0
    for w in turn.words:
        tok = w.word.strip()
        at = text.find(tok, pos) if tok else -1
        if at < 0:
            continue
        if char < at + len(tok):
            return w.start_s
        pos = at + len(tok)
    return turn.words[-1].start_s


def find_moves(report: Report, *, facts: Sequence[str] = (), phrases: Mapping[str, Any] | None = None) -> list[Hit]:
    """Moves in the trainee's turns, with the caller's earlier words as facts to repeat back."""
    detect_moves = _language().detect_moves
    lists = phrase_lists(phrases)
    caller_texts = {turn_text(t) for t in report.turns if t.speaker == "caller"}
    given = [f for f in facts if f and f not in caller_texts]  # persona facts; caller words come in order
    heard: list[str] = []
    hits: list[Hit] = []
    seen: set[tuple[str, tuple[int, int, int]]] = set()
    for i, turn in enumerate(report.turns):
        text = turn_text(turn)
        if turn.speaker == "caller":
            if len(text.split()) >= MIN_FACT_WORDS:  # "Hello." is not a fact to repeat back
                heard.append(text)
            continue
        if not text.strip():
            continue
        words = turn.words or None  # the detector aligns them to the text for each move's time
        recent = list(dict.fromkeys(heard[-RECENT_CALLER_TURNS:]))
        for mv in detect_moves(text, words=words, facts=tuple(given + recent), phrases=lists):
            span = (i, mv.start_char, mv.end_char)
            if (mv.kind, span) in seen:  # the same words repeat two facts: one move
                continue
            seen.add((mv.kind, span))
            t = mv.t_s if mv.t_s is not None else _char_time(turn, text, mv.start_char)
            hits.append(Hit(mv.kind, round(float(t), 3), mv.quote, mv.why, span))
    return hits



def find_signals(report: Report, th: Thresholds) -> dict[str, list[Hit]]:
    """Delivery signals of the trainee, each occurrence with a time and a quote."""
    out: dict[str, list[Hit]] = {s: [] for s in SIGNALS}
    turns = sorted(report.turns, key=lambda t: t.start_s)
    trainee = [t for t in turns if t.speaker == "trainee"]

    def turn_at(t_s: float) -> Turn | None:
        best = None
        for t in trainee:
            if t.start_s - 0.5 <= t_s <= t.end_s + 0.5:
                return t
            if t.start_s >= t_s and best is None:
                best = t
        return best

    for it in report.interruptions:
        if it.by == "trainee" and it.kind == "interruption":
            t = turn_at(it.start_s)
            quote = _quote_words(t, it.start_s, 6) if t else ""
            out["interruption"].append(Hit("interruption", round(it.start_s, 3), quote,
                                            f"interrupted the caller for {it.overlap_s:.1f} s"))  # fmt: skip
    for prev, cur in zip(turns, turns[1:]):
        if prev.speaker == "caller" and cur.speaker == "trainee":
            gap = cur.start_s - prev.end_s
            if 0 <= gap < th.quick_reply_s:
                out["quick_reply"].append(Hit("quick_reply", round(cur.start_s, 3), _quote_words(cur),
                                               f"replied {gap:.2f} s after the caller stopped"))  # fmt: skip
    # dead air the trainee was expected to fill: silences ending with the trainee speaking
    end = None
    for k, t in enumerate(turns):
        if end is not None and t.speaker == "trainee" and t.start_s - end >= th.long_silence_s:
            out["long_silence"].append(Hit("long_silence", round(end, 3), "",
                                            f"{t.start_s - end:.0f} s of dead air before the trainee spoke"))  # fmt: skip
        end = t.end_s if end is None else max(end, t.end_s)
    for t in trainee:
        wpm = finite(t.wpm)
        how = pace_verdict(wpm, (th.wpm_min, th.wpm_max)) if wpm is not None else None
        if how is not None and len(t.words) >= th.pace_min_words:
            out["off_pace_turn"].append(Hit("off_pace_turn", round(t.start_s, 3), _quote_words(t),
                                             f"{wpm:.0f} words/min, {how} (band {th.wpm_min:g}–{th.wpm_max:g})"))  # fmt: skip
        calm = finite((t.calm or {}).get("score")) if isinstance(t.calm, Mapping) else None
        if calm is not None and calm < th.calm_turn_min:
            out["tense_turn"].append(Hit("tense_turn", round(t.start_s, 3), _quote_words(t) or NO_WORDS,
                                          f"tense voice: calm {calm:.0f}/100{_calm_detail(t.calm)}"))  # fmt: skip
        elif calm is not None and calm >= th.calm_turn_steady:
            out["steady_turn"].append(Hit("steady_turn", round(t.start_s, 3), _quote_words(t) or NO_WORDS,
                                           f"steady voice: calm {calm:.0f}/100", value=calm))  # fmt: skip
    rate = finite((report.metrics or {}).get("filler_rate"))
    if rate is not None and rate > th.filler_rate_max:
        fillers = [f for f in (report.metrics or {}).get("fillers") or [] if isinstance(f, Mapping)]
        t0 = finite(fillers[0].get("t_s")) if fillers else None
        if t0 is None:
            t0 = trainee[0].start_s if trainee else 0.0
        quote = ", ".join(dict.fromkeys(str(f.get("word", "")).strip() for f in fillers if f.get("word"))) or "fillers"
        out["filler_rate"].append(Hit("filler_rate", round(t0, 3), quote,
                                       f"{rate:.1f} fillers per 100 words (max {th.filler_rate_max:g})"))  # fmt: skip
    # the steadiest turns first, so max_count keeps the best examples
    out["steady_turn"].sort(key=lambda h: -(h.value or 0.0))
    return out


def _calm_detail(calm: Mapping[str, Any]) -> str:
    comps = calm.get("components") if isinstance(calm, Mapping) else None
    if not isinstance(comps, Mapping):
        return ""
    worst = max(
        ((k, c) for k, c in comps.items() if isinstance(c, Mapping) and finite(c.get("penalty"))),
        key=lambda kc: kc[1]["penalty"],
        default=None,
    )
    if worst is None or finite(worst[1].get("delta")) is None:
        return ""
    k, c = worst
    return f" ({k.replace('_', ' ')} {c['delta']:+g} {c.get('unit', '')})".rstrip(" )") + ")"


def signal_basis(report: Report) -> dict[str, bool]:
    """Which signals this report can measure at all (a mono recording has no caller)."""
    has_caller = any(t.speaker == "caller" for t in report.turns)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    return {
        "interruption": has_caller and (report.metrics or {}).get("interruptions_by_trainee", 0) is not None,
        "quick_reply": has_caller,
        "long_silence": has_caller,
        "off_pace_turn": any(finite(t.wpm) is not None for t in trainee),
        "filler_rate": finite((report.metrics or {}).get("filler_rate")) is not None,
        "tense_turn": any(isinstance(t.calm, Mapping) and finite(t.calm.get("score")) is not None for t in trainee),
        "steady_turn": any(isinstance(t.calm, Mapping) and finite(t.calm.get("score")) is not None for t in trainee),
    }

