"""`voicetrainer grade`: exit codes, one-line errors, batches with a bad file, --json, mono input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.cli import main

REPO = Path(__file__).resolve().parents[1]
REPORT_KEYS = {"schema", "duration_s", "turns", "interruptions", "metrics", "skills", "overall", "latency"}
METRIC_KEYS = {"trainee_wpm", "talk_ratio", "mean_response_gap_s", "longest_silence_s",
               "interruptions_by_trainee", "filler_rate", "calm"}


def make_bad(kind: str, d: Path, speech: np.ndarray) -> Path:
    p = d / f"{kind}.wav"
    if kind == "zero_byte":
        p.write_bytes(b"")
    elif kind == "header_only":
        sf.write(p, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
    elif kind == "truncated":
        sf.write(p, speech, 16000, subtype="PCM_16")
        os.truncate(p, 44 + len(speech))  # half of the 16-bit samples
    elif kind == "not_audio":
        p.write_text("minutes of the team meeting\n" * 100)
    elif kind == "silence_only":
        sf.write(p, np.zeros(16000 * 5, np.float32), 16000, subtype="PCM_16")
    elif kind == "noise_only":  # steady room noise: no speech, and Whisper must not be asked
        sf.write(p, (np.random.default_rng(5).standard_normal(16000 * 8) * 0.01).astype(np.float32), 16000)
    return p  # "missing": never written


BAD = {  # kind -> words the one-line message must contain
    "missing": "not found",
    "zero_byte": "empty",
    "header_only": "no audio samples",
    "truncated": "truncated",
    "not_audio": "not a readable audio file",
    "silence_only": "no trainee speech",
    "noise_only": "no trainee speech",
}


@pytest.fixture(scope="module")
def speech(signals) -> np.ndarray:
    """3 s of speech-like sound (the bad-input cases need no real speech)."""
    return signals.voice(3.0)


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_exit_2_one_line_naming_file_and_reason(kind, speech, tmp_path, no_history, capsys, transcriber):
    path = make_bad(kind, tmp_path, speech)
    code = main(["grade", str(path), "--out", str(tmp_path / "out"), "--no-history", "--no-html"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert str(path) in lines[0] and BAD[kind] in lines[0], lines[0]
    if kind == "truncated":
        assert "96000 bytes of audio, only 48000 (50%)" in lines[0]
    assert "Traceback" not in err


def test_batch_with_bad_files_grades_the_others_exit_2_and_writes_summary(shared_audio, speech, tmp_path):
    """The real command in a subprocess: one good file, two bad ones."""
    good = shared_audio / "speech" / "librivox_0930.wav"
    missing = make_bad("missing", tmp_path, speech)
    silent = make_bad("silence_only", tmp_path, speech)
    out = tmp_path / "reports"
    env = {**os.environ, "VOICETRAINER_DATA": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "voicetrainer", "grade", "-q", str(good), str(missing), str(silent),
         "--out", str(out), "--no-history", "--no-html"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and str(missing) in lines[0] + lines[1] and str(silent) in lines[0] + lines[1], lines
    with (out / "summary.csv").open() as f:
        rows = {r["input"]: r for r in csv.DictReader(f)}
    assert rows[str(good)]["status"] == "ok" and float(rows[str(good)]["trainee_wpm"]) > 100
    assert rows[str(missing)]["status"] == "error" and "not found" in rows[str(missing)]["error"]
    assert rows[str(silent)]["status"] == "error"
    assert (out / rows[str(good)]["report"]).exists()


def test_batch_with_two_jobs_grades_like_one_job(shared_audio, tmp_path):
    """--jobs 2 (worker processes sharing the cores) gives the same results as one process,
    every file once in summary.csv, a report per file and the batch index page."""
    files = [shared_audio / "speech" / f"librivox_{n}.wav" for n in ("0870", "0920", "0930")]
    env = {**os.environ, "VOICETRAINER_DATA": str(tmp_path / "data")}
    rows = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        proc = subprocess.run(
            [sys.executable, "-m", "voicetrainer", "grade", "-q", *map(str, files), "--out", str(out),
             "--no-history", "--jobs", str(jobs)],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        with (out / "summary.csv").open() as f:
            rows[jobs] = {r["input"]: r for r in csv.DictReader(f)}
        assert sorted(rows[jobs]) == sorted(map(str, files))
        assert all((out / r["report"]).exists() and r["status"] == "ok" for r in rows[jobs].values())
        assert (out / "index.html").exists()
    for f in map(str, files):
        assert rows[2][f]["trainee_wpm"] == rows[1][f]["trainee_wpm"]
        assert rows[2][f]["overall"] == rows[1][f]["overall"]


@pytest.fixture(scope="module")
def call_json(evaluation, shared_audio, transcriber, tmp_path_factory):
    """--json on a constructed two-channel call (1.0 s barge-in, 0.8 s response gap)."""
    d = tmp_path_factory.mktemp("cli_call")
    audio, truth = evaluation.build_call(shared_audio, gap_s=0.8, overlap_s=1.0)
    path = evaluation.write_wav(d / "call.wav", audio)
    return _grade_json(path, d), truth


def _grade_json(path: Path, d: Path) -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    old = os.environ.get("VOICETRAINER_DATA")
    os.environ["VOICETRAINER_DATA"] = str(d / "data")
    try:
        with contextlib.redirect_stdout(buf):
            code = main(["grade", str(path), "--json", "--out", str(d / "out"), "--no-history", "--no-html"])
    finally:
        if old is None:
            os.environ.pop("VOICETRAINER_DATA", None)
        else:
            os.environ["VOICETRAINER_DATA"] = old
    assert code == 0
    return json.loads(buf.getvalue())


def test_json_prints_the_report_with_the_contract_keys(call_json):
    report, truth = call_json
    assert report["schema"] == "voicetrainer.report/1"
    assert REPORT_KEYS <= set(report)
    assert METRIC_KEYS <= set(report["metrics"])
    assert {"score", "pitch_median_hz", "pitch_sd_semitones", "loudness_dbfs"} <= set(report["metrics"]["calm"])
    for t in report["turns"]:
        assert t["speaker"] in ("caller", "trainee") and t["start_s"] <= t["end_s"]
        assert all({"word", "start_s", "end_s"} <= set(w) for w in t["words"])
    inter = [i for i in report["interruptions"] if i["kind"] == "interruption"]
    assert len(inter) == 1 and inter[0]["by"] == "trainee"
    assert inter[0]["overlap_s"] == pytest.approx(1.0, abs=0.15)
    assert report["metrics"]["interruptions_by_trainee"] == 1
    assert report["metrics"]["mean_response_gap_s"] == pytest.approx(0.8, abs=0.15)
    assert truth.trainee_turns[-1][1] < report["duration_s"] < truth.trainee_turns[-1][1] + 1.5


def test_mono_wav_report_says_interruption_metrics_are_absent(shared_audio, tmp_path):
    report = _grade_json(shared_audio / "speech" / "librivox_0930.wav", tmp_path)
    m = report["metrics"]
    assert report["source"]["mode"] == "trainee-only"
    assert m["interruptions_by_trainee"] is None and m["talk_ratio"] is None and m["mean_response_gap_s"] is None
    assert report["interruptions"] == []
    assert any("interruption" in w for w in report["warnings"]), report["warnings"]
    assert m["trainee_wpm"] > 100 and m["trainee_words"] == 8


def test_json_with_two_inputs_is_refused(tmp_path, capsys, no_history):
    code = main(["grade", "a.wav", "b.wav", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and "exactly one INPUT" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["grade", "x.wav"], ["recover"], ["practice"], ["demo"], ["calm", "drill"]])
def test_every_recording_command_takes_the_same_history_options(command):
    """--db FILE and --no-history mean the same on every command that writes the history."""
    from voicetrainer.cli import build_parser
    from voicetrainer.cli._common import history_db

    parser = build_parser()
    assert history_db(parser.parse_args(command)) == ""  # the default database
    assert history_db(parser.parse_args(command + ["--db", "h.sqlite"])) == "h.sqlite"
    assert history_db(parser.parse_args(command + ["--no-history"])) is None
