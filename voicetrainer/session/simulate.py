"""A simulated trainee: a recording of spoken answers, fed in as the microphone.

The answers are spans of one recording (a JSON script beside it says where each answer is and
when to say it: after the caller stops, with a gap, or barging in while the caller speaks).
`ScriptedTrainee` decides sample by sample what the "microphone" hears, looking at the caller
track, so a simulated call has real turn-taking. It feeds the live pipeline two ways:

- `SimulatedInputStream`: the sounddevice InputStream interface, paced in real time by a
  thread, for `MicSource` (what `--simulate` and the demo use: latency is measured for real);
- `ScriptedTrainee.frames()`: an accelerated iterator of `Frame`s (tests; no waiting).

Script format (``<recording>.json``)::

    {"answers": [{"start_s": 0.0, "end_s": 3.1, "text": "...",
                  "when": "after_caller", "gap_s": 0.6},
                 {"start_s": 3.5, "end_s": 6.0, "when": "during_caller", "delay_s": 1.2}]}
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.frames import Frame
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.errors import AudioInputError

log = get_logger(__name__)

NOISE_DBFS = -62.0  # quiet room noise under the simulated microphone


@dataclass(frozen=True)
class Answer:
    start_s: float
    end_s: float
    when: str = "after_caller"  # or "during_caller"
    gap_s: float = 0.6  # after_caller: silence after the caller stops
    delay_s: float = 1.0  # during_caller: how long after the caller starts
    text: str = ""


def load_script(recording: str | Path) -> tuple[np.ndarray, list[Answer]]:
    """The recording (16 kHz mono) and its answers; without a script, each VAD segment is an answer."""
    import soundfile as sf

    from voicetrainer.audio.sources import finite_samples, probe_audio
    from voicetrainer.audio.playback import resample

    rec = Path(recording)
    info = probe_audio(rec)
    audio, rate = sf.read(os.fsencode(rec), dtype="float32", always_2d=True)
    audio, bad = finite_samples(audio)
    if bad:
        log.warning("%s: %d NaN/infinite sample(s) replaced by silence", rec, bad)
    audio = resample(audio.mean(axis=1), rate, SAMPLE_RATE)
    script = rec.with_suffix(".json")
    if script.exists():
        try:
            doc = json.loads(script.read_text())
            answers = [Answer(**a) for a in doc["answers"]]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise AudioInputError(f"bad simulation script ({e})", path=script) from e
    else:
        from voicetrainer.session.grader import analyze_voice_file

        _, segs = analyze_voice_file(rec)
        answers = [Answer(r.segment.start_s, r.segment.end_s) for r in segs]
    if not answers:
        raise AudioInputError("no answers found in the simulation recording", path=rec)
    del info
    return audio, answers


class ScriptedTrainee:
    """Produces the simulated microphone signal, one block at a time, reacting to the caller.

    Args:
        audio: the answers recording, 16 kHz mono.
        answers: what to say and when.
        caller_active: ``f(t_s) -> bool``, is the caller audible at session time t_s.
    """

    def __init__(self, audio: np.ndarray, answers: list[Answer], caller_active: Callable[[float], bool], *, seed: int = 0):
        self.audio = audio
        self.answers = list(answers)
        self.caller_active = caller_active
        self._rng = np.random.default_rng(seed)
        self._noise_amp = 10 ** (NOISE_DBFS / 20) * np.sqrt(2)
        self._next = 0
        self._speaking: tuple[int, int] | None = None  # (position, end) in self.audio
        self._caller_was_active = False
        self._caller_started_s: float | None = None
        self._caller_stopped_s: float | None = None
        self._heard_caller = False
        self.position = 0  # samples produced
        self.spoken: list[tuple[float, float, int]] = []  # (start_s, end_s, answer index)

    @property
    def done(self) -> bool:
        return self._next >= len(self.answers) and self._speaking is None

    def block(self, n: int) -> np.ndarray:
        out = (self._rng.standard_normal(n) * self._noise_amp / np.sqrt(2)).astype(np.float32)
        pos = 0
        while pos < n:
            t = (self.position + pos) / SAMPLE_RATE
            if self._speaking is None:
                self._decide(t)
            if self._speaking is None:
                step = min(n - pos, FRAME_SAMPLES)
                pos += step
                continue
            a, b = self._speaking
            take = min(n - pos, b - a)
            out[pos : pos + take] += self.audio[a : a + take]
            pos += take
            a += take
            self._speaking = (a, b) if a < b else None
            if self._speaking is None:
                self.spoken[-1] = (self.spoken[-1][0], (self.position + pos) / SAMPLE_RATE, self.spoken[-1][2])
        self.position += n
        return out

    def _decide(self, t: float) -> None:
        active = self.caller_active(t)
        if active and not self._caller_was_active:
            self._caller_started_s, self._heard_caller = t, True
        if not active and self._caller_was_active:
            self._caller_stopped_s = t
        self._caller_was_active = active
        if self._next >= len(self.answers) or not self._heard_caller:
            return
        ans = self.answers[self._next]
        go = False
        if ans.when == "during_caller":
            go = active and self._caller_started_s is not None and t - self._caller_started_s >= ans.delay_s
        else:
            go = (not active) and self._caller_stopped_s is not None and t - self._caller_stopped_s >= ans.gap_s
        if go:
            a = int(ans.start_s * SAMPLE_RATE)
            b = min(int(ans.end_s * SAMPLE_RATE), len(self.audio))
            self._speaking = (a, b)
            self.spoken.append((t, t + (b - a) / SAMPLE_RATE, self._next))
            self._next += 1
            self._caller_stopped_s = None
            self._caller_started_s = None if ans.when == "during_caller" else self._caller_started_s

    def frames(self, *, max_s: float = 600.0) -> Iterator[Frame]:
        """Accelerated: frames as fast as they are consumed, until `max_s`."""
        index = 0
        while index * FRAME_SAMPLES / SAMPLE_RATE < max_s:
            yield Frame(self.block(FRAME_SAMPLES)[:, None], index * FRAME_SAMPLES / SAMPLE_RATE, index)
            index += 1


class SimulatedInputStream:
    """sounddevice.InputStream look-alike that calls its callback in real time with the
    `ScriptedTrainee`'s blocks, from its own thread (like PortAudio's audio thread)."""

    def __init__(self, trainee: ScriptedTrainee, *, samplerate=SAMPLE_RATE, blocksize=FRAME_SAMPLES,
                 callback=None, speed: float = 1.0, **_ignored):
        self.trainee = trainee
        self.samplerate = samplerate or SAMPLE_RATE
        self.blocksize = blocksize or FRAME_SAMPLES
        self.callback = callback
        self.speed = speed
        self.latency = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-mic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.blocksize / self.samplerate / self.speed
        t0 = time.monotonic()
        k = 0
        while not self._stop.is_set():
            block = self.trainee.block(self.blocksize)[:, None]
            self.callback(block, self.blocksize, None, None)
            k += 1
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
