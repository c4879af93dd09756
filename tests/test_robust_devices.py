"""Device faults with fake streams: overflow, a full queue, a stalled or vanished microphone,
a device that refuses 16 kHz, a failing start, output underflow. No sound card needed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.audio.fakes import FakeOutputStream, input_factory, output_factory
from voicetrainer.audio.recorder import SessionRecorder
from voicetrainer.audio.sources import MicSource
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.errors import DeviceError

from conftest import shared_audio_path

JFK = str(shared_audio_path() / "speech" / "jfk.wav")
needs_jfk = pytest.mark.skipif(not Path(JFK).exists(), reason=f"shared real audio not found ({JFK}); set VOICETRAINER_SHARED")


def tone(seconds: float, rate: int = SAMPLE_RATE, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@needs_jfk
def test_frames_match_the_file_and_overflows_are_counted():
    fac = input_factory(JFK, realtime=True, speed=20.0, overflow_every=25)
    frames = []
    with MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE) as mic:
        for f in mic:
            frames.append(f.channel(0).copy())
            if len(frames) == 250:  # 5 s
                mic.stop()
    got = np.concatenate(frames)
    want, _ = sf.read(JFK, dtype="float32")
    assert np.allclose(got, want[: len(got)], atol=1e-6)  # same samples as the file, in order
    assert mic.stats.overflows >= 9  # one every 25 blocks (0.5 s), call went on
    assert mic.stats.dropped_blocks == 0


def test_full_queue_drops_and_counts_and_never_blocks_the_callback():
    fac = input_factory(tone(20.0), realtime=False, at_end="stop")  # 1000 blocks as fast as the CPU
    with MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE, queue_blocks=20) as mic:
        stream = fac.streams[-1]
        t0 = time.monotonic()
        while stream.active and time.monotonic() - t0 < 10:  # nobody consumes: the queue fills
            time.sleep(0.01)
        assert stream.blocks_done == 1000  # the callback ran to the end with the queue full
        assert mic.stats.blocks == 1000 and mic.stats.dropped_blocks == 980 and mic._queue.qsize() == 20
        mic.stop()


@needs_jfk
@pytest.mark.parametrize("fault", ["stall_after_s", "vanish_after_s"])
def test_dead_microphone_is_noticed_within_2_s_and_the_session_is_saved_as_aborted(tmp_path, fault):
    fac = input_factory(JFK, realtime=True, speed=4.0, **{fault: 3.0})  # 3 s of audio, then nothing
    session = tmp_path / "s"
    with pytest.raises(DeviceError, match="stopped delivering audio.*session so far has been saved") as err:
        with SessionRecorder(session, meta={"persona": "p"}) as rec, \
                MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE, stall_timeout_s=2.0) as mic:
            for frame in mic:
                rec.write(np.repeat(frame.samples, 2, axis=1))
    noticed_after = time.monotonic() - fac.streams[-1].stalled_monotonic
    # 2 s watchdog + one 0.1 s poll; the rest of the margin is thread scheduling on a loaded
    # 2-core machine (seen: +0.18 s at load 11). A broken watchdog waits 5 s or forever.
    assert 1.9 <= noticed_after < 2.8, noticed_after
    meta = json.loads((session / "session.json").read_text())
    assert meta["status"] == "aborted"
    assert "headset unplugged" in meta["error"] and "saved" in str(err.value)
    kept = sf.info(session / "call.wav").frames / SAMPLE_RATE
    assert 2.9 <= kept <= 3.05  # every frame delivered before the stall is on disk


def test_device_refusing_16k_is_opened_at_its_native_rate_and_resampled():
    audio48 = tone(2.0, rate=48000, hz=440.0)
    fac = input_factory(audio48, realtime=False, supported_rates=[44100, 48000], native_rate=48000)
    frames = []
    with MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE, queue_blocks=1000) as mic:
        assert mic.native_rate_fallback and mic.sample_rate == 48000
        assert [a["samplerate"] for a in fac.attempts] == [16000, 48000]
        assert fac.attempts[1]["blocksize"] == 960  # 20 ms at the native rate
        for f in mic:
            frames.append(f.channel(0).copy())
            if len(frames) == 90:
                mic.stop()
    got = np.concatenate(frames)[3200:]  # skip the resampler's start
    assert all(len(f) == FRAME_SAMPLES for f in frames)
    spectrum = np.abs(np.fft.rfft(got * np.hanning(len(got))))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(got) - 440.0) < 5.0  # still a 440 Hz tone at 16 kHz


def test_device_refusing_every_rate_raises_a_device_error_saying_what_to_do():
    fac = input_factory(tone(1.0), supported_rates=[44100], native_rate=48000)
    with pytest.raises(DeviceError, match="cannot open the default input device.*voicetrainer devices"):
        MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE).open()


def test_stream_that_fails_to_start_is_a_device_error():
    fac = input_factory(tone(1.0), fail_on_start=True)
    with pytest.raises(DeviceError, match="Unanticipated host error"):
        with MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE):
            pass


def test_fake_output_stream_captures_playback_and_counts_underflow():
    src = tone(1.0)
    pos = [0]
    underflows = [0]

    def callback(outdata, frames, time_info, status):
        if status.output_underflow:
            underflows[0] += 1
        chunk = src[pos[0] : pos[0] + frames]
        outdata[: len(chunk), 0] = chunk
        pos[0] += frames
        if len(chunk) < frames:
            import sounddevice as sd

            raise sd.CallbackStop

    done = threading.Event()
    stream = output_factory(realtime=False, underflow_every=10)(
        samplerate=SAMPLE_RATE, blocksize=320, channels=1, callback=callback, finished_callback=done.set,
    )
    assert isinstance(stream, FakeOutputStream)
    with stream:
        assert done.wait(5)
    played = stream.captured[:, 0]
    assert np.array_equal(played[: len(src)], src)
    assert underflows[0] == stream.underflows_injected == len(stream.played) // 10


def test_dropped_blocks_come_back_as_silence_so_the_session_clock_stays_on_the_device_clock():
    n = 300
    src = [np.full((320, 1), (k + 1) / 1000, np.float32) for k in range(n)]  # block k holds (k+1)/1000
    fac = input_factory(src, realtime=True, speed=10.0, at_end="stop")  # a block every 2 ms
    got = []
    with MicSource(stream_factory=fac, sample_rate=SAMPLE_RATE, queue_blocks=20) as mic:
        for block in mic.blocks():
            got.append(block[:, 0].copy())
            if len(got) == 10:
                time.sleep(0.3)  # the consumer stalls: the callback drops what does not fit
            if len(got) == n:  # else the watchdog ends the loop with DeviceError
                mic.stop()
    assert mic.stats.dropped_blocks > 50 and mic.stats.silence_filled == mic.stats.dropped_blocks
    assert len(got) == n  # every block position accounted for: real or silence
    for j, b in enumerate(got):
        assert np.all(b == 0) or np.allclose(b, (j + 1) / 1000), j  # nothing shifted in time


class OneWordTranscriber:
    def transcribe(self, audio, *, offset_s: float = 0.0):
        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        return Transcript([Word("sorry", offset_s + 0.2, offset_s + 0.6, 0.9)], "sorry")


@needs_jfk
def test_device_faults_reach_the_session_report_and_the_call_goes_on(tmp_path):
    """Overflows on the mic, underflows on the speaker, then the headset is pulled: the session
    is saved as aborted, and grading it reports every fault."""
    from voicetrainer.session.grader import grade

    trainee, _ = sf.read(JFK, dtype="float32")
    mic_fac = input_factory(np.concatenate([np.zeros(SAMPLE_RATE, np.float32), trainee]),
                            realtime=True, speed=8.0, overflow_every=50, stall_after_s=8.0)
    underflows = [0]

    def play(outdata, frames, time_info, status):
        underflows[0] += bool(status.output_underflow)
        outdata[:] = 0.0

    speaker = output_factory(realtime=True, speed=8.0, underflow_every=40, capture=False)(
        samplerate=SAMPLE_RATE, blocksize=FRAME_SAMPLES, channels=1, callback=play)
    session = tmp_path / "s"
    rec = SessionRecorder(session, meta={"persona": "p", "trainee": "t"})
    mic = MicSource(stream_factory=mic_fac, sample_rate=SAMPLE_RATE)
    with speaker, mic:
        try:
            for frame in mic:
                both = np.zeros((FRAME_SAMPLES, 2), np.float32)
                both[:, 1] = frame.channel(0)
                rec.write(both)
        except DeviceError as e:
            faults = {"input_overflows": mic.stats.overflows, "dropped_blocks": mic.stats.dropped_blocks,
                      "output_underflows": underflows[0]}
            rec.close("aborted", error=str(e), audio_faults=faults)
    assert rec.status == "aborted"
    assert faults["input_overflows"] >= 7 and faults["output_underflows"] >= 1
    report = grade(session, transcriber=OneWordTranscriber())
    assert report.duration_s == pytest.approx(8.0, abs=0.05)
    assert report.source["session_status"] == "aborted" and report.source["audio_faults"] == faults
    text = " | ".join(report.warnings)
    assert f"{faults['input_overflows']} input overflow(s)" in text
    assert f"{faults['output_underflows']} output underflow(s)" in text
    assert "the session ended early: the microphone stopped delivering audio" in text
    assert any(t.speaker == "trainee" and "sorry" in t.text for t in report.turns)
