"""voicetrainer.analysis.language: the trainee's conversational moves, with known answers."""

from __future__ import annotations

import pytest

from voicetrainer.analysis.language import (
    MOVE_KINDS,
    Move,
    PhraseLists,
    count_kinds,
    detect_moves,
    load_phrases,
)
from voicetrainer.errors import ConfigError
from voicetrainer.report.schema import Word


def kinds(text: str, **kw) -> list[str]:
    return [m.kind for m in detect_moves(text, **kw)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm so sorry about this.", {"apology"}),
        ("I apologize for the trouble.", {"apology"}),
        ("My apologies, that was our mistake.", {"apology"}),
        ("I understand, that must be really frustrating.", {"empathy"}),
        ("I'll make sure this is fixed.", {"ownership"}),
        ("I will personally take care of it.", {"ownership"}),
        ("I'll refund it by Friday.", {"next_step", "timeframe"}),
        ("You will get a confirmation email within 24 hours.", {"next_step", "timeframe"}),
        ("It should arrive in two days.", {"next_step", "timeframe"}),
        ("I can have it done by end of day.", {"timeframe"}),
        ("Could you tell me your order number?", {"clarifying_question"}),
        ("Please clear your cache.", {"jargon"}),
        ("You should have read the terms.", {"blame"}),
        ("Sir, calm down.", {"calm_down"}),
        ("It's policy.", {"policy"}),
        ("Thank you for your patience.", {"gratitude"}),
        ("Good morning, my name is Dana.", {"greeting"}),
        ("There's nothing I can do.", {"dismissive"}),
        ("The weather is nice.", set()),
        ("I totally get it.", {"empathy"}),
        ("I hear how frustrated you are.", {"empathy"}),
        ("I can offer you store credit in about an hour.", {"next_step", "timeframe"}),
        ("Give me two minutes.", {"timeframe"}),
        ("Sir, I need you to stop yelling.", {"calm_down"}),
        ("It's outside the 30 day window.", {"policy"}),
        ("Is there anything else I can help you with today?", {"greeting"}),
        ("Just so I understand, it was the second?", {"clarifying_question"}),
        ("You need to clear your cache.", {"jargon"}),
    ],
)
def test_single_moves(text, expected):
    assert set(kinds(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["I'm sorry you feel that way.", "Sorry, but that is how it works.", "I'm sorry but no."],
)
def test_insincere_apology_is_not_an_apology(text):
    got = kinds(text)
    assert "apology" not in got
    assert "dismissive" in got


def test_greeting_today_is_not_a_timeframe():
    assert "timeframe" not in kinds("Hello, how can I help you today?")


def test_spans_quotes_and_why():
    text = "Okay. I'm really sorry. Let's clear the cache, then."
    moves = detect_moves(text)
    apology = next(m for m in moves if m.kind == "apology")
    assert apology.quote == "I'm really sorry"
    assert text[apology.start_char : apology.end_char] == apology.quote
    jargon = next(m for m in moves if m.kind == "jargon")
    assert jargon.why == "jargon: 'cache'"
    assert all(isinstance(m, Move) and m.kind in MOVE_KINDS for m in moves)
    assert [m.start_char for m in moves] == sorted(m.start_char for m in moves)


def test_curly_apostrophes_and_case():
    assert kinds("I’M SORRY") == ["apology"]


def test_word_boundaries():
    assert "jargon" not in kinds("The cashier was kind.")  # not "cache"
    assert "jargon" not in kinds("I'll send a note.")  # "node" needs the whole word


def test_times_from_words():
    words = [Word(" I'm", 1.0, 1.2), Word(" so", 1.2, 1.3), Word(" sorry.", 1.3, 1.6),
             Word(" By", 2.0, 2.1), Word(" Friday.", 2.1, 2.5)]  # fmt: skip
    moves = detect_moves("", words=words)  # text rebuilt from the words
    assert [(m.kind, m.t_s) for m in moves] == [("apology", 1.0), ("timeframe", 2.0)]
    moves = detect_moves(" I'm so sorry. By Friday.", words=words)
    assert [m.t_s for m in moves] == [1.0, 2.0]
    assert all(m.t_s is None for m in detect_moves("I'm so sorry."))
    as_json = [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in words]
    assert [m.t_s for m in detect_moves("", words=as_json)] == [1.0, 2.0]


@pytest.mark.parametrize(
    "text, fact, fires",
    [
        ("Your order 48213, right?", "order 48213", True),
        ("That's order four eight two one three.", "order 48213", True),
        ("You were charged forty two dollars.", "charged $42", True),
        ("So 89.99 twice.", "$89.99 charged twice", True),
        ("You were charged twice for the subscription.", "I was charged twice for my subscription!", True),
        ("Let me check your order.", "order 48213", False),  # the word alone is not the fact
        ("Let me check.", "charged twice for the subscription", False),
        ("Is that Margaret?", "Margaret", True),
        ("Four thousand eight hundred dollars, I see.", "$4,800 repair", True),
        ("So 4800 for the repair.", "$4,800 repair", True),
    ],
)
def test_repeat_back(text, fact, fires):
    got = [m for m in detect_moves(text, facts=[fact]) if m.kind == "repeat_back"]
    assert bool(got) == fires
    if got:
        assert text[got[0].start_char : got[0].end_char] == got[0].quote


def test_default_phrases_cover_every_kind():
    p = load_phrases()
    for kind in MOVE_KINDS:
        if kind != "repeat_back":
            assert getattr(p, kind), kind
    assert "no" in p.stopwords  # YAML 1.1 would have made it False


def test_phrase_overrides_replace_one_list():
    base = load_phrases()
    custom = base.merged({"jargon": ["widget"]})
    assert custom.apology == base.apology
    assert kinds("Reset the widget and the cache.", phrases=custom) == ["jargon"]
    assert detect_moves("Reset the widget.", phrases=custom)[0].quote == "widget"
    assert isinstance(hash(custom), int)


def test_bad_phrase_lists_are_config_errors():
    with pytest.raises(ConfigError, match="unknown phrase kind 'apologee'"):
        PhraseLists.from_mapping({"apologee": ["sorry"]}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"x.yaml: apology\[0\]: not a valid pattern"):
        PhraseLists.from_mapping({"apology": ["(sorry"]}, source="x.yaml")
    with pytest.raises(ConfigError, match="must be a list"):
        PhraseLists.from_mapping({"apology": "sorry"})


def test_load_phrases_from_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("apology: [oops]\n")
    assert kinds("Oops!", phrases=load_phrases(f)) == ["apology"]
    f.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_phrases(f)


def test_phrase_lists_built_directly_from_lists():
    p = PhraseLists(apology=["oops"], jargon=["widget"])
    assert p.apology == ("oops",)
    assert kinds("Oops, the widget.", phrases=p) == ["apology", "jargon"]


def test_count_kinds():
    assert count_kinds(detect_moves("Sorry about that. I'm so sorry.")) == {"apology": 2}
