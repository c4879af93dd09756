"""Vocal calm: angry speech scores less calm than neutral speech of the same speaker.

The emotion clips (TESS OAF, EmoDB 03) are non-commercial: they are read in place from
../shared/audio and never copied into the project.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from voicetrainer.analysis.calm import calm_score
from voicetrainer.session.pipeline import VoiceStats


@pytest.fixture(scope="module")
def calm(shared_audio, evaluation):
    return evaluation.calm_scores(shared_audio)


@pytest.mark.parametrize("speaker", ["TESS OAF", "EmoDB 03"])
def test_angry_clips_score_less_calm_than_neutral(calm, speaker):
    c = calm[speaker]
    assert c["n_neutral"] == 5 and c["n_angry"] == 6  # one neutral clip is the baseline, left out
    assert c["auc"] >= 0.9, c
    assert c["auc_any_baseline"]["min"] >= 0.8, c["auc_any_baseline"]
    assert c["mean_angry"] < c["mean_neutral"] - 25
    assert c["mean_neutral"] >= 70  # neutral speech against a neutral baseline reads as calm


def test_emodb_is_peak_normalised_and_still_separates(shared_audio, evaluation, calm):
    """EmoDB angry is not louder in RMS: pitch and vocal effort carry the score."""
    peaks = [np.abs(evaluation.read_mono(p)).max() for p, _ in evaluation.emotion_speakers(shared_audio)["EmoDB 03"]]
    assert np.median(peaks) > 0.95
    angry = [c for c in calm["EmoDB 03"]["clips"] if c["label"] == "angry"]
    assert np.median([c["components"]["pitch_rise"] for c in angry]) > 3.0
    assert np.median([c["components"]["vocal_effort_rise"] for c in angry]) > 3.0


def test_gain_changes_only_the_loudness_component(shared_audio, evaluation, tmp_path, wav_writer):
    """Peak-normalising (here: -6 dB) a clip moves loudness, not pitch or vocal effort."""
    from voicetrainer.cli.voice import analyze_clip
    from voicetrainer.config import Settings
    from voicetrainer.session.grader import analyze_voice_file

    emo = shared_audio / "emotion"
    baseline, _ = analyze_voice_file(emo / "tess_OAF_bar_neutral.wav")
    y = evaluation.read_mono(emo / "tess_OAF_bean_angry.wav")
    loud = analyze_clip(str(wav_writer(tmp_path / "a.wav", y, subtype="FLOAT")), baseline, Settings())["calm"]
    soft = analyze_clip(str(wav_writer(tmp_path / "b.wav", y * 0.5, subtype="FLOAT")), baseline, Settings())["calm"]
    d = {k: (loud["components"][k]["delta"], soft["components"][k]["delta"]) for k in loud["components"]}
    assert d["loudness_rise"][0] - d["loudness_rise"][1] == pytest.approx(6.02, abs=0.5)
    assert d["pitch_rise"][0] == pytest.approx(d["pitch_rise"][1], abs=0.3)
    assert d["vocal_effort_rise"][0] == pytest.approx(d["vocal_effort_rise"][1], abs=0.5)


def _stats(**kw) -> VoiceStats:
    base = dict(pitch_median_hz=120.0, pitch_sd_semitones=2.0, pitch_range_semitones=5.0, loudness_dbfs=-25.0,
                loudness_sd_db=5.0, tilt_db=-15.0, voiced_frames=400, speech_s=20.0, syllable_rate=4.0)
    return VoiceStats(**{**base, **kw})


def test_calm_score_known_answers():
    base = _stats()
    same = calm_score(_stats(), base, rate=240, baseline_rate=240)
    assert same["score"] == 100.0
    assert set(same["components"]) == {"pitch_rise", "pitch_spread_rise", "pitch_range_rise", "loudness_rise",
                                       "vocal_effort_rise", "rate_change"}
    # a lower, quieter, slower voice is never penalised
    assert calm_score(_stats(pitch_median_hz=100.0, loudness_dbfs=-35.0), base, rate=150, baseline_rate=240)["score"] == 100.0
    # four semitones up: (4 - tolerance) * points per semitone
    up = calm_score(_stats(pitch_median_hz=120.0 * 2 ** (4 / 12)), base)
    assert up["components"]["pitch_rise"]["delta"] == pytest.approx(4.0, abs=0.01)
    assert up["score"] == pytest.approx(100 - (4 - 0.5) * 6.0, abs=0.2)
    worse = calm_score(_stats(pitch_median_hz=190.0, tilt_db=-5.0, loudness_dbfs=-15.0), base)
    assert worse["score"] < up["score"]
    nothing = calm_score(_stats(voiced_frames=0, pitch_median_hz=math.nan), base)
    assert nothing["score"] is None


def test_rate_is_not_compared_on_short_stretches():
    base = _stats(speech_s=2.0)
    c = calm_score(_stats(speech_s=2.0), base, rate=400, baseline_rate=200)
    assert c["components"]["rate_change"]["delta"] is None and c["score"] == 100.0
    c = calm_score(_stats(), _stats(), rate=400, baseline_rate=200)
    assert c["components"]["rate_change"]["delta"] == pytest.approx(100.0)
    assert c["score"] < 100.0


def test_voice_cli_json_lists_files_with_calm_score_and_components(shared_audio, capsys):
    from voicetrainer.cli import main

    emo = shared_audio / "emotion"
    files = [str(emo / "emodb_03a02Nc.wav"), str(emo / "emodb_03a02Wb.wav")]
    code = main(["voice", *files, "--baseline", str(emo / "emodb_03a01Nc.wav"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert isinstance(out, list) and [o["file"] for o in out] == files
    for o in out:
        assert 0 <= o["calm"]["score"] <= 100
        assert {"pitch_rise", "vocal_effort_rise", "loudness_rise"} <= set(o["calm"]["components"])
        assert o["calm"]["pitch_median_hz"] > 0
    assert out[1]["calm"]["score"] < out[0]["calm"]["score"]  # angry below neutral


def test_voice_cli_bad_file_exit_2_one_line(tmp_path, capsys):
    from voicetrainer.cli import main

    missing = tmp_path / "nope.wav"
    code = main(["voice", str(missing), "--json"])
    cap = capsys.readouterr()
    assert code == 2
    assert json.loads(cap.out)[0]["file"] == str(missing)
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nope.wav" in lines[0] and "not found" in lines[0] and "Traceback" not in cap.err
