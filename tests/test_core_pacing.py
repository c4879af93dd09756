"""Pacing: WPM against word alignments of real read speech, and known answers on hand-made words."""

from __future__ import annotations

import pytest

from voicetrainer.analysis.pacing import find_fillers, pacing, turn_pauses, turn_wpm
from voicetrainer.report.schema import Word

LIBRIVOX = ["librivox_0870", "librivox_0880", "librivox_0890", "librivox_0920", "librivox_0930"]


@pytest.fixture(scope="module")
def librivox_reports(shared_audio, transcriber, analyse):
    return {name: analyse(shared_audio / "speech" / f"{name}.wav", transcriber)[1] for name in LIBRIVOX}


@pytest.mark.parametrize("name", LIBRIVOX)
def test_wpm_within_10_percent_of_alignment(name, shared_audio, evaluation, librivox_reports):
    truth = evaluation.align_wpm(evaluation.aligned_words(shared_audio / "speech" / f"{name}.align.json"))
    got = librivox_reports[name].metrics["trainee_wpm"]
    assert got == pytest.approx(truth, rel=0.10), (got, truth)


def test_align_wpm_definition(shared_audio, evaluation):
    words = evaluation.aligned_words(shared_audio / "speech" / "librivox_0880.align.json")
    assert [w.word for w in words] == "he was not an ill disposed young man".split()  # no <sil>, no (2)
    assert evaluation.align_wpm(words) == pytest.approx(8 / (2.74 - 0.21) * 60)


def _words(text: str, start: float, step: float, *, dur: float = 0.3) -> list[Word]:
    return [Word(w, round(start + i * step, 3), round(start + i * step + dur, 3)) for i, w in enumerate(text.split())]


def test_pacing_known_answers():
    t1 = _words("one two three four five six seven eight nine ten", 0.0, 0.4)  # 10 words in 3.9 s
    t2 = _words("a b c d e", 10.0, 0.5)  # 5 words in 2.3 s
    p = pacing([t1, [], t2])
    assert p.words == 15
    assert p.speaking_s == pytest.approx(3.9 + 2.3)
    assert p.wpm == pytest.approx(15 / 6.2 * 60)
    assert p.pauses == ()  # gaps of 0.1 and 0.2 s are not pauses
    assert turn_wpm(t1) == pytest.approx(10 / 3.9 * 60)
    assert turn_wpm(t1[:1]) is None and pacing([]).wpm is None


def test_pauses_and_articulation_rate():
    words = _words("so I checked", 0.0, 0.35) + _words("your order today", 2.0, 0.35)
    assert turn_pauses(words) == [pytest.approx(2.0 - 1.0)]
    p = pacing([words])
    assert p.articulation_wpm == pytest.approx(6 / (p.speaking_s - 1.0) * 60)
    assert p.mean_pause_s == pytest.approx(1.0)


def test_fillers_um_always_like_and_you_know_only_as_fillers():
    words = [Word(w, i * 0.5, i * 0.5 + 0.3) for i, w in enumerate(
        "um I like this plan, like, it is uh fine you know. Do you know the date?".split())]
    found = [f.word.strip(",.").lower() for f in find_fillers(words)]
    assert found == ["um", "like", "uh", "you know"]
    assert pacing([words]).filler_rate == pytest.approx(100 * 4 / len(words))
