"""What the caller hears in the agent's words, besides the scored moves: a fact stated wrongly,
a turn with no content or off topic, what was promised (next step, timeframe) and the agent's name.

Pure functions; the dialog engine (``persona.dialog``) decides what to do with the findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .facts import MONTHS, WEEKDAYS, Fact, NumberMention, content_stems, numbers, stem, tokens

# ----------------------------------------------------------------------------- facts stated wrongly

_MONEY_AFTER = {"dollar", "dollars", "bucks", "cents", "euro", "euros", "pound", "pounds", "quid"}
_DURATION = {"day", "days", "week", "weeks", "month", "months", "hour", "hours", "minute", "minutes", "year", "years"}
_FUTURE = {"within", "in", "by", "until", "till", "before", "next", "every", "each", "for", "about", "around", "under"}
_BY_DAY = {"by", "until", "till", "before", "after", "next", "this", "every", "coming"}  # "by Friday" is a promise
_OFFER = re.compile(r"\b(credit|discount|voucher|goodwill|compensat|gift|bonus|extra)\w*", re.I)


def _month(tok: str) -> str | None:
    for m in MONTHS:
        if len(tok) >= 3 and m.startswith(tok.rstrip(".")):
            return m
    return None


def number_class(toks: list[str], m: NumberMention) -> tuple[str, str] | None:
    """(class, comparable value) of a number: money, day (of a month), time, duration, id."""
    before, after = toks[max(0, m.start - 2) : m.start], toks[m.end : m.end + 2]
    nxt = after[0] if after else ""
    if (before and before[-1] in "$£€") or nxt in _MONEY_AFTER or re.fullmatch(r"\d+\.\d\d", m.quote):
        return "money", m.main
    month = next((_month(t) for t in before[-1:] + after[:1] if _month(t)), None)
    if month or re.fullmatch(r"\d+(st|nd|rd|th)", m.quote) or (before[-1:] == ["the"] and nxt in ("", "of")):
        return "day", f"{month or ''}{m.main}"
    if nxt in ("am", "pm", "o'clock") or re.fullmatch(r"\d+(am|pm)", m.quote):
        return "time", m.main
    if nxt in _DURATION:
        return "duration", m.main
    if len(m.main) >= 3 or len(m.joined) >= 3:
        return "id", m.joined or m.main
    return None


def same_id(said: str, known: str) -> bool:
    """The same reference: equal, or the last four (or more) digits of it ("4471" of "88124471")."""
    short, long_ = sorted((said, known), key=len)
    return said == known or (len(short) >= 4 and long_.endswith(short))


@dataclass(frozen=True)
class WrongFact:
    """The agent said `said` where the caller knows `fact`."""

    said: str
    fact: Fact
    why: str


def wrong_facts(text: str, facts: Sequence[Fact]) -> list[WrongFact]:
    """Numbers, dates and weekdays the agent states that contradict the caller's facts (each
    wrong statement once). A number in a promise ("within 5 days", "by the 10th") or an offer
    ("a $10 credit") is not a statement of fact."""
    toks = tokens(text)
    if not toks or not facts:
        return []
    asking = "?" in text
    known: list[tuple[Fact, str, str, set[str]]] = []  # fact, class, value, all values
    for f in facts:
        ftoks = tokens(f.text)
        for n in f.numbers:
            c = number_class(ftoks, n)
            if c:
                known.append((f, c[0], c[1], set(n.values)))
    out: list[WrongFact] = []
    for m in numbers(text):
        c = number_class(toks, m)
        if c is None or any(t in _FUTURE for t in toks[max(0, m.start - 2) : m.start]):
            continue
        window = " ".join(toks[max(0, m.start - 5) : m.end + 5])
        if _OFFER.search(window):
            continue
        same = [(f, v, vs) for f, cls, v, vs in known if cls == c[0]]
        if not same:
            continue
        if c[0] == "id":
            right = any(same_id(c[1], v) for _, v, _ in same)
        elif c[0] == "day":
            right = any(v == c[1] or (v.lstrip("abcdefghijklmnopqrstuvwxyz") == c[1] and not c[1][0].isalpha())
                        or (c[1].lstrip("abcdefghijklmnopqrstuvwxyz") == v and not v[0].isalpha()) for _, v, _ in same)
        else:
            right = any(v == c[1] for _, v, _ in same)
        if right:
            continue
        ctx = content_stems(window)
        best = max(same, key=lambda s: (len(ctx & s[0].stems), -s[0].index))
        if not (ctx & best[0].stems) and not asking and len({f.index for f, _, _ in same}) > 1:
            continue
        if not (ctx & best[0].stems) and not asking and c[0] == "id":
            continue
        unit = c[0] == "money" and m.end < len(toks) and toks[m.end] in _MONEY_AFTER  # "fifty nine dollars"
        said = " ".join(toks[m.start : m.end + unit])
        if c[0] == "money" and m.start > 0 and toks[m.start - 1] in "$£€":
            said = toks[m.start - 1] + said
        if c[0] == "day" and m.start > 0 and _month(toks[m.start - 1]):
            said = f"{toks[m.start - 1].capitalize()} {said}"
        out.append(WrongFact(said, best[0], f"said {said!r} ({c[0]}) but the caller knows {best[0].text!r}"))
    for i, t in enumerate(toks):
        if t not in WEEKDAYS or (i > 0 and toks[i - 1] in _BY_DAY):
            continue
        ctx = content_stems(" ".join(toks[max(0, i - 5) : i + 5])) - {stem(t)}
        for f in facts:
            days = [d for d in WEEKDAYS if re.search(rf"\b{d}\b", f.text.lower())]
            if days and t not in days and ctx & (f.stems - {stem(d) for d in days}):
                out.append(WrongFact(t.capitalize(), f, f"said {t.capitalize()!r} but the caller knows {f.text!r}"))
                break
    seen, unique = set(), []
    for w in out:
        if w.fact.index not in seen:
            seen.add(w.fact.index)
            unique.append(w)
    return unique


# ----------------------------------------------------------------------------- relevance

FILLERS = frozenset("uh um er erm hmm hm mm mhm ah eh huh uhh umm".split())
ACKNOWLEDGEMENTS = frozenset("""okay ok alright right yes yeah yep sure fine i see got it understood mhm uh-huh no nope
well alright then sorry pardon""".split())
# words of any service call: talking about these is never off topic
SERVICE_WORDS = frozenset(stem(w) for w in """
account charge money refund credit help problem issue call service order payment bill invoice fix check
file record system details information transfer department technician engineer delivery package parcel
shipping replace replacement warranty contract plan subscription internet connection router password
login email letter claim policy insurance bank card statement balance overdraft fee price cost ticket
appointment callback manager supervisor escalate priority today tomorrow week hours minutes days business
team colleague number name address postcode date time update confirm confirmation process request case
reverse cancel repair store receipt product item sorry understand frustrating apologize apologise
situation matter note notes resolve solution option options approve approval exception complaint
""".split())  # fmt: skip


def scenario_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Content stems of everything the persona file says, plus the words of any service call."""
    vocab = set(SERVICE_WORDS)
    for t in texts:
        vocab |= content_stems(t)
    return frozenset(vocab)


def content_kind(text: str, *, has_moves: bool, vocabulary: frozenset[str]) -> str | None:
    """"contentless" (only fillers, or unintelligible marks), "off_topic" (several content words,
    none about the call, and no move), or None (a real turn, or a plain acknowledgement)."""
    if re.search(r"\[(inaudible|unintelligible|blank_audio|music|noise)\]|^\W+$", text.strip(), re.I):
        return "contentless"
    toks = [t for t in tokens(text) if t not in FILLERS]
    if not toks:
        return "contentless" if text.strip() else None
    if has_moves or all(t in ACKNOWLEDGEMENTS or t in ("thank", "thanks", "you", "i", "see", "got", "it") for t in toks):
        return None
    stems = content_stems(text)
    if len(stems) >= 2 and not stems & vocabulary:
        return "off_topic"
    return None


# ----------------------------------------------------------------------------- promises and names

_SWAP = {
    "i": "you", "i'll": "you'll", "i'm": "you're", "i've": "you've", "i'd": "you'd", "my": "your", "mine": "yours",
    "we": "you", "we'll": "you'll", "we're": "you're", "we've": "you've", "us": "me", "our": "your",
    "your": "my", "yours": "mine", "you'll": "I'll", "you're": "I'm", "you've": "I've", "myself": "yourself",
}  # fmt: skip
_SUBJECT_NEXT = {"will", "should", "can", "could", "would", "are", "have", "get", "see", "receive", "need", "must", "may"}


def second_person(quote: str) -> str:
    """The agent's words as the caller repeats them: "I'll call you back" -> "you'll call me back"."""
    words = quote.replace("’", "'").split()
    out = []
    for i, w in enumerate(words):
        core = w.strip(".,!?").lower()
        tail = w[len(w.rstrip(".,!?")) :]
        if core == "you":
            nxt = words[i + 1].strip(".,!?").lower() if i + 1 < len(words) else ""
            rep = "I" if nxt in _SUBJECT_NEXT else "me"
        elif core == "me":
            rep = "you"
        else:
            rep = _SWAP.get(core)
        out.append((rep + tail) if rep else w)
    return " ".join(out)


_NAME_RE = re.compile(
    r"\b(?:my name is|my name's|name's|this is|you're speaking (?:to|with)|you are speaking (?:to|with)|i am|i'm|it's)"
    r"\s+([A-Za-z][a-z'-]{2,20})\b", re.IGNORECASE)
_NOT_NAMES = frozenset("""am is are was be been and the sorry so very really going here glad happy afraid not just calling the a an sure looking checking
able unable from with on going trying so-sorry truly terribly understanding aware calling speaking going listening totally
absolutely definitely certainly now still also your my our that this what okay ok fine well more less good great""".split())


def agent_name(text: str) -> str | None:
    """The agent's name when they give it ("my name is Alex", "this is Priya")."""
    for m in _NAME_RE.finditer(text):
        name = m.group(1)
        intro = m.group(0).lower()
        if name.lower() in _NOT_NAMES:
            continue
        if not intro.startswith("my name") and not name[0].isupper():
            continue
        introduced = re.search(r"\b(this is|my name|speaking)\b|^\W*(hi|hello|good)", text.lower())
        if intro.startswith(("i'm", "i am", "it's")) and not introduced:
            continue
        return name.capitalize()
    return None
