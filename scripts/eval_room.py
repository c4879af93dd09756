"""Real rooms: the constructed two-channel calls of evaluate.py under crosstalk, babble, noise.

    python scripts/eval_room.py [--shared DIR] [--json] [--conditions clean,xtalk-20,...]

Every condition takes the same five calls (`build_room_call`: one per ``evaluate.CALL_LAYOUTS``
entry, real LibriVox speech with known word bounds, a placed response gap, a trainee barge-in
and sometimes a backchannel; the five aligned clips take turns as caller and trainee) and
degrades them:

- ``xtalk-30`` / ``xtalk-20``: the caller channel leaks into the trainee mic at -30 / -20 dB,
  delayed 5-20 ms (a different delay per call) and slightly low-passed, as a headset does;
- ``babble15`` / ``babble5``: office babble on the trainee channel, 15 / 5 dB below the
  trainee's speech (RMS over their true speech); babble = five streams of *other* speech
  clips (jfk, LibriVox 0890, the diarization pair, the command clips) mixed together;
- ``noise10``: stationary pink noise at 10 dB SNR on the trainee channel;
- ``quiet``: the trainee mic 24 dB quieter (signal and noise bed);
- ``telephone``: both channels through an 8 kHz telephone channel (300-3400 Hz, u-law),
  back at 16 kHz;
- ``clipped``: the trainee channel driven 12 dB into clipping.

Per condition it prints trainee WER, trainee interruptions precision / recall (a detected
trainee interruption is right when it starts within 0.6 s of the placed barge-in), false
trainee turns (turns that touch no true trainee speech), false caller interruptions (the
calls have none), the longest trainee turn against the longest true one, the response-gap
error (mean, signed) and the WPM error (trainee words / speaking time against the same
figure from the alignment).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate as ev  # noqa: E402  (the call builder and the WER of evaluate.py)

SR = ev.SR
BABBLE_CLIPS = ("jfk", "stereo_diarization_left", "stereo_diarization_right",
                "goforward", "one_two_three", "cards_005")  # never the clips the calls are made of
BABBLE_STREAMS = 5
XTALK_DELAYS_MS = (5.0, 10.0, 15.0, 20.0, 12.0)  # one per call layout
HIT_TOLERANCE_S = 0.6  # a detected barge-in this close to the placed one is a hit
CONDITIONS = ("clean", "xtalk-30", "xtalk-20", "babble15", "babble5", "noise10", "quiet", "telephone", "clipped")


@dataclass
class RoomRow:
    condition: str
    calls: int
    wer: float
    int_precision: float | None
    int_recall: float
    false_trainee_turns: int
    false_caller_interruptions: int
    empty_trainee_turns: int
    longest_turn_s: float
    longest_true_turn_s: float
    gap_error_s: float | None
    wpm_error_pct: float | None


# ----------------------------------------------------------------------------- degradations

def _speech_rms(x: np.ndarray, spans: list[tuple[float, float]]) -> float:
    parts = [x[int(a * SR) : int(b * SR)] for a, b in spans]
    return float(np.sqrt(np.mean(np.concatenate(parts) ** 2)))


def babble(shared: Path, n: int, seed: int) -> np.ndarray:
    """`n` samples of several talkers at once (each stream: the babble clips in a shuffled order)."""
    rng = np.random.default_rng(seed)
    clips = [ev.read_mono(shared / "speech" / f"{c}.wav") for c in BABBLE_CLIPS]
    clips = [c / (np.sqrt(np.mean(c ** 2)) + 1e-9) for c in clips]
    out = np.zeros(n, dtype=np.float64)
    for _ in range(BABBLE_STREAMS):
        order = rng.permutation(len(clips))
        stream = np.concatenate([clips[i] for i in order] * (1 + n // sum(len(c) for c in clips)))
        start = int(rng.integers(0, len(stream) - n))
        out += stream[start : start + n]
    return (out / np.sqrt(np.mean(out ** 2))).astype(np.float32)


def pink(n: int, seed: int) -> np.ndarray:
    """Unit-RMS pink noise (1/f power), `n` samples."""
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return (y / np.sqrt(np.mean(y ** 2))).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """8 kHz telephone channel: 300-3400 Hz band, u-law, back to 16 kHz."""
    import soxr
    from scipy.signal import butter, sosfilt

    y = soxr.resample(x, SR, 8000)
    y = sosfilt(butter(4, [300, 3400], btype="band", fs=8000, output="sos"), y)
    mu = 255.0
    q = np.round(np.sign(y) * np.log1p(mu * np.minimum(np.abs(y), 1)) / np.log1p(mu) * 127) / 127
    y = np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu
    return soxr.resample(y.astype(np.float32), 8000, SR)[: len(x)].astype(np.float32)


def degrade(audio: np.ndarray, truth: ev.CallTruth, condition: str, shared: Path, k: int) -> np.ndarray:
    """The call `audio` [shape=(n, 2)] (0 caller, 1 trainee) under `condition`; `k` = call index."""
    from scipy.signal import butter, sosfilt

    y = audio.copy()
    caller, trainee = y[:, 0], y[:, 1]
    speech = truth.trainee_turns
    if condition.startswith("xtalk"):
        level_db = float(condition[len("xtalk"):])
        d = int(XTALK_DELAYS_MS[k % len(XTALK_DELAYS_MS)] * SR / 1000)
        leak = np.concatenate([np.zeros(d, np.float32), caller[:-d]])
        leak = sosfilt(butter(2, 3000, fs=SR, output="sos"), leak).astype(np.float32)
        trainee += leak * 10 ** (level_db / 20)
    elif condition.startswith("babble"):
        snr = float(condition[len("babble"):])
        trainee += babble(shared, len(trainee), seed=k) * _speech_rms(trainee, speech) * 10 ** (-snr / 20)
    elif condition.startswith("noise"):
        snr = float(condition[len("noise"):])
        trainee += pink(len(trainee), seed=k) * _speech_rms(trainee, speech) * 10 ** (-snr / 20)
    elif condition == "quiet":
        trainee *= 10 ** (-24 / 20)
    elif condition == "telephone":
        y = np.stack([telephone(caller), telephone(trainee)], axis=1)
    elif condition == "clipped":
        y[:, 1] = np.clip(trainee * 10 ** (12 / 20), -1.0, 1.0)
    elif condition != "clean":
        raise ValueError(f"unknown condition {condition!r}")
    return y


# ----------------------------------------------------------------------------- calls

ROOM_CLIPS = ("0870", "0880", "0890", "0920", "0930")  # the aligned LibriVox clips


def room_clips(k: int) -> tuple[str, str, str, str]:
    """(caller 1, trainee 1, caller 2, trainee 2) clips of call `k`: every clip is a trainee
    answer in two of the five calls, so no one clip's recognition counts five times (with the
    same two trainee clips in every call, tiny.en's one mishearing of "ill disposed" was 10 of
    the clean set's 86 words)."""
    n = len(ROOM_CLIPS)
    return tuple(f"librivox_{ROOM_CLIPS[(k + i) % n]}" for i in (0, 1, 2, 3))


@dataclass
class RoomCall:
    audio: np.ndarray  # [shape=(n, 2)] 0 caller, 1 trainee
    truth: "ev.CallTruth"
    trainee_words: list[tuple[float, list]]  # (speech start in the call, the aligned words) per trainee utterance


def build_room_call(shared: Path, k: int) -> RoomCall:
    """Call `k` of the room set: the layout of ``evaluate.CALL_LAYOUTS[k]`` (response gap,
    barge-in overlap, backchannel) with the clips of `room_clips`."""
    gap_s, overlap_s, backchannel = ev.CALL_LAYOUTS[k % len(ev.CALL_LAYOUTS)]
    c1n, t1n, c2n, t2n = room_clips(k)
    b = ev.CallBuilder(shared)
    t = b.truth
    c1 = b.place(0, c1n, 0.6)
    tr1 = b.place(1, t1n, c1[1] + gap_s)
    c2 = b.place(0, c2n, tr1[1] + 1.0)
    tr2 = b.place(1, t2n, max(c2[1] - overlap_s, c2[0] + 0.5))
    t.caller_turns, t.trainee_turns = [c1, c2], [tr1, tr2]
    t.gap_s, t.overlap_s = gap_s, c2[1] - tr2[0]
    words = [(tr1[0], _truth_words(shared, t1n)), (tr2[0], _truth_words(shared, t2n))]
    if backchannel:  # "he was not", in the middle of the caller's first turn
        t.backchannels.append(b.place(1, "librivox_0880", c1[0] + 2.5, words=slice(0, 3)))
        words.append((t.backchannels[0][0], _truth_words(shared, "librivox_0880", slice(0, 3))))
    return RoomCall(b.render(seed=k), t, sorted(words, key=lambda p: p[0]))


# ----------------------------------------------------------------------------- scoring

def _truth_words(shared: Path, name: str, words: slice = slice(None)) -> list:
    return ev.aligned_words(shared / "speech" / f"{name}.align.json")[words]


def truth_text(call: RoomCall) -> tuple[str, int, float]:
    """Reference text of the trainee in time order, its word count and speaking seconds."""
    words = [w.word for _, ws in call.trainee_words for w in ws]
    speaking = sum(ws[-1].end_s - ws[0].start_s for _, ws in call.trainee_words)
    return " ".join(words), len(words), speaking


def score_call(report, call: RoomCall) -> dict:
    truth = call.truth
    trainee = [t for t in report.turns if t.speaker == "trainee"]
    true_spans = truth.trainee_turns + truth.backchannels
    ref, n_words, speaking = truth_text(call)
    hyp = " ".join(t.text for t in trainee)
    false_turns = sum(1 for t in trainee if not any(t.start_s < b and t.end_s > a for a, b in true_spans))
    inter = [i for i in report.interruptions if i.kind == "interruption"]
    by_trainee = [i for i in inter if i.by == "trainee"]
    barge = truth.trainee_turns[1][0]
    hits = sum(1 for i in by_trainee if abs(i.start_s - barge) <= HIT_TOLERANCE_S)
    gaps = report.metrics.get("response_gaps") or []
    first_gap = next((g["gap_s"] for g in gaps if abs(g["t_s"] - truth.trainee_turns[0][0]) < 0.6), None)
    wpm = report.metrics.get("trainee_wpm")
    true_wpm = n_words / speaking * 60
    return {
        "errors": ev.edit_distance(ev.normalise(ref), ev.normalise(hyp)), "ref_words": len(ev.normalise(ref)),
        "detected": len(by_trainee), "hits": min(hits, 1), "false_turns": false_turns,
        "false_caller": sum(1 for i in inter if i.by == "caller"),
        "empty": sum(1 for t in trainee if not t.text.strip() and any(t.start_s < b and t.end_s > a for a, b in true_spans)),
        "longest_s": max((t.end_s - t.start_s for t in trainee), default=0.0),
        "longest_true_s": max(b - a for a, b in true_spans),
        "gap_error_s": None if first_gap is None else first_gap - truth.gap_s,
        "wpm_error_pct": None if not wpm else 100 * (wpm - true_wpm) / true_wpm,
    }


def eval_condition(condition: str, shared: Path, transcriber, tmp: Path) -> RoomRow:
    calls = []
    for k in range(len(ev.CALL_LAYOUTS)):
        call = build_room_call(shared, k)
        audio = np.clip(degrade(call.audio, call.truth, condition, shared, k), -1, 1)
        path = ev.write_wav(tmp / f"room_{condition}_{k}.wav", audio)
        calls.append(score_call(ev._grade(path, transcriber), call))
    detected = sum(c["detected"] for c in calls)
    gaps = [c["gap_error_s"] for c in calls if c["gap_error_s"] is not None]
    wpms = [c["wpm_error_pct"] for c in calls if c["wpm_error_pct"] is not None]
    return RoomRow(
        condition=condition, calls=len(calls),
        wer=round(sum(c["errors"] for c in calls) / sum(c["ref_words"] for c in calls), 3),
        int_precision=round(sum(c["hits"] for c in calls) / detected, 2) if detected else None,
        int_recall=round(sum(c["hits"] for c in calls) / len(calls), 2),
        false_trainee_turns=sum(c["false_turns"] for c in calls),
        false_caller_interruptions=sum(c["false_caller"] for c in calls),
        empty_trainee_turns=sum(c["empty"] for c in calls),
        longest_turn_s=round(max(c["longest_s"] for c in calls), 2),
        longest_true_turn_s=round(max(c["longest_true_s"] for c in calls), 2),
        gap_error_s=round(float(np.mean(gaps)), 3) if gaps else None,
        wpm_error_pct=round(float(np.mean(wpms)), 1) if wpms else None,
    )


def eval_room(shared: Path, transcriber, conditions=CONDITIONS) -> list[RoomRow]:
    with tempfile.TemporaryDirectory(prefix="vt-room-") as tmp:
        return [eval_condition(c, shared, transcriber, Path(tmp)) for c in conditions]


def markdown(rows: list[RoomRow]) -> str:
    out = ["| condition | trainee WER | trainee interruptions P/R | false trainee turns | false caller interruptions "
           "| longest turn / longest true (s) | gap error (s) | WPM error | empty trainee turns |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = "-" if r.int_precision is None else f"{r.int_precision:.2f}"
        out.append(f"| {r.condition} | {r.wer:.1%} | {p} / {r.int_recall:.2f} | {r.false_trainee_turns} "
                   f"| {r.false_caller_interruptions} | {r.longest_turn_s:.1f} / {r.longest_true_turn_s:.1f} "
                   f"| {r.gap_error_s if r.gap_error_s is not None else '-'} "
                   f"| {'-' if r.wpm_error_pct is None else f'{r.wpm_error_pct:+.1f}%'} | {r.empty_trainee_turns} |")
    return "\n".join(out)


def grading_transcriber():
    """The recogniser `voicetrainer grade` uses (encoder window = the packed speech)."""
    from voicetrainer.config import Settings
    from voicetrainer.session.batch import _get_transcriber

    return _get_transcriber(Settings())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", help="shared audio folder (default: $VOICETRAINER_SHARED or ../shared/audio)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    args = ap.parse_args(argv)
    shared = ev.shared_audio_dir(args.shared)
    rows = eval_room(shared, grading_transcriber(), [c for c in args.conditions.split(",") if c])
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
