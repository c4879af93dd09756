#!/usr/bin/env python3
"""Accuracy of the analysis core on real speech from ../shared/audio (figures for the README).

    python scripts/evaluate.py [--shared DIR] [--json | --markdown] [--skip-calls] [--skip-asr] [--live-turns]

What it measures (each with the known answer it is compared against):

- WER: every ``speech/`` clip with an exact transcript, graded as a trainee-only recording
  (VAD -> chunks -> faster-whisper), text normalised (case, punctuation, hyphens, "8" = "eight",
  "Mr." = "mister").
- WPM error: ``trainee_wpm`` of each LibriVox clip against the figure from its ``.align.json``
  (words / (last word end - first word start), ``<sil>`` excluded).
- Overlap and response-gap error: two-channel calls built from LibriVox clips whose speech
  bounds are known from their alignments; the trainee answers after a placed gap and later
  talks over the caller for a placed overlap (several lengths); both channels carry a steady
  room-noise bed, and the same calls are re-run (VAD and turns only) at -65 to -45 dBFS noise.
- VAD frame accuracy: speech / non-speech per 10 ms against the RTTM of ``calls/*.wav``.
- Move detector: per-kind precision / recall / F1 and macro F1 over 13 kinds on
  ``../shared/language/moves_dev.jsonl`` and ``tests/data/moves_extra.jsonl`` (scripts/eval_language.py).
- Calm AUC per emotion speaker (TESS OAF, EmoDB 03): one neutral clip per speaker is the
  baseline (left out of the AUC); AUC = P(a neutral clip scores calmer than an angry one).

The clips are read in place; the emotion clips are non-commercial and never copied.
The shared folder is ``$VOICETRAINER_SHARED`` or ``<repo>/../shared/audio``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SR = 16_000  # Hz; every shared clip is 16 kHz mono

# Two-channel call layouts: (gap before the trainee's answer, overlap of the trainee's barge-in,
# a 3-word backchannel during the caller's first turn), in seconds of real speech (alignments).
CALL_LAYOUTS = ((0.8, 1.0, True), (0.4, 0.5, False), (1.5, 1.5, True), (2.5, 0.7, False), (0.2, 2.0, False))
CALL_CLIPS = ("0870", "0880", "0920", "0930")  # LibriVox clips the constructed calls are made of
CUT_PAD_S = 0.1  # clips are cut this long before the first and after the last aligned word
ROOM_NOISE_DBFS = -55.0  # steady noise bed of constructed calls (RMS)


def shared_audio_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The shared audio folder: `explicit`, else ``$VOICETRAINER_SHARED``, else ../shared/audio."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("VOICETRAINER_SHARED")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "audio"


# ----------------------------------------------------------------------------- text

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
        "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}


def number_words(n: int) -> str:
    """0 <= n < 10000 in words ("42" -> "forty two")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    rest = n % 1000
    return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def normalise(text: str) -> list[str]:
    """Words for WER: lower case, no punctuation, hyphens split, digits and "Mr." spelled out."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} " if len(m.group()) <= 4 else m.group(), text)
    words = []
    for w in re.sub(r"[^\w' ]+", " ", text).split():
        w = w.strip("'")
        if w:
            words.extend(_ABBREV.get(w, w).split())
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(ref: str, hyp: str) -> float:
    r, h = normalise(ref), normalise(hyp)
    return edit_distance(r, h) / max(1, len(r))


# ----------------------------------------------------------------------------- shared data

def manifest(shared: Path) -> list[dict]:
    with (shared / "MANIFEST.tsv").open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@dataclass(frozen=True)
class AlignedWord:
    word: str
    start_s: float
    end_s: float


def aligned_words(align_json: Path) -> list[AlignedWord]:
    """Words of a LibriVox ``.align.json`` without ``<sil>`` and alternate-pronunciation marks."""
    doc = json.loads(Path(align_json).read_text())
    return [
        AlignedWord(re.sub(r"\(\d+\)$", "", w["t"]), float(w["b"]), float(w["b"]) + float(w["d"]))
        for w in doc["w"] if w["t"] != "<sil>"
    ]


def align_wpm(words: list[AlignedWord]) -> float:
    """Words per minute from an alignment: words / (last word end - first word start)."""
    return len(words) / (words[-1].end_s - words[0].start_s) * 60.0


def read_mono(path: Path) -> np.ndarray:
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != SR:
        raise ValueError(f"{path}: expected {SR} Hz, got {sr} Hz")
    return y.mean(axis=1)


# ----------------------------------------------------------------------------- constructed calls

@dataclass
class CallTruth:
    """Known answers of a constructed two-channel call (times in seconds of the call)."""

    caller_turns: list[tuple[float, float]] = field(default_factory=list)  # speech bounds
    trainee_turns: list[tuple[float, float]] = field(default_factory=list)
    gap_s: float = 0.0  # trainee's first answer starts this long after the caller's first turn
    overlap_s: float = 0.0  # trainee's second turn starts this long before the caller stops
    backchannels: list[tuple[float, float]] = field(default_factory=list)


class CallBuilder:
    """Places real clips on a two-channel timeline by their *speech* bounds (from alignments).

    Channel 0 is the caller, channel 1 the trainee (the grade CLI's default layout).
    """

    def __init__(self, shared: Path):
        self.shared = shared
        self.parts: list[tuple[int, int, np.ndarray]] = []  # (channel, start sample, audio)
        self.truth = CallTruth()

    def clip(self, name: str) -> tuple[np.ndarray, list[AlignedWord]]:
        base = self.shared / "speech" / name
        return read_mono(base.with_suffix(".wav")), aligned_words(base.with_suffix(".align.json"))

    def place(self, channel: int, name: str, speech_start_s: float, *, words: slice = slice(None)) -> tuple[float, float]:
        """Put clip `name` on `channel` so that its first word starts at `speech_start_s`; return
        the speech (start_s, end_s) in the call.

        The clip is cut `CUT_PAD_S` before its first and after its last aligned word (or, with
        `words`, around just those words): the LibriVox clips were cut from a continuous
        audiobook and their ``<sil>`` margins hold breaths and tails of the neighbouring
        sentences, which are not part of the words the alignment times.
        """
        audio, ws = self.clip(name)
        ws = ws[words]
        a = max(0, int(round((ws[0].start_s - CUT_PAD_S) * SR)))
        b = min(len(audio), int(round((ws[-1].end_s + CUT_PAD_S) * SR)))
        offset_s = speech_start_s - (ws[0].start_s - a / SR)
        if offset_s < 0:
            raise ValueError(f"{name} would start before the call does")
        self.parts.append((channel, int(round(offset_s * SR)), audio[a:b] * _fade(b - a)))
        return speech_start_s, speech_start_s + (ws[-1].end_s - ws[0].start_s)

    def render(self, tail_s: float = 1.0, *, noise_dbfs: float | None = ROOM_NOISE_DBFS, seed: int = 0) -> np.ndarray:
        """[shape=(n, 2)] float32; both channels carry a steady room-noise bed at `noise_dbfs`
        (RMS, white, seeded) so that no channel is ever digitally silent, as with a real headset."""
        n = max(start + len(a) for _, start, a in self.parts) + int(tail_s * SR)
        out = np.zeros((n, 2), dtype=np.float32)
        if noise_dbfs is not None:
            out += np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32) * 10 ** (noise_dbfs / 20)
        for ch, start, a in self.parts:
            out[start : start + len(a), ch] += a
        return out


def _fade(n: int, fade: int = 80) -> np.ndarray:
    """Gain ramp of 5 ms at both ends of a cut (no clicks)."""
    g = np.ones(n, dtype=np.float32)
    k = min(fade, n // 2)
    g[:k] = np.linspace(0, 1, k)
    g[n - k :] = np.linspace(1, 0, k)
    return g


def build_call(shared: Path, *, gap_s: float = 0.8, overlap_s: float = 1.0,
               backchannel: bool = False, noise_dbfs: float = ROOM_NOISE_DBFS) -> tuple[np.ndarray, CallTruth]:
    """A caller/trainee call of LibriVox clips with known speech bounds.

    caller 0870 -> trainee answers with 0880 after `gap_s` -> caller 0920 -> trainee talks over
    its last `overlap_s` seconds with 0930. With `backchannel`, the trainee says "he was not"
    (three words, 0.85 s, cut from 0880) in the middle of the caller's first turn.
    """
    b = CallBuilder(shared)
    t = b.truth
    c1 = b.place(0, "librivox_0870", 0.6)
    tr1 = b.place(1, "librivox_0880", c1[1] + gap_s)
    c2 = b.place(0, "librivox_0920", tr1[1] + 1.0)
    tr2 = b.place(1, "librivox_0930", c2[1] - overlap_s)
    t.caller_turns = [c1, c2]
    t.trainee_turns = [tr1, tr2]
    t.gap_s, t.overlap_s = gap_s, overlap_s
    if backchannel:
        t.backchannels.append(b.place(1, "librivox_0880", c1[0] + 2.5, words=slice(0, 3)))
    return b.render(noise_dbfs=noise_dbfs), t


def write_wav(path: Path, audio: np.ndarray) -> Path:
    import soundfile as sf

    sf.write(str(path), audio, SR, subtype="PCM_16")
    return path


# ----------------------------------------------------------------------------- evaluations

def _transcriber():
    from voicetrainer.asr import WhisperTranscriber
    from voicetrainer.config import AsrConfig

    return WhisperTranscriber(AsrConfig())


def _grade(path: Path, transcriber):
    from voicetrainer.session.grader import GradeOptions, grade

    return grade(path, GradeOptions(), transcriber=transcriber)


def eval_asr(shared: Path, transcriber) -> tuple[list[dict], list[dict]]:
    """WER on every transcribed speech clip; WPM error on the aligned ones."""
    wers, wpms = [], []
    for row in manifest(shared):
        if row["kind"] != "asr":
            continue
        path = shared / row["file"]
        report = _grade(path, transcriber)
        hyp = " ".join(t.text for t in report.turns if t.speaker == "trainee")
        ref = row["transcript_or_label"]
        r = normalise(ref)
        wers.append({"file": row["file"], "ref_words": len(r), "errors": edit_distance(r, normalise(hyp)),
                     "wer": round(wer(ref, hyp), 3), "hyp": hyp})
        align = path.with_suffix(".align.json")
        if align.exists():
            truth = align_wpm(aligned_words(align))
            got = report.metrics["trainee_wpm"]
            wpms.append({"file": row["file"], "align_wpm": round(truth, 1), "wpm": got,
                         "error_pct": round(100 * (got - truth) / truth, 1) if got else None})
    return wers, wpms


def eval_calls(shared: Path, transcriber, tmp: Path) -> list[dict]:
    """Overlap and response-gap error on constructed two-channel calls."""
    rows = []
    for gap_s, overlap_s, backchannel in CALL_LAYOUTS:
        audio, truth = build_call(shared, gap_s=gap_s, overlap_s=overlap_s, backchannel=backchannel)
        path = write_wav(tmp / f"call_gap{gap_s}_ov{overlap_s}{'_bc' if backchannel else ''}.wav", audio)
        report = _grade(path, transcriber)
        inter = [i for i in report.interruptions if i.kind == "interruption"]
        gaps = report.metrics["response_gaps"]
        rows.append({
            "call": path.name, "gap_s": gap_s, "overlap_s": overlap_s,
            "interruptions": len(inter), "expected_backchannels": len(truth.backchannels),
            "backchannels": sum(1 for i in report.interruptions if i.kind == "backchannel"),
            "measured_overlap_s": inter[0].overlap_s if len(inter) == 1 else None,
            "overlap_error_s": round(inter[0].overlap_s - overlap_s, 3) if len(inter) == 1 else None,
            "measured_gap_s": gaps[0]["gap_s"] if gaps else None,
            "gap_error_s": round(gaps[0]["gap_s"] - gap_s, 3) if len(gaps) == 1 else None,
            "response_gaps": len(gaps),
        })
    return rows


NOISE_SWEEP_DBFS = (-65.0, -55.0, -50.0, -45.0)


def eval_noise_sweep(shared: Path, tmp: Path) -> list[dict]:
    """The call layouts again, without speech recognition, at several room-noise levels."""
    rows = []
    for noise_dbfs in NOISE_SWEEP_DBFS:
        ov_err, gap_err, one = [], [], 0
        for gap_s, overlap_s, backchannel in CALL_LAYOUTS:
            audio, _ = build_call(shared, gap_s=gap_s, overlap_s=overlap_s, backchannel=backchannel,
                                  noise_dbfs=noise_dbfs)
            report = _grade(write_wav(tmp / "sweep.wav", audio), None)
            inter = [i for i in report.interruptions if i.kind == "interruption"]
            gaps = report.metrics["response_gaps"]
            one += len(inter) == 1 and len(gaps) == 1
            if len(inter) == 1:
                ov_err.append(abs(inter[0].overlap_s - overlap_s))
            if len(gaps) == 1:
                gap_err.append(abs(gaps[0]["gap_s"] - gap_s))
        rows.append({"noise_dbfs": noise_dbfs, "calls": len(CALL_LAYOUTS), "calls_right": one,
                     "max_abs_overlap_error_s": round(max(ov_err), 3) if ov_err else None,
                     "max_abs_gap_error_s": round(max(gap_err), 3) if gap_err else None})
    return rows


def read_rttm(path: Path) -> list[tuple[str, float, float]]:
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            out.append((f[7], start, start + dur))
    return out


def _mask(spans, n: int, step_s: float) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for a, b in spans:
        m[int(round(a / step_s)) : int(round(b / step_s))] = True
    return m


def vad_segments(path: Path, settings=None) -> list[tuple[float, float]]:
    """Speech segments of a mono file from the streaming VAD + turn state machine."""
    from voicetrainer.audio.sources import FileSource
    from voicetrainer.config import Settings
    from voicetrainer.session.pipeline import ChannelAnalyzer

    from voicetrainer.stream.frontend import ChannelFrontEnd

    ch = ChannelAnalyzer("trainee", settings or Settings(), asr=False)
    # speech of any speaker: the speech model without the near-talker gate (which keeps only
    # the voice nearest the microphone, by design: a second talker in the room is not the trainee)
    ch.frontend = ChannelFrontEnd(ch.frontend.cfg, near_gate=False)
    for frame in FileSource(path):
        ch.push(frame.samples.mean(axis=1), frame.index)
    ch.flush()
    return sorted((r.segment.start_s, r.segment.end_s) for r in ch.segments)


def eval_vad(shared: Path) -> list[dict]:
    """Speech / non-speech accuracy per 10 ms frame against each call's RTTM."""
    rows = []
    step = 0.01
    for rttm in sorted((shared / "calls").glob("*.rttm")):
        wav = rttm.with_suffix(".wav")
        import soundfile as sf

        n = int(sf.info(str(wav)).duration / step)
        ref = _mask([(a, b) for _, a, b in read_rttm(rttm)], n, step)
        hyp = _mask(vad_segments(wav), n, step)
        rows.append({
            "file": wav.name, "accuracy": round(float(np.mean(ref == hyp)), 3),
            "miss": round(float(np.sum(ref & ~hyp) / max(1, ref.sum())), 3),
            "false_alarm": round(float(np.sum(hyp & ~ref) / max(1, (~ref).sum())), 3),
            "speech_fraction": round(float(ref.mean()), 3),
        })
    return rows


def emotion_speakers(shared: Path) -> dict[str, list[tuple[Path, str]]]:
    """speaker -> [(clip, "neutral"|"angry")], from the manifest's emotion rows.

    The speaker is read from the file name: ``tess_<SPEAKER>_<word>_<emotion>`` (TESS) or
    ``emodb_<NN>...`` (EmoDB: the first two digits). Other emotions are left out, and so are
    speakers without both a neutral and an angry clip.
    """
    out: dict[str, list[tuple[Path, str]]] = {}
    for row in manifest(shared):
        if row["kind"] != "emotion":
            continue
        name = Path(row["file"]).stem
        label = row["transcript_or_label"].split("|")[0].strip().lower()
        if label not in ("neutral", "angry"):
            continue
        if name.startswith("tess_"):
            speaker = "TESS " + name.split("_")[1]
        elif name.startswith("emodb_"):
            speaker = "EmoDB " + name[len("emodb_"):][:2]
        else:
            speaker = name.rsplit("_", 1)[0]
        out.setdefault(speaker, []).append((shared / row["file"], label))
    return {k: v for k, v in out.items() if {lab for _, lab in v} == {"neutral", "angry"}}


def auc(pos: list[float], neg: list[float]) -> float:
    """P(pos > neg), ties count half (Mann-Whitney)."""
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def _calm_of(voice, baseline) -> dict:
    """What `voicetrainer.cli.voice.analyze_clip` returns, from already computed statistics."""
    from voicetrainer.analysis.calm import calm_score

    rate = lambda v: v.syllable_rate * 60 if v.syllable_rate == v.syllable_rate else None  # noqa: E731
    return {"calm": calm_score(voice, baseline, rate=rate(voice), baseline_rate=rate(baseline))}


def calm_scores(shared: Path) -> dict[str, dict]:
    """Per speaker: calm score of every clip against one neutral baseline clip (the first in
    name order; left out of the AUC), through the same path as ``voicetrainer voice --baseline``.

    ``auc_any_baseline`` repeats the AUC with each neutral clip in turn as the baseline (min and
    mean), so the headline figure does not hang on a lucky choice.
    """
    from voicetrainer.cli.voice import analyze_clip
    from voicetrainer.config import Settings
    from voicetrainer.session.grader import analyze_voice_file

    settings = Settings()
    out = {}
    for speaker, clips in sorted(emotion_speakers(shared).items()):
        clips = sorted(clips)
        neutral_paths = [p for p, lab in clips if lab == "neutral"]
        stats = {p: analyze_voice_file(p, settings)[0] for p, _ in clips}
        aucs = []
        for k, base_path in enumerate(neutral_paths):
            baseline = stats[base_path]
            scored = []
            for p, lab in clips:
                if p == base_path:
                    continue
                # the headline baseline goes through the voice CLI's own function; the others
                # reuse each clip's statistics (the same calm_score call, without re-reading)
                res = analyze_clip(str(p), baseline, settings) if k == 0 else _calm_of(stats[p], baseline)
                scored.append({"file": p.name, "label": lab, "score": res["calm"]["score"],
                               "components": {n: c["delta"] for n, c in res["calm"]["components"].items()}})
            neutral = [s["score"] for s in scored if s["label"] == "neutral"]
            angry = [s["score"] for s in scored if s["label"] == "angry"]
            aucs.append(auc(neutral, angry))
            if k == 0:
                out[speaker] = {
                    "baseline": base_path.name, "auc": round(aucs[0], 3),
                    "mean_neutral": round(float(np.mean(neutral)), 1), "mean_angry": round(float(np.mean(angry)), 1),
                    "n_neutral": len(neutral), "n_angry": len(angry), "clips": scored,
                }
        out[speaker]["auc_any_baseline"] = {"min": round(min(aucs), 3), "mean": round(float(np.mean(aucs)), 3),
                                            "baselines": len(aucs)}
    return out


# ----------------------------------------------------------------------------- main

def evaluate(shared: Path, *, asr: bool = True, calls: bool = True, room: bool = True) -> dict:
    t0 = time.perf_counter()
    result: dict = {"shared": str(shared)}
    transcriber = _transcriber() if (asr or calls) else None
    if asr:
        wers, wpms = eval_asr(shared, transcriber)
        total_err = sum(w["errors"] for w in wers)
        total_ref = sum(w["ref_words"] for w in wers)
        result["wer"] = {"overall": round(total_err / total_ref, 3), "clips": wers}
        # live practice's recogniser (short encoder window, full-window redo of looping chunks)
        from voicetrainer.asr import live_recogniser
        from voicetrainer.config import AsrConfig

        live = live_recogniser(AsrConfig())
        live_wers, _ = eval_asr(shared, live)
        result["wer_live"] = {"overall": round(sum(w["errors"] for w in live_wers) / total_ref, 3),
                              "full_window_retries": live.full_window_retries, "clips": live_wers}
        errs = [abs(w["error_pct"]) for w in wpms if w["error_pct"] is not None]
        result["wpm"] = {"mean_abs_error_pct": round(float(np.mean(errs)), 1) if errs else None,
                         "max_abs_error_pct": round(float(np.max(errs)), 1) if errs else None, "clips": wpms}
    needed = [shared / "speech" / f"librivox_{n}{ext}" for n in CALL_CLIPS for ext in (".wav", ".align.json")]
    if calls and not all(p.exists() for p in needed):
        print(f"evaluate: constructed calls skipped: they need {', '.join(p.name for p in needed)}", file=sys.stderr)
        calls = False
    if calls:
        with tempfile.TemporaryDirectory(prefix="vt-eval-") as tmp:
            rows = eval_calls(shared, transcriber, Path(tmp))
            sweep = eval_noise_sweep(shared, Path(tmp))
        ov = [abs(r["overlap_error_s"]) for r in rows if r["overlap_error_s"] is not None]
        gp = [abs(r["gap_error_s"]) for r in rows if r["gap_error_s"] is not None]
        result["calls"] = {
            "max_abs_overlap_error_s": round(max(ov), 3) if ov else None,
            "max_abs_gap_error_s": round(max(gp), 3) if gp else None,
            "all_one_interruption": all(r["interruptions"] == 1 for r in rows),
            "backchannels_right": all(r["backchannels"] == r["expected_backchannels"] for r in rows),
            "layouts": rows, "noise_sweep": sweep,
        }
    if calls and room:  # the room set: crosstalk, babble, noise, ... (scripts/eval_room.py, #15)
        from dataclasses import asdict

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from eval_room import eval_room, grading_transcriber

        result["room"] = [asdict(x) for x in eval_room(shared, grading_transcriber())]
    result["vad"] = eval_vad(shared)
    result["calm"] = calm_scores(shared)
    result["language"] = language_figures()
    result["runtime_s"] = round(time.perf_counter() - t0, 1)
    return result


def language_figures() -> list[dict]:
    """Move detector scores per labelled file (scripts/eval_language.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_language import evaluate_language

    return [s.to_dict() for s in evaluate_language()]


def print_table(r: dict) -> None:
    print(f"voicetrainer accuracy on {r['shared']}")
    if "wer" in r:
        print(f"\nWER (normalised) overall: {r['wer']['overall']:.1%}")
        for w in r["wer"]["clips"]:
            print(f"  {w['file']:<34} {w['wer']:6.1%}  {w['hyp']}")
        if "wer_live" in r:
            print(f"WER live recogniser (10 s window): {r['wer_live']['overall']:.1%} "
                  f"({r['wer_live']['full_window_retries']} chunks redone with the full window)")
        print(f"\nWPM vs alignment: mean |error| {r['wpm']['mean_abs_error_pct']}%, max {r['wpm']['max_abs_error_pct']}%")
        for w in r["wpm"]["clips"]:
            print(f"  {w['file']:<34} align {w['align_wpm']:6.1f}  measured {w['wpm']}  error {w['error_pct']:+.1f}%")
    if "calls" in r:
        c = r["calls"]
        print(f"\nConstructed two-channel calls: max |overlap error| {c['max_abs_overlap_error_s']} s, "
              f"max |gap error| {c['max_abs_gap_error_s']} s")
        for x in c["layouts"]:
            print(f"  gap {x['gap_s']:.1f} s -> {x['measured_gap_s']} s; overlap {x['overlap_s']:.1f} s -> "
                  f"{x['measured_overlap_s']} s; interruptions {x['interruptions']} (1), "
                  f"backchannels {x['backchannels']} ({x['expected_backchannels']})")
        print("  room noise (no ASR): " + "; ".join(
            f"{x['noise_dbfs']:.0f} dBFS: {x['calls_right']}/{x['calls']} right, overlap err <= "
            f"{x['max_abs_overlap_error_s']} s, gap err <= {x['max_abs_gap_error_s']} s" for x in c["noise_sweep"]))
    if "room" in r:
        from eval_room import RoomRow, markdown as room_markdown

        print("\nRooms (five constructed calls under crosstalk, babble, noise, ...; scripts/eval_room.py):")
        print(room_markdown([RoomRow(**x) for x in r["room"]]))
    print("\nVAD vs RTTM (10 ms frames, speech of any speaker):")
    for v in r["vad"]:
        print(f"  {v['file']:<22} accuracy {v['accuracy']:.1%}  miss {v['miss']:.1%}  false alarm {v['false_alarm']:.1%}")
    print("\nCalm score, angry vs neutral (baseline: one neutral clip per speaker, left out):")
    for spk, c in r["calm"].items():
        print(f"  {spk:<9} AUC {c['auc']:.3f}  mean calm neutral {c['mean_neutral']} vs angry {c['mean_angry']} "
              f"({c['n_neutral']} neutral, {c['n_angry']} angry; baseline {c['baseline']}); "
              f"any neutral clip as baseline: AUC min {c['auc_any_baseline']['min']:.3f}, "
              f"mean {c['auc_any_baseline']['mean']:.3f}")
    for fs in r.get("language", []):
        print(f"\nMove detector on {fs['file']} ({fs['rows']} rows): macro F1 {fs['macro_f1']:.3f}")
        for k, v in fs["kinds"].items():
            print(f"  {k:<20} P {v['precision']}  R {v['recall']}  F1 {v['f1']}")
    if "live_turns" in r:
        lt = r["live_turns"]
        print(f"\nLive trainee-turn text (what the caller's mind decided on): WER {lt['live_wer']:.1%} vs offline "
              f"re-grade {lt['offline_wer']:.1%} ({lt['ref_words']} words, {lt['answers_spoken']} answers); reply "
              f"p50 {lt['reply_p50_s']} s, p95 {lt['reply_p95_s']} s; {'OK' if lt['ok'] else 'FAILED'}")
    print(f"\nruntime {r['runtime_s']} s")


def markdown_table(r: dict) -> str:
    """The README's accuracy table."""
    rows = ["| What | Measured on | Result |", "|---|---|---|"]
    if "wer" in r:
        n = len(r["wer"]["clips"])
        worst = max(r["wer"]["clips"], key=lambda w: w["wer"])
        jfk = next((w for w in r["wer"]["clips"] if w["file"].endswith("jfk.wav")), None)
        rows.append(f"| Word error rate (tiny.en, via the grader) | {n} speech clips, {sum(w['ref_words'] for w in r['wer']['clips'])} words "
                    f"| {r['wer']['overall']:.1%} overall" + (f"; jfk.wav {jfk['wer']:.1%}" if jfk else "")
                    + f"; worst {Path(worst['file']).name} {worst['wer']:.0%} |")
        if "wer_live" in r:
            lw = r["wer_live"]
            rows.append(f"| Word error rate, live recogniser (10 s encoder window) | same clips | {lw['overall']:.1%} overall; "
                        f"{lw['full_window_retries']} looping chunks redone with the full window |")
        rows.append(f"| Trainee WPM vs word alignment | {len(r['wpm']['clips'])} LibriVox clips "
                    f"| mean abs error {r['wpm']['mean_abs_error_pct']}%, max {r['wpm']['max_abs_error_pct']}% |")
    if "calls" in r:
        c = r["calls"]
        lay = c["layouts"]
        rows.append(f"| Barge-in overlap length | {len(lay)} two-channel calls from real speech, overlap "
                    f"{min(x['overlap_s'] for x in lay)}-{max(x['overlap_s'] for x in lay)} s "
                    f"| max abs error {c['max_abs_overlap_error_s']} s; exactly one interruption in "
                    f"{sum(x['interruptions'] == 1 for x in lay)}/{len(lay)} |")
        rows.append(f"| Response gap | same calls, gap {min(x['gap_s'] for x in lay)}-{max(x['gap_s'] for x in lay)} s "
                    f"| max abs error {c['max_abs_gap_error_s']} s |")
        sw = c["noise_sweep"]
        rows.append(f"| Overlap and gap in room noise | same calls, no ASR, noise bed "
                    + ", ".join(f"{x['noise_dbfs']:.0f}" for x in sw) + " dBFS | "
                    + "; ".join(f"{x['noise_dbfs']:.0f}: {x['calls_right']}/{x['calls']} right, max error "
                                f"{x['max_abs_overlap_error_s']} / {x['max_abs_gap_error_s']} s" for x in sw) + " |")
        rows.append(f"| Backchannels counted apart | same calls, {sum(x['expected_backchannels'] for x in lay)} placed "
                    f"| {sum(x['backchannels'] for x in lay)} found, {sum(x['backchannels'] == x['expected_backchannels'] for x in lay)}/{len(lay)} calls right |")
    if "live_turns" in r:
        lt = r["live_turns"]
        rows.append(f"| Word error rate, live trainee-turn text (what the caller decides on) | simulated calls in real "
                    f"time, {lt['answers_spoken']} answers of 1-9 s, {lt['ref_words']} words | {lt['live_wer']:.1%} "
                    f"(offline re-grade of the same calls {lt['offline_wer']:.1%}) |")
    for v in r.get("vad", []):
        rows.append(f"| VAD speech/non-speech per 10 ms vs RTTM | calls/{v['file']} | accuracy {v['accuracy']:.1%} "
                    f"(miss {v['miss']:.1%}, false alarm {v['false_alarm']:.1%}) |")
    for spk, c in r.get("calm", {}).items():
        rows.append(f"| Calm score: angry below neutral (AUC) | {spk}: {c['n_neutral']} neutral, {c['n_angry']} angry, "
                    f"baseline {c['baseline']} | AUC {c['auc']:.2f} (any neutral baseline: min {c['auc_any_baseline']['min']:.2f}); "
                    f"mean calm {c['mean_neutral']:.0f} neutral vs {c['mean_angry']:.0f} angry |")
    for fs in r.get("language", []):
        scored = {k: v for k, v in fs["kinds"].items() if k != "greeting" and v["f1"] is not None}
        worst = min(scored, key=lambda k: scored[k]["f1"])
        rows.append(f"| Move detector, macro F1 over 13 kinds | {Path(fs['file']).name}: {fs['rows']} labelled agent "
                    f"utterances | {fs['macro_f1']:.2f}; lowest kind {worst} {scored[worst]['f1']:.2f} |")
    if "room" in r:
        from eval_room import RoomRow, markdown as room_markdown

        rows += ["", room_markdown([RoomRow(**x) for x in r["room"]])]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", help="shared audio folder (default: $VOICETRAINER_SHARED or ../shared/audio)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the README's accuracy table")
    ap.add_argument("--skip-asr", action="store_true", help="no WER/WPM")
    ap.add_argument("--skip-calls", action="store_true", help="no constructed calls")
    ap.add_argument("--skip-room", action="store_true", help="no room conditions (crosstalk, babble, noise)")
    ap.add_argument("--only-language", action="store_true", help="only the move detector (no audio, seconds)")
    ap.add_argument("--live-turns", action="store_true",
                    help="also run simulated practice calls in real time (~3 min) and compare the live "
                         "trainee-turn texts with the offline re-grade (scripts/live_turns.py)")
    args = ap.parse_args(argv)
    if args.only_language:
        r = {"language": language_figures()}
        print(json.dumps(r, indent=2) if args.json else markdown_table(r))
        return 0
    shared = shared_audio_dir(args.shared)
    if not (shared / "MANIFEST.tsv").exists():
        print(f"evaluate: no shared audio at {shared} (set VOICETRAINER_SHARED or --shared)", file=sys.stderr)
        return 2
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
    r = evaluate(shared, asr=not args.skip_asr, calls=not args.skip_calls, room=not args.skip_room)
    if args.live_turns:
        from live_turns import add_live_turns

        add_live_turns(r, shared)
    if args.json:
        print(json.dumps(r, indent=2))
    elif args.markdown:
        print(markdown_table(r))
    else:
        print_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
