"""Voice activity and turn taking with known answers.

Synthetic calls place speech-like bursts at exact times; real calls are built from LibriVox clips
whose word times are known from their alignments (scripts/evaluate.py `build_call`), so the
overlap and the response gap are exact amounts of real speech.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicetrainer.audio.sources import FileSource
from voicetrainer.config import Settings
from voicetrainer.stream.turns import SpeakerTracker, build_turns, find_overlaps, response_gaps
from voicetrainer.stream.vad import EnergyVad

FRAME_TOL_S = 0.06  # synthetic bursts: three 20 ms frames


# ----------------------------------------------------------------------------- synthetic

CALLER = [(1.0, 3.0), (7.0, 9.5)]
TRAINEE = [(1.8, 2.3), (3.7, 6.0), (8.5, 11.0)]  # backchannel; answer after 0.7 s; barge-in 1.0 s


@pytest.fixture(scope="module")
def synthetic_call(tmp_path_factory, signals, wav_writer, analyse):
    audio = signals.two_channel(12.0, CALLER, TRAINEE)
    path = wav_writer(tmp_path_factory.mktemp("synth") / "call.wav", audio)
    return analyse(path)


def test_synthetic_segments_match_placed_bursts(synthetic_call):
    result, _ = synthetic_call
    got = {spk: [(s.start_s, s.end_s) for s in result.segments if s.speaker == spk] for spk in ("caller", "trainee")}
    for spk, want in (("caller", CALLER), ("trainee", TRAINEE)):
        assert len(got[spk]) == len(want), got
        for (a, b), (x, y) in zip(got[spk], want):
            assert abs(a - x) <= FRAME_TOL_S and abs(b - y) <= FRAME_TOL_S, (spk, got[spk], want)


def test_synthetic_overlap_of_known_length_is_one_interruption(synthetic_call):
    _, report = synthetic_call
    inter = [i for i in report.interruptions if i.kind == "interruption"]
    assert len(inter) == 1
    assert inter[0].by == "trainee"
    assert inter[0].start_s == pytest.approx(8.5, abs=FRAME_TOL_S)
    assert inter[0].overlap_s == pytest.approx(1.0, abs=FRAME_TOL_S)
    assert inter[0].stopped_first == "caller"
    assert report.metrics["interruptions_by_trainee"] == 1


def test_synthetic_short_acknowledgement_is_a_backchannel_not_an_interruption(synthetic_call):
    _, report = synthetic_call
    back = [i for i in report.interruptions if i.kind == "backchannel"]
    assert [(b.by, round(b.start_s, 1)) for b in back] == [("trainee", 1.8)]
    assert report.metrics["backchannels_by_trainee"] == 1


def test_backchannel_limits_come_from_the_turn_settings(tmp_path, signals, wav_writer, analyse):
    import dataclasses

    path = wav_writer(tmp_path / "call.wav", signals.two_channel(12.0, CALLER, TRAINEE))
    strict = Settings().replace(turns=dataclasses.replace(Settings().turns, backchannel_max_s=0.3))
    _, report = analyse(path, settings=strict)
    kinds = sorted((round(i.start_s, 1), i.kind) for i in report.interruptions)
    assert kinds == [(1.8, "interruption"), (8.5, "interruption")]  # 0.5 s is no longer short


def test_synthetic_gap_of_known_length(synthetic_call):
    _, report = synthetic_call
    m = report.metrics
    # the answer at 3.7 s follows the caller's end at 3.0 s; the barge-in at 8.5 s is no gap
    assert [g["gap_s"] for g in m["response_gaps"]] == [pytest.approx(0.7, abs=FRAME_TOL_S)]
    assert m["mean_response_gap_s"] == pytest.approx(0.7, abs=FRAME_TOL_S)
    assert m["longest_silence_s"] == pytest.approx(1.0, abs=FRAME_TOL_S)  # 6.0 .. 7.0
    caller_s, trainee_s = 2.0 + 2.5, 0.5 + 2.3 + 2.5
    assert m["talk_ratio"] == pytest.approx(trainee_s / (trainee_s + caller_s), abs=0.02)


def test_turn_functions_on_hand_made_segments():
    from voicetrainer.stream.turns import Segment

    segs = [Segment("caller", 0.0, 4.0), Segment("trainee", 3.0, 5.0), Segment("caller", 6.0, 7.0),
            Segment("trainee", 7.5, 8.0), Segment("trainee", 9.0, 10.0)]
    ov = find_overlaps(segs)
    assert [(o.by, o.start_s, o.overlap_s, o.stopped_first) for o in ov] == [("trainee", 3.0, 1.0, "caller")]
    turns = build_turns(segs, merge_pause_s=2.0)
    assert [(t.speaker, t.start_s, t.end_s) for t in turns] == [
        ("caller", 0.0, 4.0), ("trainee", 3.0, 5.0), ("caller", 6.0, 7.0), ("trainee", 7.5, 10.0)]
    assert [round(g, 3) for _, g in response_gaps(turns)] == [0.5]


def test_speaker_tracker_hysteresis_ignores_clicks_and_bridges_short_pauses():
    tr = SpeakerTracker("trainee")
    pattern = [0] * 10 + [1] * 2 + [0] * 10 + [1] * 30 + [0] * 10 + [1] * 30 + [0] * 40  # 20 ms frames
    events = []
    for i, s in enumerate(pattern):
        events += tr.push(bool(s), i * 0.02)
    kinds = [(e.kind.value, round(e.t_s, 2)) for e in events]
    # the 40 ms click is not speech; the 200 ms pause is inside one segment
    assert kinds == [("speech_start", 0.44), ("speech_end", 1.84)]


# ----------------------------------------------------------------------------- VAD on real speech

def real_speech(evaluation, shared_audio, *, noise_dbfs: float):
    """Mono: LibriVox 0880, then 0930 starting 4.5 s in, over a steady noise bed.

    Returns the audio and the expected speech spans (first word start .. last word end)."""
    b = evaluation.CallBuilder(shared_audio)
    spans = [b.place(0, "librivox_0880", 0.5), b.place(0, "librivox_0930", 4.5)]
    audio = b.render(tail_s=1.0, noise_dbfs=noise_dbfs, seed=3)[:, 0]
    return audio, spans


def assert_segments(got, want, *, start_tol=0.1, end_tol=0.15):
    assert len(got) == len(want), (got, want)
    for (a, b), (x, y) in zip(got, want):
        assert abs(a - x) <= start_tol and abs(b - y) <= end_tol, (got, want)


def test_vad_on_speech_in_room_noise_at_minus_50_dbfs(evaluation, shared_audio, tmp_path, wav_writer):
    audio, spans = real_speech(evaluation, shared_audio, noise_dbfs=-50.0)
    path = wav_writer(tmp_path / "noisy.wav", audio)
    # the soft final fricative of "himself" is only ~10 dB above this noise: ends may come 0.2 s early
    assert_segments(evaluation.vad_segments(path), spans, end_tol=0.2)


def test_vad_on_telephone_band_8khz_speech(evaluation, shared_audio, tmp_path, wav_writer):
    import soxr
    from scipy.signal import butter, sosfiltfilt

    audio, spans = real_speech(evaluation, shared_audio, noise_dbfs=-60.0)
    sos = butter(6, [300, 3400], btype="bandpass", fs=16000, output="sos")
    phone = soxr.resample(sosfiltfilt(sos, audio), 16000, 8000).astype(np.float32)
    path = wav_writer(tmp_path / "phone8k.wav", phone, sr=8000)
    assert FileSource(path).info.telephone_band
    assert_segments(evaluation.vad_segments(path), spans)


def test_vad_steady_noise_after_digital_silence_becomes_floor(signals):
    """A gated microphone: digital silence, then -45 dBFS fan noise, then speech."""
    cfg = Settings().vad
    vad = EnergyVad(cfg)
    y = np.concatenate([np.zeros(16000 * 2, np.float32), signals.noise(6.0, dbfs=-45.0, seed=5)])
    y = np.concatenate([y, signals.voice(1.0) + signals.noise(1.0, dbfs=-45.0, seed=6)])
    flags = [vad.is_speech(10 * np.log10(np.mean(y[i : i + 320] ** 2) + 1e-12)) for i in range(0, len(y), 320)]
    t = np.arange(len(flags)) * 0.02
    settled = (t >= 2.0 + cfg.floor_window_s + 0.1) & (t < 8.0)
    assert not any(np.array(flags)[settled]), "steady noise still taken for speech after one floor window"
    assert np.mean(np.array(flags)[(t >= 8.05) & (t < 8.95)]) > 0.9


def test_silence_and_noise_have_no_speech(evaluation, signals, tmp_path, wav_writer):
    for name, y in (("silence", np.zeros(16000 * 5, np.float32)), ("noise", signals.noise(5.0, dbfs=-50.0))):
        assert evaluation.vad_segments(wav_writer(tmp_path / f"{name}.wav", y)) == [], name


# ----------------------------------------------------------------------------- real two-channel call

GAP_S, OVERLAP_S = 0.8, 1.0


@pytest.fixture(scope="module")
def real_call(evaluation, shared_audio, transcriber, tmp_path_factory, wav_writer, analyse):
    audio, truth = evaluation.build_call(shared_audio, gap_s=GAP_S, overlap_s=OVERLAP_S, backchannel=True)
    path = wav_writer(tmp_path_factory.mktemp("realcall") / "call.wav", audio)
    _, report = analyse(path, transcriber)
    return report, truth


def test_real_call_has_exactly_one_interruption_of_the_placed_length(real_call):
    report, truth = real_call
    inter = [i for i in report.interruptions if i.kind == "interruption"]
    assert len(inter) == 1, report.interruptions
    assert inter[0].by == "trainee"
    assert inter[0].start_s == pytest.approx(truth.trainee_turns[1][0], abs=0.15)
    assert inter[0].overlap_s == pytest.approx(OVERLAP_S, abs=0.15)
    assert report.metrics["interruptions_by_trainee"] == 1
    assert report.metrics["interruptions_by_caller"] == 0


def test_real_call_response_gap(real_call):
    report, truth = real_call
    gaps = report.metrics["response_gaps"]
    assert len(gaps) == 1, gaps  # the barge-in is not a gap
    assert gaps[0]["t_s"] == pytest.approx(truth.trainee_turns[0][0], abs=0.15)
    assert gaps[0]["gap_s"] == pytest.approx(GAP_S, abs=0.15)
    assert report.metrics["mean_response_gap_s"] == pytest.approx(GAP_S, abs=0.15)


def test_real_call_backchannel_counted_apart(real_call):
    report, truth = real_call
    back = [i for i in report.interruptions if i.kind == "backchannel"]
    assert len(back) == 1, report.interruptions
    assert back[0].by == "trainee"
    assert back[0].start_s == pytest.approx(truth.backchannels[0][0], abs=0.15)
    assert 1 <= back[0].words <= 3
    assert report.metrics["backchannels_by_trainee"] == 1


def test_real_call_turns_and_words(real_call):
    report, truth = real_call
    caller = [t for t in report.turns if t.speaker == "caller"]
    trainee = [t for t in report.turns if t.speaker == "trainee" and len(t.words) > 3]
    assert len(caller) == 2 and len(trainee) == 2
    for got, (a, b) in zip(caller + trainee, truth.caller_turns + truth.trainee_turns):
        assert got.start_s == pytest.approx(a, abs=0.15) and got.end_s == pytest.approx(b, abs=0.35)
    assert "dashwood" in caller[0].text.lower()
    assert "amiable himself" in trainee[1].text.lower()
