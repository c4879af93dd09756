"""The report's metrics are a typed `Metrics` (schema voicetrainer.report/1 keys kept)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from voicetrainer.report.schema import Metrics


def test_round_trip_keeps_every_key_and_extras():
    m = Metrics(trainee_wpm=140.0, talk_ratio=0.4, calm={"score": 80}, recovery={"escalations": []},
                extra={"new_key": 1})
    d = m.to_dict()
    assert d["trainee_wpm"] == 140.0 and d["calm"]["score"] == 80 and d["new_key"] == 1 and "extra" not in d
    assert Metrics.from_dict(d) == m
    assert "recovery" not in Metrics().to_dict()


def test_the_grader_writes_typed_metrics_only(tmp_path):
    from test_asr_stage import BurstTranscriber, _bursts

    from voicetrainer.session.grader import GradeOptions, grade

    wav = tmp_path / "t.wav"
    sf.write(wav, _bursts([0.5, 1.0, 1.5, 5.5, 6.0], 8.0), 16_000)
    report = grade(wav, GradeOptions(), transcriber=BurstTranscriber())
    m = Metrics.from_dict(report.metrics)
    assert m.extra == {}, m.extra  # every key the grader writes is a typed field
    assert m.trainee_words == 5 and m.long_silences and m.long_silences[0]["duration_s"] >= 3.0
    assert np.isfinite(m.longest_silence_s)
