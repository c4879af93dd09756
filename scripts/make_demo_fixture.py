#!/usr/bin/env python3
"""Build audio_fixtures/demo_trainee.wav (+ .json script) from real read speech in ../shared/audio.

The demo's simulated trainee "answers" with these real recordings (public domain / BSD / MIT,
see audio_fixtures/MANIFEST.tsv). They are not call-centre answers, so the demo's skill scores
are low: the demo shows the live pipeline (turn-taking, barge-in, transcription, latency), not a
model agent. Re-run this script to rebuild the fixture; the output is committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "audio" / "speech"
SR = 16000
GAP_S = 0.5

# (clip, when, timing) - the second answer barges in while the caller is still talking
ANSWERS = [
    ("librivox_0890.wav", "after_caller", {"gap_s": 0.7}),
    ("librivox_0880.wav", "during_caller", {"delay_s": 1.6}),
    ("stereo_diarization_right.wav", "after_caller", {"gap_s": 0.6}),
    ("librivox_0930.wav", "after_caller", {"gap_s": 0.8}),
    ("librivox_0920.wav", "after_caller", {"gap_s": 0.5}),
    ("goforward.wav", "after_caller", {"gap_s": 0.6}),
    ("librivox_0870.wav", "after_caller", {"gap_s": 0.7}),
]


def speech_bounds(x: np.ndarray) -> tuple[int, int]:
    frame = 320
    n = len(x) // frame
    lev = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    on = np.nonzero(lev > lev.max() - 35)[0]
    a = max(0, on[0] * frame - int(0.1 * SR))
    b = min(len(x), (on[-1] + 1) * frame + int(0.15 * SR))
    return a, b


def main() -> int:
    manifest = {}
    for row in (SHARED.parent / "MANIFEST.tsv").read_text().splitlines()[1:]:
        cols = row.split("\t")
        manifest[cols[0]] = cols
    parts, answers, rows = [], [], []
    pos = 0.0
    for name, when, timing in ANSWERS:
        x, sr = sf.read(SHARED / name, dtype="float32")
        assert sr == SR, name
        a, b = speech_bounds(x)
        clip = x[a:b]
        parts += [clip, np.zeros(int(GAP_S * SR), np.float32)]
        text = manifest[f"speech/{name}"][2]
        answers.append({"start_s": round(pos, 3), "end_s": round(pos + len(clip) / SR, 3), "when": when,
                        "text": text, **timing})
        pos += len(clip) / SR + GAP_S
        rows.append(manifest[f"speech/{name}"])
    out = ROOT / "audio_fixtures" / "demo_trainee.wav"
    sf.write(out, np.concatenate(parts), SR, subtype="PCM_16")
    out.with_suffix(".json").write_text(json.dumps({"source": "scripts/make_demo_fixture.py", "answers": answers}, indent=2) + "\n")
    header = "file\tkind\ttranscript_or_label\tduration_s\tsource_repo\tsource_path\tlicence\n"
    lines = [header] + ["\t".join(["demo_trainee.wav <- " + r[0]] + r[1:]) + "\n" for r in rows]
    (ROOT / "audio_fixtures" / "MANIFEST.tsv").write_text("".join(lines))
    print(f"wrote {out} ({pos:.1f} s, {len(answers)} answers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
