"""What the caller knows: the persona's ``scenario.facts`` read as answerable knowledge.

Facts are plain strings written by a trainer ("account ending 4471", "$89.99 charged twice",
"charged on March 3", "order 48213", "postcode EH7 5QT"). Each becomes a ``Fact``: the topics it
can answer (account, reference, amount, date, contact, count, login...), its content-word stems
for matching a question by meaning, the numbers it holds (written or spoken: "four four seven
one", "eighty nine ninety nine") and the core of the answer ("It ends in 4471."). A per-fact
long form in the persona file (``FactForm``: topics, answer lines) refines this.

Pure functions over frozen data; nothing here knows about moods or lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# the number words the move detector reads, one table for both
from voicetrainer.analysis.language.numbers import _SCALES, _TENS, _UNITS, chunk_values, number_word

# ----------------------------------------------------------------------------- words and numbers

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.,:/-][0-9]+)*(?:'[a-z]+)?|\$|£|€|@", re.IGNORECASE)
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")  # fmt: skip
_MONTH_RE = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_IRREGULAR = {
    "bought": "buy", "paid": "pay", "spoke": "speak", "spoken": "speak", "told": "tell", "sent": "send",
    "got": "get", "made": "make", "took": "take", "lost": "lose", "left": "leave", "went": "go",
    "gone": "go", "said": "say", "came": "come", "broke": "break", "broken": "break", "called": "call",
    "charges": "charge", "lives": "live", "living": "live", "passwords": "password",
    "talk": "speak", "talked": "speak", "chat": "speak", "chatted": "speak", "surname": "name",
}  # fmt: skip
# words that carry no topic when comparing a question with a fact
STOP = frozenset("""
a an the and or but of to in on at for from by with about as is are was were be been being am do does did
done have has had having i me my mine you your yours we our us it its this that these those there here
what when where which who whom whose why how can could would will shall should may might must please
just so then now also too very really some any all no not yes okay ok right well oh uh um hmm like get
got tell give let know need want see look make sure one thing number again still ever
""".split())  # fmt: skip


def stem(word: str) -> str:
    """A crude stem for meaning matches: "charged", "charges", "charge" -> "charg"."""
    w = _IRREGULAR.get(word.lower(), word.lower()).replace("'s", "")
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if suffix in ("ing", "ed") and len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiosz":
                w = w[:-1]  # "cancelled" -> "cancel", "stopped" -> "stop"
            return w
    return w


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(lower-cased token, start_char, end_char) for words, numbers and currency signs."""
    text = text.replace("’", "'")
    return [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def tokens(text: str) -> list[str]:
    return [t for t, _, _ in token_spans(text)]


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (no stopwords, no number words)."""
    out = set()
    for t in tokens(text):
        if t in STOP or len(t) < 3 or t in _UNITS or t in _TENS or t in _ORDINALS or t[0].isdigit():
            continue
        out.add(stem(t))
    return out


def _chunks(words: list[str]) -> list[int]:
    """Spoken number words (ordinals too) -> numbers: "forty four seventy one" -> [44, 71]; "four
    four seven one" -> [4, 4, 7, 1]; "four thousand eight hundred" -> [4800]. The move detector's
    chunking, on cardinal words."""
    return chunk_values([number_word(w) or w for w in words])


@dataclass(frozen=True)
class NumberMention:
    """A number said or written in a text.

    Attributes:
        quote: the words as written ("fifty nine dollars" -> "fifty nine").
        values: the digit strings it may mean ("eighty nine ninety nine" -> 89, 99, 8999).
        main: the leading value ("89" for "$89.99"), what an amount or a day is compared on.
        start, end: token indexes [start, end) in ``tokens(text)``.
    """

    quote: str
    values: frozenset[str]
    main: str
    start: int
    end: int
    joined: str = ""  # every part concatenated ("forty four seventy one", "44-71" -> "4471")


def _is_number_word(t: str) -> bool:
    return t in _UNITS or t in _TENS or t in _ORDINALS or t in _SCALES


def numbers(text: str) -> list[NumberMention]:
    """Every number in `text`, written ("$4,800", "4471", "5th", "20-5561") or spoken ("four four
    seven one", "eighty nine ninety nine"); punctuation between words ends a spoken number."""
    spans = token_spans(text)
    toks = [t for t, _, _ in spans]
    out: list[NumberMention] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        m = re.fullmatch(r"(\d[\d,.:/-]*)(st|nd|rd|th|am|pm|s)?", t)
        if m:
            raw = m.group(1).rstrip(".,")
            parts = [p.lstrip("0") or "0" for p in re.split(r"[.:/-]", raw.replace(",", "")) if p]
            values = {raw.replace(",", ""), "".join(parts), *parts}
            out.append(NumberMention(t, frozenset(values), parts[0] if parts else raw, i, i + 1, "".join(parts)))
            i += 1
            continue
        if _is_number_word(t) and t not in _SCALES:
            if t == "oh" and not (i + 1 < len(toks) and (toks[i + 1] in _UNITS or toks[i + 1] in _TENS)):
                i += 1
                continue
            j = i
            run: list[str] = []
            while j < len(toks):
                if j > i and text[spans[j - 1][2] : spans[j][1]].strip(" -"):
                    break  # punctuation between words ends the number
                if _is_number_word(toks[j]):
                    run.append(toks[j])
                elif toks[j] == "and" and run and run[-1] in _SCALES and j + 1 < len(toks) and _is_number_word(toks[j + 1]):
                    pass
                else:
                    break
                j += 1
            vals = _chunks(run)
            joined = "".join(str(v) for v in vals)
            main = joined if len(vals) >= 2 and all(v < 10 for v in vals) else str(vals[0])
            values = {str(v) for v in vals} | {joined}
            out.append(NumberMention(" ".join(toks[i:j]), frozenset(values), main, i, j, joined))
            i = j
            continue
        i += 1
    return out


# ----------------------------------------------------------------------------- topics

# topic -> (cue in a question, cue in a fact). Both are regexes matched on lower-cased text.
TOPICS: dict[str, tuple[str, str]] = {
    "account": (r"\baccount\b|\b(your|the) number\b|\blast (four|4|digits)|\bdigits\b|\bcard\b|\bcustomer (number|id)\b|\bmember",
                r"\baccount\b|\bcard\b|\bending\b|\bcustomer\b|\bmember\b|\biban\b|\bpension\b"),
    "reference": (r"\b(order|ticket|case|claim|receipt|booking|invoice|confirmation|tracking|policy) ?(number|no|id|ref|reference|code)\b"
                  r"|\breference\b|\bref\b|\bconfirmation\b|\btracking\b|\bticket\b|\breceipt\b|\bserial\b|which order",
                  r"\border \w*\d|\breference\b|\bref\b|\bconfirmation\b|\btracking\b|\bticket\b|\bcase\b|\bclaim\b"
                  r"|\breceipt\b|\binvoice\b|\bbooking\b|\bserial\b"),
    "amount": (r"how much|\bamount\b|\bcost\b|\bprice\b|\bfee\b|\bdollars?\b|\btotal\b|\bsum\b",
               r"[$£€]|\bdollars?\b|\beuros?\b|\bpounds?\b|\bfee\b|\bcost\b|\bprice\b"),
    "date": (r"\bwhen\b|what (date|day|time)|which (date|day)|how long|since when|how many (days|weeks|hours)|\bdated?\b",
             rf"\b({_MONTH_RE})\b|\b({'|'.join(WEEKDAYS)})\b|\bago\b|\bsince\b|yesterday|today|tonight|this (morning|week|evening)"
             r"|last (week|month|night)|\bdated\b|\d ?(am|pm)\b|o'clock|tomorrow|\b\d+(st|nd|rd|th)\b|\bevening\b"),
    "contact": (r"e-?mail|phone|\bnumber to reach|\baddress\b|\bpost ?code\b|\bzip\b|\bcontact\b",
                r"@|e-?mail|gmail|\bphone\b|\bpost ?code\b|\bzip\b|\baddress\b|\bstreet\b|\broad\b"),
    "count": (r"how many times|how often|how many|first time|called (us )?before|\btimes\b|\bprevious",
              r"\btwice\b|\b(three|four|five|\d+) times\b|\b(first|second|third|fourth|fifth)\b|\bagain\b|\bbefore\b"),
    "login": (r"user ?name|\bpassword|\blog ?in\b|\bsign ?in\b|\blocked\b", r"user ?name|\bpassword|\blog ?in\b|\blocked\b"),
}
# questions with an answer of their own, not from a fact
SPECIAL: dict[str, str] = {
    "name": r"\byour (full |first |last )?name\b|who am i (speaking|talking) (to|with)|name on the account|(whom|who) do i have",
    "what_happened": r"what (happened|seems to be|is the (problem|issue)|'?s the (problem|issue)|'?s going on|is going on"
                     r"|can i (do|help)|brings you)|how can i help|how may i help|tell me (more|what|about)"
                     r"|(explain|describe) (what|the)|what (exactly )?went wrong|walk me through"
                     r"|what do you want|what(?:'s| is) (this|it) about|why are you calling|reason for (your|the) call",
    "anything_else": r"anything else|is that all|something else i can",
    "small_talk": r"how are you|how's your day|how is your day",
    "hold": r"put you on hold|place you on hold|can you hold|bear with me",
    "hear": r"can you hear me|are you (still )?there",
}  # fmt: skip

_QUESTION_START = re.compile(
    r"^(what|what's|whats|when|where|which|who|whom|whose|why|how|can|could|would|will|do|does|did|is|are|was|were"
    r"|have|has|may|might|should|shall|isn't|aren't|didn't|don't|doesn't|any)\b", re.IGNORECASE)
_REQUEST = re.compile(
    r"\b(tell me|give me|let me (have|know|get)|can i (have|get|ask)|may i (have|ask|get)|i('ll| will)? ?need (your|the)"
    r"|i('d| would) like (your|the)|please (provide|confirm|spell|verify)|confirm (your|the|for me)"
    r"|read me|what is|what's)\b", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def question_sentences(text: str, *, rising_end: bool | None = None) -> list[str]:
    """The sentences of a turn that ask something: a question mark, a question word or
    inversion at the start, or a request ("can I have your...", "please confirm ..."). With
    ``rising_end`` (pitch rose at the end of the turn), the last sentence is a question too."""
    out = []
    ss = sentences(text)
    for i, s in enumerate(ss):
        core = re.sub(r"^(and|so|okay|ok|alright|right|sure|great|thanks|thank you|well|now)[,]?\s+", "", s, flags=re.I)
        if s.endswith("?") or _QUESTION_START.match(core) or _REQUEST.search(s) or (rising_end and i == len(ss) - 1):
            out.append(s)
    return out


def topics_in(question: str) -> set[str]:
    low = question.lower()
    found = {t for t, (q, _) in TOPICS.items() if re.search(q, low)}
    found |= {t for t, rx in SPECIAL.items() if re.search(rx, low)}
    return found


# ----------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Fact:
    """One thing the caller knows, ready to be matched and said.

    Attributes:
        index: position in ``scenario.facts``.
        text: the fact as written.
        topics: topics it answers (keys of TOPICS; the fact form's ``topics`` add words).
        stems: content-word stems, for matching questions by meaning.
        numbers: numbers it holds.
        answers: answer lines from the fact's long form (may be empty).
        core: the answer said plainly, e.g. "It ends in 4471." or "Charged on March 3."
    """

    index: int
    text: str
    topics: frozenset[str]
    stems: frozenset[str]
    numbers: tuple[NumberMention, ...]
    answers: tuple[str, ...]
    core: str


_LABELLED_ID = re.compile(r"^(?:[a-z]+ ){0,2}(?:number|no\.?|id|code|ref|reference|order|ticket|claim|receipt|case|"
                          r"booking|invoice|serial|postcode|post code|zip|username|user name|member|customer)\s+"
                          r"((?=\S*\d)[\w-]+(?: (?=\S*\d)[\w-]+)?)$", re.I)  # fmt: skip


def _core(text: str, topics: set[str]) -> str:
    """The fact said as an answer: "account ending 4471" -> "It ends in 4471."; "order 48213" ->
    "It's 48213."; anything else as written, capitalised: "Charged on March 3."."""
    t = text.strip().rstrip(".")
    m = re.search(r"\b(?:ending|ends|ending in|last four(?: digits)?)\s+(?:in\s+)?([0-9][0-9 ]*)$", t, re.I)
    if m and "account" in topics:
        return f"It ends in {m.group(1).strip()}."
    m = _LABELLED_ID.match(t)
    if m:
        return f"It's {m.group(1)}."
    return t[0].upper() + t[1:] + "."


def build_facts(facts: Sequence[str], forms: Iterable = ()) -> tuple[Fact, ...]:
    """`Fact`s for the persona's fact strings; `forms` (schema.FactForm) add topics and answers."""
    by_text = {f.fact: f for f in forms}
    out = []
    for i, text in enumerate(facts):
        low = text.lower()
        topics = {t for t, (_, cue) in TOPICS.items() if re.search(cue, low)}
        stems = content_stems(text)
        form = by_text.get(text)
        answers: tuple[str, ...] = ()
        if form is not None:
            for topic in form.topics:
                key = topic.lower().strip()
                if key in TOPICS:
                    topics.add(key)
                stems |= content_stems(topic)
            answers = tuple(form.answers)
        nums = tuple(numbers(text))
        if nums and not topics & {"amount", "date", "count"} and any(len(n.main) >= 3 for n in nums):
            topics.add("reference" if "account" not in topics else "account")
        out.append(Fact(i, text, frozenset(topics), frozenset(stems), nums, answers, _core(text, topics)))
    return tuple(out)


@dataclass(frozen=True)
class FactMatch:
    fact: Fact
    score: float
    why: str


# words that ask about a topic without naming what it is about ("when did it happen?")
GENERIC = frozenset(stem(w) for w in """date day time happen happened start started begin began occur issue problem thing
much many long amount total fee cost price number account digit last four code reference detail details
sorry excuse pardon thank thanks kindly quick quickly exactly actually again once more
confirm verify check provide spell repeat read remind say recall remember find see know look give share tell
ask help mean correct right wrong""".split())  # courtesy and asking words: they name no fact


ID_TOPICS = frozenset({"account", "reference"})


def _related(a: str, b: str) -> bool:
    """Same stem, or one the start of the other ("member" / "membership", "deliver" / "delivery")."""
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and long_.startswith(short))


def match_facts(question: str, facts: Sequence[Fact], *, limit: int = 2) -> list[FactMatch]:
    """The facts that answer `question`, best first: a shared topic counts 2, each shared
    content word 1 (by stem); a fact matched by topic alone does not answer a question that
    names something else ("date of *birth*" is not "charged on March 3"). At most `limit`,
    one per topic asked."""
    q_topics = topics_in(question) & set(TOPICS)
    if q_topics & ID_TOPICS and not any(f.topics & q_topics for f in facts):
        q_topics |= ID_TOPICS  # "your number": an order number when there is no account
    q_stems = content_stems(re.sub(r"e-?mail address", "email", question, flags=re.I))
    specific = q_stems - GENERIC
    scored = []
    for f in facts:
        shared_topics = q_topics & f.topics
        shared = {q for q in q_stems if any(_related(q, s) for s in f.stems)}
        score = 2.0 * bool(shared_topics) + len(shared - GENERIC) + 0.5 * len(shared & GENERIC)
        if not shared_topics and not shared - GENERIC:
            continue  # "last time" does not ask about "promised last Friday"
        if shared_topics and not shared and specific:
            continue  # the question is about something this fact does not mention
        if score <= 0:
            continue
        why = []
        if shared_topics:
            why.append("topic " + "/".join(sorted(shared_topics)))
        if shared:
            why.append("words " + ", ".join(sorted(shared)))
        scored.append(FactMatch(f, score, "; ".join(why)))
    scored.sort(key=lambda m: (-m.score, m.fact.index))
    if not scored:
        return []
    best = scored[0].score
    chosen: list[FactMatch] = []
    covered: set[str] = set()
    for m in scored:
        if len(chosen) >= limit:
            break
        topic_new = not (m.fact.topics & q_topics) <= covered or not chosen
        if m.score >= best or (len(q_topics) > 1 and topic_new and m.fact.topics & q_topics - covered):
            chosen.append(m)
            covered |= m.fact.topics & q_topics
    return chosen
