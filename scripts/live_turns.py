"""Live trainee-turn text against the truth: does the caller's mind hear what was said?

A simulated practice call on a recording of real speech (``speech/`` clips of the shared audio,
joined into answers of 1-9 s, some with pauses inside that are shorter than the turn-end
silence, so a turn is decided over several speech segments). The call runs through the live
pipeline in real time (`voicetrainer.session.practice.simulate`); then

- live WER: the ``trainee_turn`` texts of ``events.jsonl`` (what the caller's mind decided on)
  against ``trainee_script.json`` (what the recording said, and when);
- offline WER: the same session re-graded offline (`grade SESSION_DIR`), trainee turns against
  the same script;
- reply latency p50/p95 pooled over the calls, from the events (`reply_latencies`).

Both WERs are corpus figures (sum of word errors / sum of reference words); each spoken answer
is matched to the turns that overlap it in time, so a turn split in two or two answers merged
into one turn are scored fairly. Imported by ``scripts/evaluate.py`` (``--live-turns``) and by
``tests/test_live_turns_wer.py``; runs on its own too::

    python scripts/live_turns.py [--shared DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from evaluate import edit_distance, normalise, shared_audio_dir  # noqa: E402

SR = 16_000
INNER_PAUSE_S = 0.35  # a pause inside an answer: shorter than the 0.6 s turn-end silence
LIVE_WER_MAX = 0.10  # the goal: the caller's mind hears at most 1 word in 10 wrong
LIVE_VS_OFFLINE_MAX = 0.03  # and no worse than the offline grade of the same call + this
PERSONA = "confused-elderly"  # patient (8/10): most answers are heard before any hang-up

# answers of 1-9 s, each one or more real clips (`+` joins with INNER_PAUSE_S of silence);
# gap_s: silence after the caller stops; during_caller answers barge in after delay_s
ANSWERS = (
    ("goforward", "after_caller", 0.7),
    ("librivox_0880+librivox_0930", "after_caller", 0.6),
    ("stereo_diarization_right", "during_caller", 1.4),
    ("librivox_0870", "after_caller", 0.8),
    ("cards_005", "after_caller", 0.5),
    ("librivox_0890", "after_caller", 0.6),
    ("stereo_diarization_left+cards_001", "after_caller", 0.7),
    ("librivox_0920", "after_caller", 0.5),
    ("cards_003", "after_caller", 0.9),
)


@dataclass
class LiveTurnsResult:
    live_wer: float
    offline_wer: float
    ref_words: int
    live_errors: int
    offline_errors: int
    answers_spoken: int
    reply_p50_s: float | None  # from when the caller could answer (see `reply_latencies`)
    reply_p95_s: float | None
    reply_from_turn_end_p50_s: float | None  # from the end of the trainee's turn
    reply_from_turn_end_p95_s: float | None
    replies: int
    session_dir: str
    turns: list[dict]

    @property
    def ok(self) -> bool:
        return self.live_wer <= LIVE_WER_MAX and self.live_wer <= self.offline_wer + LIVE_VS_OFFLINE_MAX


def _speech_bounds(x: np.ndarray) -> tuple[int, int]:
    frame = 320
    n = len(x) // frame
    lev = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    on = np.nonzero(lev > lev.max() - 35)[0]
    return max(0, on[0] * frame - int(0.1 * SR)), min(len(x), (on[-1] + 1) * frame + int(0.15 * SR))


def build_recording(shared: Path, out_wav: Path, *, reverse: bool = False) -> Path:
    """The trainee recording and its script (``out_wav`` + ``.json``); returns `out_wav`.
    `reverse`: the answers in reverse order (a caller who hangs up early hears the others)."""
    import soundfile as sf

    texts = {}
    for row in (shared / "MANIFEST.tsv").read_text().splitlines()[1:]:
        cols = row.split("\t")
        texts[cols[0]] = cols[2]
    parts, answers, pos = [], [], 0.0
    for clips, when, timing in (ANSWERS[::-1] if reverse else ANSWERS):
        audio, words = [], []
        for k, name in enumerate(clips.split("+")):
            x, sr = sf.read(shared / "speech" / f"{name}.wav", dtype="float32")
            assert sr == SR, name
            a, b = _speech_bounds(x)
            if k:
                audio.append(np.zeros(int(INNER_PAUSE_S * SR), np.float32))
            audio.append(x[a:b])
            words.append(texts[f"speech/{name}.wav"])
        clip = np.concatenate(audio)
        dur = len(clip) / SR
        assert 1.0 <= dur <= 9.0, (clips, dur)
        entry = {"start_s": round(pos, 3), "end_s": round(pos + dur, 3), "when": when, "text": " ".join(words)}
        entry["gap_s" if when == "after_caller" else "delay_s"] = timing
        answers.append(entry)
        parts += [clip, np.zeros(int(0.5 * SR), np.float32)]
        pos += dur + 0.5
    sf.write(str(out_wav), np.concatenate(parts), SR, subtype="PCM_16")
    out_wav.with_suffix(".json").write_text(json.dumps({"source": "scripts/live_turns.py", "answers": answers}, indent=2))
    return out_wav


def _matched_errors(script: list[dict], turns: list[dict]) -> tuple[int, int, list[dict]]:
    """Word errors of `turns` against `script`: each turn goes to the spoken answer it overlaps
    most; each answer is compared with the text of its turns joined. Turns overlapping no answer
    count as insertions."""
    hyp_of: dict[int, list[str]] = {i: [] for i in range(len(script))}
    extra = 0
    for t in turns:
        best, best_ov = None, 0.0
        for i, s in enumerate(script):
            ov = min(t["end_s"], s["end_s"] + 0.3) - max(t["start_s"], s["start_s"] - 0.3)
            if ov > best_ov:
                best, best_ov = i, ov
        if best is None:
            extra += len(normalise(t["text"]))
        else:
            hyp_of[best].append(t["text"])
    errors, ref_n, rows = extra, 0, []
    for i, s in enumerate(script):
        ref, hyp = normalise(s["text"]), normalise(" ".join(hyp_of[i]))
        e = edit_distance(ref, hyp)
        errors += e
        ref_n += len(ref)
        rows.append({"ref": s["text"], "hyp": " ".join(hyp_of[i]), "errors": e, "ref_words": len(ref)})
    return errors, ref_n, rows


def reply_latencies(events: list[dict]) -> tuple[list[float], list[float]]:
    """Per caller reply to a trainee turn (the first caller line logged after a non-empty
    ``trainee_turn``): seconds (a) from the end of the turn and (b) from when the caller could
    answer: the end of the turn or, when the turn ended while a caller line was still playing
    (the trainee talked over it and it went on), the end of that line."""
    ends: dict[float, float] = {}  # caller line start -> end (after cuts)
    for e in events:
        if e.get("type") in ("caller_line", "caller_line_cut"):
            ends[e["start_s"]] = e["end_s"]
    from_end, from_ready, turn = [], [], None
    for e in events:
        if e.get("type") == "trainee_turn" and e.get("text", "").strip():
            turn = e
        elif e.get("type") == "caller_line" and turn is not None:
            playing = [b for a, b in ends.items() if a < turn["end_s"] < b and a < e["start_s"]]
            from_end.append(round(e["start_s"] - turn["end_s"], 3))
            from_ready.append(round(e["start_s"] - max([turn["end_s"], *playing]), 3))
            turn = None
    return from_end, from_ready


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _one_call(wav: Path, session: Path, grader_asr, transcriber) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """(script, live turns, offline turns, events) of one simulated call."""
    from voicetrainer.session.grader import GradeOptions, grade
    from voicetrainer.session.practice import simulate

    report = simulate(PERSONA, wav, session, realtime=True, db=None, html=False, transcriber=transcriber)
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines() if line.strip()]
    live = [e for e in events if e.get("type") == "trainee_turn"]
    # answers begun after the call ended were never heard by the caller's mind
    end_s = min([e["t_s"] for e in events if e.get("type") == "end"] or [report.duration_s])
    script = [a for a in json.loads((session / "trainee_script.json").read_text()) if a["start_s"] < end_s]
    offline_report = grade(session, GradeOptions(), transcriber=grader_asr)
    offline = [{"start_s": t.start_s, "end_s": t.end_s, "text": t.text}
               for t in offline_report.turns if t.speaker == "trainee"]
    return script, live, offline, events


def live_turns(shared: Path, work: Path, *, transcriber=None, grader_transcriber=None, calls: int = 2) -> LiveTurnsResult:
    """Run `calls` simulated calls in real time under `work` (the answers in order, then
    reversed), then score them together (see the module doc). `transcriber`: the live
    recogniser (default: what practice uses); `grader_transcriber`: the offline one (default:
    what `voicetrainer grade` uses)."""
    from voicetrainer.asr import WhisperTranscriber
    from voicetrainer.config import AsrConfig

    grader_asr = grader_transcriber or WhisperTranscriber(AsrConfig())
    le = oe = ref_n = 0
    rows, spoken, from_end, from_ready = [], 0, [], []
    for k in range(calls):
        wav = build_recording(shared, work / f"trainee{k}.wav", reverse=bool(k % 2))
        session = work / f"session{k}"
        script, live, offline, events = _one_call(wav, session, grader_asr, transcriber)
        a, b = reply_latencies(events)
        from_end += a
        from_ready += b
        e1, n, r1 = _matched_errors(script, live)
        e2, _, r2 = _matched_errors(script, offline)
        for r, o in zip(r1, r2):
            r["offline_hyp"] = o["hyp"]
        le, oe, ref_n, spoken = le + e1, oe + e2, ref_n + n, spoken + len(script)
        rows += r1
    return LiveTurnsResult(
        live_wer=round(le / max(1, ref_n), 3), offline_wer=round(oe / max(1, ref_n), 3), ref_words=ref_n,
        live_errors=le, offline_errors=oe, answers_spoken=spoken,
        reply_p50_s=_pct(from_ready, 50), reply_p95_s=_pct(from_ready, 95),
        reply_from_turn_end_p50_s=_pct(from_end, 50), reply_from_turn_end_p95_s=_pct(from_end, 95),
        replies=len(from_ready), session_dir=str(work), turns=rows,
    )


def add_live_turns(result: dict, shared: Path) -> dict:
    """`scripts/evaluate.py --live-turns`: the figures under ``result["live_turns"]``."""
    with tempfile.TemporaryDirectory(prefix="vt-live-turns-") as tmp:
        r = live_turns(shared, Path(tmp))
    result["live_turns"] = {**asdict(r), "ok": r.ok, "session_dir": None}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", help="shared audio folder (default: $VOICETRAINER_SHARED or ../shared/audio)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="run in DIR and keep the sessions")
    ap.add_argument("--calls", type=int, default=2, help="simulated calls (answers in order, then reversed)")
    args = ap.parse_args(argv)
    shared = shared_audio_dir(args.shared)
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        r = live_turns(shared, Path(args.keep), calls=args.calls)
    else:
        with tempfile.TemporaryDirectory(prefix="vt-live-turns-") as tmp:
            r = live_turns(shared, Path(tmp), calls=args.calls)
    if args.json:
        print(json.dumps({**asdict(r), "ok": r.ok}, indent=2))
    else:
        for t in r.turns:
            print(f"{t['errors']:2d}/{t['ref_words']:<2d} ref: {t['ref']}\n      live: {t['hyp']}\n   offline: {t['offline_hyp']}")
        print(f"live WER {r.live_wer:.3f} ({r.live_errors}/{r.ref_words}), offline re-grade {r.offline_wer:.3f} "
              f"({r.offline_errors}/{r.ref_words}); {r.answers_spoken} answers; reply p50 {r.reply_p50_s} s, "
              f"p95 {r.reply_p95_s} s ({r.replies} replies, pooled; from the turn end: p50 "
              f"{r.reply_from_turn_end_p50_s} s, p95 {r.reply_from_turn_end_p95_s} s); {'OK' if r.ok else 'FAILED'}")
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
