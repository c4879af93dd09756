"""Controlled voices for the calm-trainer tests: espeak-ng sentences at a chosen pitch, rate and
gain, and a constructed two-channel call whose escalation and recovery times are known.

espeak-ng's pitch 0-99 moves the voice's fundamental (measured: -p 50 ~101 Hz, -p 70 ~123 Hz,
-p 90 ~154 Hz for en-us), so a raised-pitch answer is a few semitones above a calm one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

SR = 16_000  # Hz
CALM_PITCH = 40  # espeak-ng pitch of the calm trainee
RAISED_PITCH = 85  # ... and of the raised voice (about +8 semitones)


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def say(text: str, *, pitch: int = CALM_PITCH, rate_wpm: int = 160, voice: str = "en-us",
        gain_db: float = 0.0) -> np.ndarray:
    """`text` spoken by espeak-ng, 16 kHz mono float32, leading/trailing silence trimmed."""
    import soundfile as sf

    from voicetrainer.audio.playback import resample

    need_espeak()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), "-p", str(pitch), "-s", str(rate_wpm), text],
                       check=True, capture_output=True)
        audio, rate = sf.read(str(path), dtype="float32")
    audio = resample(audio, rate, SR)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return (audio[loud[0] : loud[-1] + 1] * 10 ** (gain_db / 20)).astype(np.float32)


@dataclass
class ConstructedCall:
    """A two-channel call (caller 0, trainee 1) and its known answers (seconds)."""

    audio: np.ndarray
    escalation_s: list[float] = field(default_factory=list)  # caller's raised turns start
    back_s: float = 0.0  # the trainee's first calm sentence after the first escalation starts


def constructed_call(raised_sentences: int = 1, *, seed: int = 0) -> ConstructedCall:
    """Caller calm, trainee calm (the baseline); the caller escalates (pitch +8 st, +6 dB); the
    trainee answers with `raised_sentences` raised sentences, then calm ones (the return); the
    caller calms, escalates again, and this time the trainee stays calm."""
    n = int(70 * SR)
    rng = np.random.default_rng(seed)
    out = (rng.standard_normal((n, 2)) * 10 ** (-62 / 20)).astype(np.float32)
    call = ConstructedCall(out)

    def put(ch: int, clip: np.ndarray, t_s: float) -> float:
        i = int(round(t_s * SR))
        out[i : i + len(clip), ch] += clip
        return t_s + len(clip) / SR

    caller = dict(voice="en-us+f3")
    t = put(0, say("Hello, I am calling about my bill, it looks wrong this month.", pitch=40, **caller), 0.5)
    t = put(1, say("Thank you for calling, I am happy to look at your bill with you today."), t + 0.8)
    t = put(1, say("Could you tell me the account number please."), t + 0.4)
    call.escalation_s.append(t + 0.8)
    t = put(0, say("This is ridiculous! You charged me twice and nobody ever fixes anything!",
                   pitch=RAISED_PITCH, gain_db=6, **caller), t + 0.8)
    raised = dict(pitch=RAISED_PITCH, rate_wpm=190, gain_db=6)
    t = put(1, say("Well that is not my fault, I did not charge you anything at all!", **raised), t + 0.8)
    for _ in range(raised_sentences - 1):
        t = put(1, say("You have to let me look at it first before you shout!", **raised), t + 0.4)
    call.back_s = t + 0.5
    t = put(1, say("I am sorry. Let me check the charges on your account now."), t + 0.5)
    t = put(1, say("I can see the second payment, and I will reverse it for you."), t + 0.4)
    t = put(0, say("Fine, how long will that take then.", pitch=45, **caller), t + 0.8)
    t = put(1, say("The money will be back on your card within three working days."), t + 0.8)
    call.escalation_s.append(t + 0.8)
    t = put(0, say("Three days? That is far too long, I need that money now!", pitch=RAISED_PITCH, gain_db=6, **caller), t + 0.8)
    t = put(1, say("I understand, that is frustrating. I will mark it as urgent for you."), t + 0.8)
    t = put(1, say("You will get a confirmation email within the hour."), t + 0.4)
    call.audio = out[: int((t + 1.0) * SR)]
    return call
