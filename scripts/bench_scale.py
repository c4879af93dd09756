"""Sections of scripts/bench.py for grading at scale (imported by bench.py):

(q) `voicetrainer grade` against the quick alternative (scripts/quick_grader.py: faster-whisper's
    BatchedInferencePipeline, batch 8, beam 1, word timestamps, on each channel + librosa.yin)
    on the same 3-minute two-channel call: each a fresh process, so Python start, imports and the
    model load count on both sides; run alternately, `--repeat` times; ratio = ours / quick.
(t) batch throughput in audio hours per hour of wall time: `voicetrainer grade` on a batch of
    calls with --jobs 1, 2 and the default (auto), and with --scheduler on a loopback Dask
    cluster of 2 worker processes (started here; its start-up is not counted, the model load in
    the workers is).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_QUICK_RATIO = 0.7  # (q) ours <= 0.7 x the quick alternative's time


def _env(tmp: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), VOICETRAINER_DATA=str(tmp / "bench-data"),
                MPLCONFIGDIR=os.environ.get("MPLCONFIGDIR", str(tmp / "mpl")))


def _timed(cmd: list[str], env: dict, cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {proc.stderr[-1500:]}")
    return wall


def bench_quick(call: Path, tmp: Path, repeat: int, *, warm: bool = True) -> dict:
    """(q) `voicetrainer grade CALL` (report.json + report.html, no history) vs quick_grader.py."""
    env = _env(tmp)
    ours_cmd = [sys.executable, "-m", "voicetrainer", "grade", "-q", str(call), "--out", str(tmp / "q-out"),
                "--no-history"]
    quick_cmd = [sys.executable, str(REPO / "scripts" / "quick_grader.py"), str(call), "--json"]
    if warm:
        _timed(quick_cmd, env, tmp)  # warm the file cache and librosa's numba cache for both
    ours, quick = [], []
    for _ in range(repeat):  # alternately, so a change in the machine's load hits both sides
        ours.append(_timed(ours_cmd, env, tmp))
        quick.append(_timed(quick_cmd, env, tmp))
    paired = [o / q for o, q in zip(ours, quick)]
    out = json.loads(subprocess.run(quick_cmd, env=env, cwd=tmp, capture_output=True, text=True).stdout)
    report = json.loads((tmp / "q-out" / "report.json").read_text())
    return {
        "call_s": out["duration_s"], "ours_s": statistics.median(ours), "quick_s": statistics.median(quick),
        "ours_runs": [round(x, 2) for x in ours], "quick_runs": [round(x, 2) for x in quick],
        "ratio": statistics.median(paired), "paired_ratios": [round(x, 3) for x in paired],
        "ours_words": sum(len(t["words"]) for t in report["turns"]),
        "quick_words": sum(ch["words"] for ch in out["channels"]), "goal_ratio": GOAL_QUICK_RATIO,
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def bench_throughput(calls: list[Path], tmp: Path, *, dask: bool = True) -> dict:
    """(t) audio hours graded per wall-clock hour for a batch of `calls`."""
    import soundfile as sf

    sys.path.insert(0, str(REPO))
    from voicetrainer.session.batch import auto_jobs

    audio_s = sum(sf.info(str(c)).duration for c in calls)
    env = _env(tmp)
    base = [sys.executable, "-m", "voicetrainer", "grade", "-q", *map(str, calls), "--no-history", "--no-html"]
    auto = auto_jobs()
    rows = {}
    for label, extra in (("jobs 1", ["--jobs", "1"]), ("jobs 2", ["--jobs", "2"]), (f"auto ({auto})", [])):
        if label.startswith("auto") and auto in (1, 2):
            rows[label] = dict(rows[f"jobs {auto}"], same_as=f"jobs {auto}")
            continue
        wall = _timed(base + ["--out", str(tmp / f"t-{label[:6].replace(' ', '')}")] + extra, env, tmp)
        rows[label] = {"wall_s": round(wall, 2), "audio_h_per_h": round(audio_s / wall, 1)}
    if dask:
        rows["dask 2 workers"] = _dask_row(base, tmp, env, audio_s)
    return {"calls": len(calls), "audio_s": round(audio_s, 1), "auto_jobs": auto, "cores": os.cpu_count(),
            "rows": rows, "load_avg_1min": round(os.getloadavg()[0], 2)}


def _dask_row(base: list[str], tmp: Path, env: dict, audio_s: float) -> dict:
    try:
        from distributed import LocalCluster
    except ImportError:
        return {"skipped": "dask[distributed] not installed (pip install 'voicetrainer[dask]')"}
    os.environ["PYTHONPATH"] = str(REPO)  # the worker processes import voicetrainer
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        wall = _timed(base + ["--out", str(tmp / "t-dask"), "--scheduler", cluster.scheduler_address], env, tmp)
    return {"wall_s": round(wall, 2), "audio_h_per_h": round(audio_s / wall, 1)}


def print_table(r: dict) -> None:
    if "quick" in r:
        q = r["quick"]
        print(f"(q) vs the quick alternative (scripts/quick_grader.py), {q['call_s']:.0f} s two-channel call, fresh "
              f"processes, model load included: ours {q['ours_s']:.2f} s (runs {q['ours_runs']}, {q['ours_words']} "
              f"words) vs quick {q['quick_s']:.2f} s (runs {q['quick_runs']}, {q['quick_words']} words): ratio "
              f"{q['ratio']:.3f} (paired {q['paired_ratios']}; goal <= {q['goal_ratio']}; load avg {q['load_avg_1min']})")
    if "throughput" in r:
        t = r["throughput"]
        cells = [f"{k}: {v['audio_h_per_h']} h/h ({v['wall_s']} s)" if "wall_s" in v else f"{k}: {v.get('skipped')}"
                 for k, v in t["rows"].items()]
        print(f"(t) batch throughput, {t['calls']} calls, {t['audio_s'] / 60:.0f} min of audio, audio hours per hour: "
              + "; ".join(cells) + f" (load avg {t['load_avg_1min']})")


def markdown_rows(r: dict) -> list[str]:
    rows = []
    if "quick" in r:
        q = r["quick"]
        rows.append(f"| `voicetrainer grade` vs the quick alternative (`scripts/quick_grader.py`: batched Whisper, beam 1, "
                    f"word timestamps + librosa.yin), {q['call_s'] / 60:.0f}-min two-channel call, each a fresh process, "
                    f"model load included | {q['ours_s']:.1f} s vs {q['quick_s']:.1f} s: ratio {q['ratio']:.2f} | "
                    f"<= {q['goal_ratio']} |")
    if "throughput" in r:
        t = r["throughput"]
        cells = [f"{k} {v['audio_h_per_h']:.0f}" for k, v in t["rows"].items() if "audio_h_per_h" in v]
        rows.append(f"| Batch throughput ({t['calls']} calls, {t['audio_s'] / 60:.0f} min of audio), audio hours graded "
                    f"per hour | {'; '.join(cells)} | - |")
    return rows
