"""Frame levels of one channel of a file, read fast (a pre-scan, not the streaming pass).

The grader's front end learns the near talker's speaking level as it goes; offline it can know
it before the first frame, from the levels of the whole trainee channel (`ChannelFrontEnd.
seed_near`), so that room babble before the trainee's first answer is not taken for them. This
reads the file in large blocks and computes the 20 ms levels vectorised: about 1% of the time
the streaming pass takes. Levels are measured at the file's own rate (a level does not change
with resampling).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from voicetrainer.audio.sources import AudioInfo, finite_samples
from voicetrainer.config import FRAME_MS
from voicetrainer.errors import AudioInputError

BLOCK_FRAMES = 3000  # frames (60 s) read at a time


def frame_levels_dbfs(path: str | Path, channel: int, info: AudioInfo) -> np.ndarray:
    """RMS level in dBFS of every 20 ms frame of `channel` (a short last frame is left out)."""
    import soundfile as sf

    hop = max(1, int(round(info.sample_rate * FRAME_MS / 1000)))
    out: list[np.ndarray] = []
    try:
        with sf.SoundFile(os.fsencode(Path(path))) as f:
            while True:
                data = f.read(hop * BLOCK_FRAMES, dtype="float32", always_2d=True)
                n = len(data) // hop
                if n:
                    x, _ = finite_samples(data[: n * hop, channel])
                    ms = np.mean(x.reshape(n, hop).astype(np.float64) ** 2, axis=1)
                    out.append(10 * np.log10(np.maximum(ms, 1e-12)))  # -120 dBFS floor, as rms_dbfs
                if len(data) < hop * BLOCK_FRAMES:
                    break
    except sf.LibsndfileError as e:
        raise AudioInputError(f"could not read audio ({e})", path=path) from e
    return np.concatenate(out) if out else np.zeros(0)
