#!/usr/bin/env python3
"""Soak test (not in CI): a 30-minute simulated practice session on an accelerated clock.

Fake streams stand in for the headset: a `FakeInputStream` loops trainee speech into
`MicSource` (paced at `--speed` times real time, so its callback thread, bounded queue and
watchdog run as in a live call), and a `FakeOutputStream` plays the caller track. The consumer
does what live practice does per frame: caller + microphone -> `SessionRecorder` (durable
call.wav) -> `CallAnalyzer` (VAD, turns, voice; ASR with --asr). Every simulated minute it logs
queue depth, RSS, dropped blocks, overflows and underflows; at the end the recording is graded
offline to check it is whole and readable.

    .venv/bin/python scripts/soak.py                 # 30 min at 30x: about a minute
    .venv/bin/python scripts/soak.py --minutes 5 --speed 10 --asr --overflow-every 500
    .venv/bin/python scripts/soak.py --batch 500 --jobs 2   # batch case: 500 small files, summary

The batch case writes N short calls (1-3 s of speech-like sound in room noise; half of them in
two folders with the same file names, so report folders must be told apart), grades them with
`voicetrainer grade --jobs J` in a subprocess and checks it finishes with one summary row and
one report per file (#17: the old pool hung after 2 x 20 files).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voicetrainer.audio.fakes import input_factory, output_factory  # noqa: E402
from voicetrainer.audio.recorder import SessionRecorder  # noqa: E402
from voicetrainer.audio.sources import MicSource  # noqa: E402
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, Settings  # noqa: E402
from voicetrainer.session.analyzer import CallAnalyzer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPEECH = Path(os.environ.get("VOICETRAINER_SHARED", REPO.parent / "shared" / "audio")) / "speech"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tracks(period_s: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """One `period_s` cycle of the call: the caller speaks, then the trainee answers (mono, 16 kHz)."""
    caller_clip, _ = sf.read(SPEECH / "librivox_0870.wav", dtype="float32")
    trainee_clip, _ = sf.read(SPEECH / "jfk.wav", dtype="float32")
    n = int(period_s * SAMPLE_RATE)
    caller, trainee = np.zeros(n, np.float32), np.zeros(n, np.float32)
    caller[: len(caller_clip)] = caller_clip
    start = len(caller_clip) + int(0.8 * SAMPLE_RATE)
    trainee[start : start + len(trainee_clip)] = trainee_clip[: n - start]
    rng = np.random.default_rng(0)
    trainee += (rng.standard_normal(n) * 10 ** (-62 / 20)).astype(np.float32)  # room noise
    return caller, trainee


def warm_up(caller: np.ndarray, trainee: np.ndarray, transcriber) -> None:
    """Run 10 s through a throwaway analyzer first, as live practice does before the call starts
    (first-call costs: imports, buffers, the model), so the soak measures the steady state."""
    from voicetrainer.audio.frames import Frame

    n = 10 * SAMPLE_RATE // FRAME_SAMPLES
    with CallAnalyzer(Settings(), {"caller": 0, "trainee": 1}, transcriber=transcriber) as an:
        for k in range(n):
            sl = slice(k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES)
            an.push(Frame(np.stack([caller[sl], trainee[sl]], axis=1), k * 0.02, k))
        an.finish()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="simulated call length")
    ap.add_argument("--speed", type=float, default=30.0, help="clock acceleration (1 = real time)")
    ap.add_argument("--asr", action="store_true", help="run the real recogniser (lower --speed)")
    ap.add_argument("--overflow-every", type=int, default=None, help="inject an input overflow every N blocks")
    ap.add_argument("--underflow-every", type=int, default=None, help="inject an output underflow every N blocks")
    ap.add_argument("--queue-blocks", type=int, default=500)
    ap.add_argument("--out", help="session folder (default: a temp folder)")
    ap.add_argument("--log-every-s", type=float, default=60.0, help="simulated seconds between log lines")
    ap.add_argument("--batch", type=int, metavar="N", help="instead: grade N small files as one batch")
    ap.add_argument("--jobs", type=int, default=2, help="--batch: grading processes")
    args = ap.parse_args()
    if args.batch:
        return soak_batch(args.batch, args.jobs, Path(args.out) if args.out else None)

    caller, trainee = tracks()
    period = len(caller)
    total_frames = int(args.minutes * 60 * SAMPLE_RATE / FRAME_SAMPLES)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="voicetrainer-soak-")) / "session"

    transcriber = None
    if args.asr:
        from voicetrainer.session.batch import _get_transcriber

        transcriber = _get_transcriber(Settings())

    # the caller plays through a fake output stream on its own (accelerated) clock
    played = {"pos": 0}
    caller2 = np.concatenate([caller, caller])  # a slice from any offset never needs to wrap

    def play(outdata, frames, time_info, status):
        i = played["pos"] % period
        outdata[:, 0] = caller2[i : i + frames]
        played["pos"] += frames

    warm_up(caller, trainee, transcriber)
    speaker = output_factory(realtime=True, speed=args.speed, underflow_every=args.underflow_every, capture=False)(
        samplerate=SAMPLE_RATE, blocksize=FRAME_SAMPLES, channels=1, callback=play,
    )
    mic_factory = input_factory(trainee, realtime=True, speed=args.speed, at_end="loop",
                                overflow_every=args.overflow_every)
    log_every = int(args.log_every_s * SAMPLE_RATE / FRAME_SAMPLES)
    rows = []
    max_depth = 0
    t0 = time.monotonic()
    rss0 = rss_mb()
    print(f"soak: {args.minutes:g} min simulated at {args.speed:g}x, asr={'on' if transcriber else 'off'}, "
          f"session {out}", flush=True)
    print(f"{'sim_min':>7} {'wall_s':>7} {'q_now':>5} {'q_max':>5} {'rss_mb':>7} {'dropped':>7} "
          f"{'overflow':>8} {'underflow':>9} {'lag_ms':>7} {'worst_ms':>9} {'fsync_ms':>8}", flush=True)
    speaker.start()
    with SessionRecorder(out, meta={"persona": "soak", "trainee": "soak"}) as rec, \
            MicSource(stream_factory=mic_factory, sample_rate=SAMPLE_RATE,
                      queue_blocks=args.queue_blocks) as mic, \
            CallAnalyzer(Settings(), {"caller": 0, "trainee": 1}, transcriber=transcriber,
                         asr_speakers={"trainee"}) as analyzer:
        from voicetrainer.audio.frames import Frame

        worst_step = 0.0
        for k, frame in enumerate(mic):
            step0 = time.monotonic()
            depth = mic._queue.qsize()
            max_depth = max(max_depth, depth)
            i = (k * FRAME_SAMPLES) % period
            both = np.empty((FRAME_SAMPLES, 2), np.float32)
            both[:, 0] = caller2[i : i + FRAME_SAMPLES]
            both[:, 1] = frame.channel(0)
            rec.write(both)
            analyzer.push(Frame(both, frame.start_s, frame.index),
                          speech={"caller": bool(np.any(both[:, 0] != 0))})
            if transcriber is not None:
                analyzer.poll_transcripts()
            worst_step = max(worst_step, time.monotonic() - step0)
            if (k + 1) % log_every == 0 or k + 1 == total_frames:
                wall = time.monotonic() - t0
                sim_s = (k + 1) * FRAME_SAMPLES / SAMPLE_RATE
                lag_ms = (mic_factory.streams[-1].time - sim_s) * 1000  # captured but not yet consumed
                row = dict(sim_min=round(sim_s / 60, 2), wall_s=round(wall, 1), queue_now=depth, queue_max=max_depth,
                           rss_mb=round(rss_mb(), 1), dropped_blocks=mic.stats.dropped_blocks,
                           overflows=mic.stats.overflows, underflows=speaker.underflows_injected, lag_ms=round(lag_ms),
                           worst_frame_ms=round(worst_step * 1000, 1), max_fsync_ms=round(rec.max_fsync_s * 1000))
                rows.append(row)
                worst_step = 0.0
                print(f"{row['sim_min']:7.1f} {row['wall_s']:7.1f} {depth:5d} {max_depth:5d} {row['rss_mb']:7.1f} "
                      f"{row['dropped_blocks']:7d} {row['overflows']:8d} {row['underflows']:9d} {row['lag_ms']:7d} "
                      f"{row['worst_frame_ms']:9.1f} {row['max_fsync_ms']:8d}",
                      flush=True)
            if k + 1 >= total_frames:
                mic.stop()
        result = analyzer.finish()
        rec.close("complete", audio_faults={"input_overflows": mic.stats.overflows,
                                            "dropped_blocks": mic.stats.dropped_blocks,
                                            "output_underflows": speaker.underflows_injected})
    speaker.close()
    wall = time.monotonic() - t0

    summary = {
        "simulated_min": args.minutes, "speed": args.speed, "wall_s": round(wall, 1),
        "rss_start_mb": round(rss0, 1), "rss_end_mb": round(rss_mb(), 1),
        "rss_growth_first_to_last_log_mb": round(rows[-1]["rss_mb"] - rows[0]["rss_mb"], 1) if rows else None,
        "queue_max_blocks": max_depth, "queue_capacity_blocks": args.queue_blocks,
        "dropped_blocks": mic.stats.dropped_blocks, "silence_filled": mic.stats.silence_filled,
        "overflows": mic.stats.overflows, "underflows": speaker.underflows_injected,
        "segments": len(result.segments), "recorded_s": round(sf.info(out / "call.wav").duration, 2),
        "worst_frame_ms": max((r["worst_frame_ms"] for r in rows), default=None),
        "max_fsync_ms": round(rec.max_fsync_s * 1000), "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    from voicetrainer.session.grader import grade

    g0 = time.monotonic()
    try:  # the recording must be whole and gradable offline
        report = grade(out)
        summary["regrade_s"] = round(time.monotonic() - g0, 1)
        summary["regrade_trainee_turns"] = sum(t.speaker == "trainee" for t in report.turns)
    except Exception as e:  # report it with the figures rather than lose them
        summary["regrade_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(summary, indent=2))
    return 0


def soak_batch(n: int, jobs: int, out: Path | None) -> int:
    """Grade `n` small files with `--jobs`; check the summary and every report; print figures."""
    import csv
    import subprocess

    root = out or Path(tempfile.mkdtemp(prefix="voicetrainer-soak-batch-"))
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        folder = root / "in" / ("a" if i % 4 == 0 else "b" if i % 4 == 1 else "c")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"call{i // 4 if i % 4 < 2 else i:04d}.wav"  # folders a and b share their file names
        speech_s = rng.uniform(1.0, 3.0)
        t = np.arange(int(speech_s * SAMPLE_RATE)) / SAMPLE_RATE
        f0 = rng.uniform(100, 220)
        voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8)) * (0.6 + 0.4 * np.cos(2 * np.pi * 4 * t))
        y = (rng.standard_normal(len(t) + SAMPLE_RATE) * 10 ** (-62 / 20)).astype(np.float32)
        y[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + len(t)] += (0.08 * voice).astype(np.float32)
        sf.write(folder / name, y, SAMPLE_RATE, subtype="PCM_16")
        files.append(folder / name)
    reports = root / "reports"
    env = dict(os.environ, PYTHONPATH=str(REPO), VOICETRAINER_DATA=str(root / "data"))
    print(f"soak batch: {n} files, --jobs {jobs}, reports in {reports}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "voicetrainer", "grade", "-q", *map(str, files), "--out", str(reports),
                           "--jobs", str(jobs), "--no-history", "--no-html"], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    rows = list(csv.DictReader((reports / "summary.csv").open())) if (reports / "summary.csv").exists() else []
    ok = [r for r in rows if r["status"] == "ok"]
    folders = {r["report"] for r in ok}
    summary = {
        "files": n, "jobs": jobs, "exit": proc.returncode, "wall_s": round(wall, 1),
        "files_per_s": round(n / wall, 2), "summary_rows": len(rows), "ok": len(ok),
        "errors": len(rows) - len(ok), "distinct_report_folders": len(folders),
        "reports_on_disk": sum((reports / r["report"]).is_file() for r in ok),
        "first_errors": [r["error"] for r in rows if r["status"] != "ok"][:3],
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary, indent=2))
    good = len(rows) == n and len(folders) == len(ok) == summary["reports_on_disk"] and proc.returncode in (0, 2)
    if not good:
        print(proc.stderr[-3000:], file=sys.stderr)
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
