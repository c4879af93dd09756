"""The audio front end in real rooms: caller leak, babble, telephone band, and no silent loss.

Calls are the real-speech calls of scripts/evaluate.py (`build_call`) degraded the way
scripts/eval_room.py does it; graded without speech recognition (turn structure only), except
where the test is about recognition, which uses a fake recogniser with a known answer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from script_modules import load_script

from voicetrainer.asr import Transcript
from voicetrainer.asr.stage import pieces_missing_words
from voicetrainer.config import TurnConfig, VadConfig
from voicetrainer.report.schema import Word
from voicetrainer.session.grader import grade
from voicetrainer.stream.crosstalk import LeakGate
from voicetrainer.stream.frontend import ChannelFrontEnd
from voicetrainer.stream.turns import EventKind, SpeakerTracker
from voicetrainer.stream.vad import load_speech_model


@pytest.fixture(scope="module")
def room(evaluation):
    """scripts/eval_room.py as a module (it imports evaluate.py from its own folder)."""
    return load_script("eval_room")


def _degraded_call(evaluation, room, shared, tmp_path, condition: str, k: int = 0):
    call = room.build_room_call(shared, k)
    y = np.clip(room.degrade(call.audio, call.truth, condition, shared, k), -1, 1)
    return evaluation.write_wav(tmp_path / f"{condition}_{k}.wav", y), call.truth


def _true_spans(truth):
    return truth.trainee_turns + truth.backchannels


@pytest.mark.parametrize("k", [0, 1, 4])
def test_caller_leak_at_minus_20_db_gives_no_trainee_turns(evaluation, room, shared_audio, tmp_path, k):
    path, truth = _degraded_call(evaluation, room, shared_audio, tmp_path, "xtalk-20", k)
    report = grade(path)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    false = [t for t in trainee if not any(t.start_s < b and t.end_s > a for a, b in _true_spans(truth))]
    assert not false, [(t.start_s, t.end_s) for t in trainee]
    barge = truth.trainee_turns[1][0]
    inter = [i for i in report.interruptions if i.kind == "interruption" and i.by == "trainee"]
    assert [abs(i.start_s - barge) < 0.3 for i in inter] == [True]
    q = report.metrics["audio_quality"]["trainee"]
    assert q["crosstalk_db"] == pytest.approx(-20, abs=4)
    assert any("leaks into the microphone" in w for w in report.warnings)
    if k == 0:  # the report page says it too
        from voicetrainer.report.html import render_report_html

        page = render_report_html(report, audio_href=None)
        assert 'id="audio-quality"' in page and "caller leaks in at -" in page and "trainee: wideband" in page


@pytest.mark.parametrize("condition,k", [("babble15", 1), ("babble15", 3), ("babble5", 0), ("babble5", 1)])
def test_babble_does_not_make_one_giant_turn(evaluation, room, shared_audio, tmp_path, condition, k):
    """Before the front end, babble made the trainee "speak" 19-21 s turns over the caller."""
    path, truth = _degraded_call(evaluation, room, shared_audio, tmp_path, condition, k)
    report = grade(path)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    longest_true = max(b - a for a, b in _true_spans(truth))
    assert max(t.end_s - t.start_s for t in trainee) <= longest_true + 1.0, [(t.start_s, t.end_s) for t in trainee]
    if condition == "babble15":
        assert not [i for i in report.interruptions if i.by == "caller" and i.kind == "interruption"]


def test_leak_gate_learns_the_coupling_despite_double_talk():
    rng = np.random.default_rng(0)
    gate = LeakGate(VadConfig())
    ref = np.where(rng.random(3000) < 0.6, -25 + 6 * rng.standard_normal(3000), -60.0)
    own = ref - 20 + rng.standard_normal(3000)
    talk = rng.random(3000) < 0.1  # the trainee talks over the caller 10% of the time
    own = np.where(talk, -22.0, np.maximum(own, -58.0))
    predicted = [gate.push(o, r) for o, r in zip(own, ref)]
    est = gate.estimate()
    assert est.detected and est.coupling_db == pytest.approx(-20, abs=1.5)
    i = 2999 if ref[2999] > -40 else int(np.flatnonzero(ref > -40)[-1])
    assert predicted[i] == pytest.approx(max(ref[i - 2 : i + 1]) + est.coupling_db, abs=0.01)


def test_no_leak_gate_without_a_leak():
    rng = np.random.default_rng(1)
    gate = LeakGate(VadConfig())
    ref = np.where(rng.random(2000) < 0.6, -25 + 6 * rng.standard_normal(2000), -60.0)
    own = -55 + rng.standard_normal(2000)  # the trainee's mic hears only its own noise
    last = [gate.push(o, r) for o, r in zip(own, ref)][-1]
    assert not gate.estimate().detected and last == -math.inf


def test_soft_frames_place_onset_and_offset_within_edge():
    tr = SpeakerTracker("trainee", TurnConfig(min_silence_ms=400, edge_s=0.2))  # a wide edge: easy to see
    # 0.3 s soft rise, 1 s speech, 0.1 s soft tail, then silence
    frames = [(False, False)] * 10 + [(False, True)] * 15 + [(True, False)] * 50 + [(False, True)] * 5 + [(False, False)] * 40
    events = [ev for i, (sp, soft) in enumerate(frames) for ev in tr.push(sp, i * 0.02, soft=soft)]
    end = next(ev for ev in events if ev.kind is EventKind.SPEECH_END)
    assert end.data["start_s"] == pytest.approx(0.5 - 0.2)  # speech at 0.5 s, back-dated by edge_s
    assert end.t_s == pytest.approx(1.5 + 0.1)  # speech ends at 1.5 s, soft tail 0.1 s


def test_telephone_band_is_detected_from_the_spectrum_of_upsampled_8k_audio(evaluation, room, shared_audio, tmp_path):
    y = evaluation.read_mono(shared_audio / "speech" / "librivox_0870.wav")
    wide = evaluation.write_wav(tmp_path / "wide.wav", y)
    phone = evaluation.write_wav(tmp_path / "phone_16k.wav", room.telephone(y))  # 16 kHz header
    r_phone, r_wide = grade(phone), grade(wide)
    assert r_phone.metrics["audio_quality"]["trainee"]["telephone_band"] is True
    assert any("telephone-band" in w for w in r_phone.warnings), r_phone.warnings
    assert r_wide.metrics["audio_quality"]["trainee"]["telephone_band"] is False
    assert not any("telephone" in w for w in r_wide.warnings)


def test_silero_scores_speech_high_and_noise_low(evaluation, room, shared_audio):
    model = load_speech_model(VadConfig())
    assert model is not None, "the Silero model ships inside faster-whisper"
    speech = evaluation.read_mono(shared_audio / "speech" / "librivox_0870.wav")[16000:48000] * 1.0
    noise = room.pink(32000, seed=3) * 0.05
    p_speech = np.mean([model.push(speech[i : i + 320]) for i in range(0, len(speech), 320)])
    model.reset()
    p_noise = np.mean([model.push(noise[i : i + 320]) for i in range(0, len(noise), 320)])
    assert p_speech > 0.7 and p_noise < 0.2
    assert load_speech_model(VadConfig(backend="energy")) is None
    assert ChannelFrontEnd(VadConfig(backend="energy")).model is None


class _FirstPieceOnly:
    """A recogniser that, like the packed window of the bug report, returns only the first
    sentence of a packed job; `retry_words` says whether a piece on its own gets its words."""

    def __init__(self, retry_words: bool):
        self.retry_words = retry_words
        self.calls = 0

    def transcribe(self, audio, *, offset_s: float = 0.0):
        self.calls += 1
        if offset_s == 0.0:  # the packed job (job-relative times)
            return Transcript([Word("hello", 0.3, 0.7), Word("there", 0.8, 1.6)], "hello there")
        if self.retry_words:
            return Transcript([Word("again", offset_s + 0.3, offset_s + 0.7)], "again")
        return Transcript([], "")


@pytest.mark.parametrize("retry_words", [True, False])
def test_speech_without_text_is_retried_then_marked_asr_error(signals, wav_writer, tmp_path, retry_words):
    y = signals.noise(12.0, dbfs=-60)
    for a in (1.0, 5.0, 9.0):  # three answers, far enough apart to be separate stretches
        signals.place(y, signals.voice(1.5), a)
    path = wav_writer(tmp_path / "answers.wav", y)
    fake = _FirstPieceOnly(retry_words)
    report = grade(path, transcriber=fake)
    turns = [t for t in report.turns if t.speaker == "trainee"]
    assert len(turns) == 3 and fake.calls == 3  # one packed job, two stretches retried alone
    assert turns[0].text == "hello there" and turns[0].asr_error is None
    if retry_words:
        assert [t.text for t in turns[1:]] == ["again", "again"]
        assert all(t.asr_error is None for t in turns)
    else:
        assert all(t.text == "" and "no words recognised" in t.asr_error for t in turns[1:])
        assert any("no text for 2 turn(s)" in w for w in report.warnings), report.warnings


def test_a_packed_stretch_cut_short_is_found_by_its_uncovered_end():
    """Whisper stopped mid-sentence in a packed window and stretched the last word it decoded
    over the rest (noise 10 dB: "... there might be" with "be" lasting 1.9 s, 8 words lost)."""
    pieces = [(0.0, 2.88, 1.31), (1.61, 6.79, 6.08), (7.99, 14.63, 6.96)]
    words = [Word("he", 3.1, 3.3), Word("was", 3.3, 3.5), Word("not", 3.5, 3.9)]
    words += [Word(f"w{i}", 7.0 + 0.4 * i, 7.3 + 0.4 * i) for i in range(14)]  # 7.0-12.5 s
    words += [Word("there", 19.06, 19.3), Word("might", 19.3, 19.66), Word("be", 19.66, 21.56)]
    words = [w for w in words if w.start_s < 15 or w.word in ("there", "might", "be")]
    words = [Word("and", 14.9, 15.1)] + words
    assert pieces_missing_words(pieces, words) == [pieces[2]]
    whole = words[:-1] + [Word("be", 19.66, 19.8)] + [Word(f"x{i}", 19.9 + 0.3 * i, 20.1 + 0.3 * i) for i in range(5)]
    assert pieces_missing_words(pieces, whole) == []  # the last word near the end: nothing to redo
    assert pieces_missing_words(pieces, [w for w in words if w.start_s > 6]) == [pieces[0], pieces[2]]


def test_turn_edges_are_centred_on_the_true_speech_bounds(evaluation, room, shared_audio, tmp_path):
    """Onsets and offsets where speech starts and ends: before the soft edges the energy rule cut
    ~50 ms off both ends of every turn (gaps +0.1 s, WPM +2-7%)."""
    onset, offset, gap = [], [], []
    for k in range(5):
        path, truth = _degraded_call(evaluation, room, shared_audio, tmp_path, "clean", k)
        report = grade(path)
        spans = [(t.speaker, t.start_s, t.end_s) for t in report.turns]
        for who, true in (("trainee", truth.trainee_turns), ("caller", truth.caller_turns)):
            for a, b in true:
                _, s, e = min((x for x in spans if x[0] == who), key=lambda x: abs(x[1] - a))
                onset.append(s - a)
                offset.append(e - b)
        first = next(g for g in report.metrics["response_gaps"] if abs(g["t_s"] - truth.trainee_turns[0][0]) < 0.6)
        gap.append(first["gap_s"] - truth.gap_s)
    assert abs(np.mean(onset)) <= 0.03 and abs(np.mean(offset)) <= 0.03, (onset, offset)
    assert abs(np.mean(gap)) <= 0.1 and max(map(abs, gap)) <= 0.2, gap


def test_beam_search_only_for_speech_in_noise(signals):
    from voicetrainer.asr.whisper import beam_size_for, level_spread_db
    from voicetrainer.config import AsrConfig

    y = signals.noise(3.0, dbfs=-60, seed=1)
    signals.place(y, signals.voice(2.0, dbfs=-22), 0.5)
    noisy = y + signals.noise(3.0, dbfs=-32, seed=2)  # 10 dB below the voice
    packed = np.concatenate([y, np.zeros(4800, np.float32), y])  # the zero gaps of a packed job do not count
    assert level_spread_db(y) > 30 and level_spread_db(packed) == pytest.approx(level_spread_db(y), abs=1)
    assert level_spread_db(noisy) < 15
    cfg = AsrConfig()
    assert beam_size_for(y, cfg) == cfg.beam_size == 1 and beam_size_for(noisy, cfg) == cfg.noisy_beam_size


def test_a_neighbour_15_db_down_is_not_the_trainee(evaluation, room, shared_audio, tmp_path):
    """One other voice on the trainee's mic, 15 dB under the trainee, talking while the trainee
    listens and in the pause before the caller's second line: no trainee turn there."""
    call = room.build_room_call(shared_audio, 1)
    y = call.audio.copy()
    truth = call.truth
    voice = evaluation.read_mono(shared_audio / "speech" / "stereo_diarization_left.wav")
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    trainee_rms = rms(np.concatenate([y[int(a * 16000):int(b * 16000), 1] for a, b in truth.trainee_turns]))
    voice = voice / rms(voice) * trainee_rms * 10 ** (-15 / 20)
    at = truth.caller_turns[0][0] + 0.5  # during the caller's first line and the trainee's answer
    n = min(len(voice), len(y) - int(at * 16000))
    y[int(at * 16000):int(at * 16000) + n, 1] += voice[:n]
    path = evaluation.write_wav(tmp_path / "neighbour.wav", np.clip(y, -1, 1))
    report = grade(path)
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    false = [t for t in trainee if not any(t.start_s < b and t.end_s > a for a, b in _true_spans(truth))]
    assert not false, [(t.start_s, t.end_s) for t in trainee]
    # without the gate the neighbour started the trainee's answer 2 s early, over the caller
    assert abs(trainee[0].start_s - truth.trainee_turns[0][0]) < 0.3, [(t.start_s, t.end_s) for t in trainee]
    barge = truth.trainee_turns[1][0]
    assert [round(i.start_s - barge, 1) for i in report.interruptions if i.kind == "interruption"] == [pytest.approx(0, abs=0.3)]
