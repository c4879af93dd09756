"""Live practice on the real sounddevice path, with PulseAudio virtual devices.

A user-level PulseAudio daemon with a null sink is started per module. The caller is played on
the `pulse` output; the microphone is the sink's monitor, so it hears exactly what was played,
as a headset wearer would. That measures what no fake can: the recorded caller channel (what
the session says it played, and when) against what actually came back through the audio system.
A second test feeds a virtual microphone (pipe source) with a real spoken answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.pulse
SR = 16_000
REPO = Path(__file__).resolve().parents[1]


def _reinit_portaudio():
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="module")
def pulse():
    if not shutil.which("pulseaudio") or not shutil.which("pactl"):
        pytest.skip("pulseaudio/pactl not installed (apt-get install pulseaudio pulseaudio-utils)")
    runtime = tempfile.mkdtemp(prefix="vt-pulse-")
    env = {**os.environ, "PULSE_RUNTIME_PATH": runtime}
    old = os.environ.get("PULSE_RUNTIME_PATH")
    cmd = ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
           "--load=module-null-sink sink_name=vsink rate=48000", "--load=module-always-sink"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        pytest.skip(f"PulseAudio daemon could not start: {r.stderr.strip()[-300:]}")
    os.environ["PULSE_RUNTIME_PATH"] = runtime

    def pactl(*args):
        return subprocess.run(["pactl", *args], env=env, capture_output=True, text=True, timeout=10, check=True).stdout

    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    _reinit_portaudio()
    yield pactl
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=10)
    if old is None:
        os.environ.pop("PULSE_RUNTIME_PATH", None)
    else:
        os.environ["PULSE_RUNTIME_PATH"] = old
    _reinit_portaudio()
    shutil.rmtree(runtime, ignore_errors=True)


@dataclass
class _Line:
    text: str
    situation: str = "line"
    mood: float = 5.0
    ends_call: bool = False
    decisions: list = field(default_factory=list)


class _Mind:
    """Says its lines in order; the last one ends the call. Talks on when interrupted."""

    def __init__(self, lines):
        self.lines = list(lines)

    def opening(self):
        return self.lines.pop(0)

    def respond(self, obs):
        return self.lines.pop(0) if self.lines else _Line("Goodbye.", ends_call=True)

    def on_interrupted(self, t_s):
        return None


def _voice(line):
    """A voiced test signal: 160 Hz with harmonics, syllable envelope, 0.35 s per word."""
    n = int(SR * 0.35 * len(line.text.split()))
    t = np.arange(n) / SR
    y = sum(np.sin(2 * np.pi * 160 * k * t) / k for k in (1, 2, 3)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.25 * y / np.abs(y).max()).astype(np.float32)


def _run(tmp_path, mind, *, mic_device, transcriber=None):
    from voicetrainer.audio.playback import Player
    from voicetrainer.audio.recorder import SessionRecorder
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.session.live import LiveOptions, LiveSession

    with Player(device="pulse") as player, MicSource(device=mic_device) as mic:
        with SessionRecorder(tmp_path / "s", meta={"persona": "test"}) as rec:
            sess = LiveSession(mind=mind, voice=_voice, player=player, recorder=rec, transcriber=transcriber,
                               options=LiveOptions(realtime=True, max_call_s=25, silence_check_s=30),
                               now_s=lambda index: mic.stats.blocks * mic.blocksize_ms / 1000)
            out = sess.run(mic)
    return out, tmp_path / "s" / "call.wav", mic, player


def test_recorded_caller_channel_is_aligned_with_what_was_heard(pulse, tmp_path):
    pulse("set-default-source", "vsink.monitor")
    mind = _Mind([_Line("one two three four five six"), _Line("seven eight nine ten", ends_call=True)])
    out, wav, mic, player = _run(tmp_path, mind, mic_device="pulse")
    audio, rate = sf.read(wav, always_2d=True)
    caller, heard = audio[:, 0], audio[:, 1]
    assert np.abs(caller).max() > 0.1, "no caller audio was scheduled"
    assert np.sqrt(np.mean(heard**2)) > 0.01, "the caller's audio did not reach the output (monitor heard nothing)"
    # lag of `heard` behind `caller` by cross-correlation of the envelopes (10 ms resolution)
    hop = rate // 100
    env = lambda x: np.abs(x[: len(x) // hop * hop]).reshape(-1, hop).mean(axis=1)  # noqa: E731
    a, b = env(caller), env(heard)
    a, b = a - a.mean(), b - b.mean()
    lags = range(-30, 31)
    corr = [np.dot(a[max(0, -l): len(a) - max(0, l)], b[max(0, l): len(b) - max(0, -l)]) for l in lags]
    lag_s = lags[int(np.argmax(corr))] * hop / rate
    assert abs(lag_s) <= 0.05, f"recorded channels misaligned by {lag_s * 1000:.0f} ms"
    assert mic.stats.dropped_blocks == 0


def test_spoken_answer_on_a_virtual_microphone_is_transcribed_and_interrupts(pulse, tmp_path, transcriber, shared_audio):
    fifo = tmp_path / "mic.fifo"  # created by module-pipe-source
    pulse("load-module", "module-pipe-source", "source_name=vmic", f"file={fifo}", "format=s16le", "rate=16000", "channels=1")
    pulse("set-default-source", "vmic")
    answer, _ = sf.read(shared_audio / "speech" / "librivox_0880.wav", dtype="float32")
    # the answer starts 1.5 s into the caller's 3.5 s opening line (an interruption)
    script = np.concatenate([np.zeros(int(SR * 2.0)), answer, np.zeros(int(SR * 12))]).astype(np.float32)
    pcm = (np.clip(script, -1, 1) * 32767).astype("<i2").tobytes()
    started = threading.Event()

    def feed():
        with open(fifo, "wb", buffering=0) as f:
            started.set()
            step = SR // 50 * 2  # 20 ms of s16le
            t0 = time.monotonic()
            for i in range(0, len(pcm), step):
                try:
                    f.write(pcm[i : i + step])
                except BrokenPipeError:  # the test's daemon went away first
                    return
                delay = t0 + (i // step + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    th = threading.Thread(target=feed, daemon=True)
    th.start()
    mind = _Mind([_Line("I want my money back right now"), _Line("Fine, thank you", ends_call=True)])
    out, wav, mic, player = _run(tmp_path, mind, mic_device="pulse", transcriber=transcriber)
    th.join(timeout=30)
    events = out.events
    turns = [e for e in events if e["type"] == "trainee_turn"]
    text = " ".join(e["text"] for e in turns).lower()
    assert "young man" in text, text
    assert any(e["type"] == "barge_in" for e in events), "the answer during the caller's line was not detected"
    assert out.latency.barge_in_p50_s is not None and out.latency.barge_in_p50_s < 0.3
