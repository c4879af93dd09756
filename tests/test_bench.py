"""scripts/bench.py keeps working: its tiny mode runs every section on seconds of audio.

No timing assertions (the machine is shared): only that each section reports the keys the
README table is made from, with values of the right kind and range.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VOICETRAINER_SHARED", REPO.parent / "shared" / "audio"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "speech" / "jfk.wav").exists(), reason=f"no shared speech clips in {SHARED}"),
]


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> dict:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
    env.setdefault("MPLCONFIGDIR", str(tmp_path_factory.mktemp("mpl")))
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "--tiny", "--json", "--shared", str(SHARED)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_machine_and_mode(tiny_results):
    assert tiny_results["mode"] == "tiny"
    m = tiny_results["machine"]
    assert m["cores"] >= 1 and m["date_utc"] and m["faster_whisper"]


def test_streaming_section(tiny_results):
    s = tiny_results["stream"]
    assert _positive(s["s_per_s_per_channel"]) and s["s_per_s_per_channel"] < 1.0  # faster than real time
    assert 0 < s["frame_p50_ms"] <= s["frame_p99_ms"] <= s["frame_max_ms"]
    assert _positive(s["with_decoding_s_per_s_per_channel"])


def test_grading_section_has_naive_ratio(tiny_results):
    g = tiny_results["grade"]
    row = g["3min"]
    assert _positive(row["ours_s"]) and _positive(row["naive_s"])
    assert row["ratio"] == pytest.approx(row["ours_s"] / row["naive_s"])
    assert _positive(row["cpu_ratio"]) and _positive(row["paired_ratio"])
    # both ways hear the same speech: the word counts are of the same order
    assert row["ours_words"] > 0 and row["naive_words"] > 0
    assert 0.5 < row["ours_words"] / row["naive_words"] < 2.0


def test_quick_alternative_section_has_the_side_by_side_ratio(tiny_results):
    q = tiny_results["quick"]
    assert _positive(q["ours_s"]) and _positive(q["quick_s"]) and _positive(q["ratio"])
    assert q["goal_ratio"] == 0.7 and len(q["paired_ratios"]) == len(q["ours_runs"]) == len(q["quick_runs"])
    assert q["ours_words"] > 0 and 0.5 < q["ours_words"] / max(1, q["quick_words"]) < 2.0


def test_throughput_section_in_audio_hours_per_hour(tiny_results):
    t = tiny_results["throughput"]
    assert {"jobs 1", "jobs 2"} <= set(t["rows"]) and any(k.startswith("auto") for k in t["rows"])
    assert all(_positive(v["audio_h_per_h"]) for k, v in t["rows"].items() if "wall_s" in v)


def test_latency_section_present(tiny_results):
    lat = tiny_results["latency"]
    assert "available" in lat
    if lat["available"] and not lat.get("skipped"):
        assert lat["reply_p50_s"] is None or lat["reply_p50_s"] >= 0


def test_rss_section(tiny_results):
    r = tiny_results["rss"]
    for label in ("1h", "2h"):
        assert r[label]["exit"] == 0, r[label].get("stderr")
        assert 50 < r[label]["peak_rss_mb"] < 4000
    assert _positive(r["growth_ratio"])


def test_pitch_accuracy_section(tiny_results):
    p = tiny_results["pitch"]
    assert p["clips"] >= 1 and p["voiced_both_frames"] > 50
    assert 0.0 <= p["gross_pitch_error"] <= 1.0


# ----------------------------------------------------------------------------- packed ASR jobs
# (offline grading packs each channel's speech into ~28 s recogniser jobs; words come back on
# the session clock)


def test_packed_job_maps_words_back_to_session_time():
    import numpy as np

    from voicetrainer.report.schema import Word
    from voicetrainer.session.pipeline import AsrJob

    # two pieces: 0-2 s of the job = session 10-12 s; 2.3-3.3 s of the job = session 50-51 s
    job = AsrJob("trainee", 10.0, np.zeros(int(3.3 * 16000), np.float32), pieces=((0.0, 10.0, 2.0), (2.3, 50.0, 1.0)))
    words = [Word("a", 0.5, 0.9), Word("b", 1.8, 2.1), Word("c", 2.25, 2.6), Word("d", 3.0, 3.5)]
    out = job.to_session(words)
    assert [(w.word, w.start_s, w.end_s) for w in out] == [
        ("a", 10.5, 10.9), ("b", 11.8, 12.0), ("c", 50.0, 50.3), ("d", 50.7, 51.0),
    ]
    assert job.end_s == 51.0
    assert AsrJob("x", 5.0, np.zeros(16000, np.float32)).end_s == 6.0


def test_channel_analyzer_packs_speech_into_few_jobs():
    import numpy as np

    from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
    from voicetrainer.session.pipeline import ChannelAnalyzer

    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE * 60) / SAMPLE_RATE
    y = (rng.normal(0, 1e-3, len(t))).astype(np.float32)
    bursts = [(2.0 + 5.0 * k, 3.5 + 5.0 * k) for k in range(11)]  # 1.5 s "speech" every 5 s
    for a, b in bursts:
        m = (t >= a) & (t < b)
        y[m] += (0.3 * np.sin(2 * np.pi * 180 * t[m])).astype(np.float32)

    def jobs(**kw):
        ch = ChannelAnalyzer("trainee", merge_asr_s=1.5, **kw)
        out = []
        for i in range(len(y) // FRAME_SAMPLES):
            out += ch.push(y[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], i).jobs
        out += ch.flush().jobs
        return out

    single = jobs()
    packed = jobs(pack_s=28.0)
    assert len(single) == len(bursts)
    assert 1 <= len(packed) < len(single)
    pieces = [p for j in packed for p in j.pieces]
    assert len(pieces) == len(bursts)
    for (off, start, dur), (a, b) in zip(pieces, bursts):
        assert start <= a and start + dur >= b - 0.05  # each burst is inside its piece
    for j in packed:
        assert len(j.audio) / SAMPLE_RATE <= 28.0 + 1e-6


def test_caller_voice_section_times_both_engines(tiny_results):
    v = tiny_results["voice"]
    for engine in ("espeak", "piper"):
        assert _positive(v[engine]["render_s_per_line"]) and _positive(v[engine]["first_line_s"])
