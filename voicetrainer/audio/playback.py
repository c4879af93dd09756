"""Caller playback on the headset, and the caller track on the session clock.

`Player` owns a sounddevice `OutputStream` (or an injected fake). `play()`/`stop()` hand
commands to the callback through a deque (atomic append/popleft: neither thread waits or
locks); the callback alone owns the playing clip, derives its position from the samples it has
written, copies it into the output buffer and counts samples; nothing else. Clips are resampled
to the device rate by `play()` on the caller's thread, never in the callback.

`CallerTrack` is what the caller said, placed on the session clock: the recording's caller
channel and the caller's voice activity both come from it, so the analysis knows exactly when
the caller was speaking.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicetrainer import get_logger
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.errors import DeviceError

log = get_logger(__name__)

FADE_MS = 30  # a line cut short fades out over this long (no click)


def _sounddevice_output_stream(**kwargs):
    try:
        import sounddevice as sd
    except OSError as e:
        raise DeviceError("PortAudio library not found; install it with `apt-get install libportaudio2`") from e
    return sd.OutputStream(**kwargs)


def resample(audio: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    if in_rate == out_rate:
        return np.ascontiguousarray(audio, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(audio, dtype=np.float32), in_rate, out_rate, quality="HQ").astype(np.float32)


@dataclass
class PlayerStats:
    blocks: int = 0
    underflows: int = 0
    samples_out: int = 0  # output position, in device samples, since the stream started


class Player:
    """Plays one clip at a time on an output device.

    Args:
        device: sounddevice output device (name or index); None = default.
        sample_rate: device rate; None = the device's default rate.
        stream_factory: called like ``sounddevice.OutputStream(**kwargs)``; tests inject fakes.
    """

    def __init__(self, *, device=None, sample_rate: int | None = None, blocksize_ms: float = 20.0,
                 stream_factory: Callable | None = None):
        self.device = device
        self.requested_rate = sample_rate
        self.blocksize_ms = blocksize_ms
        self._factory = stream_factory or _sounddevice_output_stream
        self._stream = None
        self.sample_rate: int | None = None
        self.stats = PlayerStats()
        # play()/stop() hand commands to the audio thread through a deque (append and popleft
        # are atomic: neither side ever waits); everything below the deque is the callback's own
        self._commands: deque[np.ndarray | None] = deque()  # a clip to play now, or None = stop
        self._clip: np.ndarray | None = None  # callback-owned: the clip playing
        self._clip_start_out = 0  # callback-owned: stats.samples_out when the clip started
        self._clip_end = 0  # callback-owned: samples of the clip to play (shortened by a stop)
        self._fade_at: int | None = None  # callback-owned: clip position where the fade starts
        self._ramp = np.zeros(0, dtype=np.float32)  # the stop fade, made once the rate is known
        self.latency_s = 0.0

    # The audio thread: take commands, copy, count. No allocation beyond what sounddevice hands
    # us (slices are views; the fade multiplies in place).
    def _callback(self, outdata, frames, time_info, status) -> None:
        st = self.stats
        st.blocks += 1
        if status and getattr(status, "output_underflow", False):
            st.underflows += 1
        while self._commands:
            cmd = self._commands.popleft()
            if cmd is None:  # stop: fade out from here
                if self._clip is not None:
                    pos = st.samples_out - self._clip_start_out
                    self._fade_at = pos
                    self._clip_end = min(self._clip_end, pos + len(self._ramp))
            else:
                self._clip, self._clip_start_out, self._clip_end, self._fade_at = cmd, st.samples_out, len(cmd), None
        clip = self._clip
        if clip is None:
            outdata.fill(0)
        else:
            pos = st.samples_out - self._clip_start_out  # the position is samples out, nothing else
            n = max(0, min(frames, self._clip_end - pos))
            out = outdata[:, 0]
            out[:n] = clip[pos : pos + n]
            out[n:] = 0
            if self._fade_at is not None and n:
                a = max(pos, self._fade_at)
                out[a - pos : n] *= self._ramp[a - self._fade_at : pos + n - self._fade_at]
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            if pos + n >= self._clip_end:
                self._clip = None
        st.samples_out += frames

    def __enter__(self) -> "Player":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        rate = self.requested_rate or self._default_rate()
        try:
            self._stream = self._factory(
                device=self.device, channels=1, samplerate=rate, dtype="float32",
                blocksize=int(rate * self.blocksize_ms / 1000), callback=self._callback,
            )
        except DeviceError:
            raise
        except Exception as e:
            from voicetrainer.audio.sources import _device_help

            raise DeviceError(_device_help(self.device, e, kind="output")) from e
        self.sample_rate = int(getattr(self._stream, "samplerate", rate) or rate)
        n = max(1, int(self.sample_rate * FADE_MS / 1000))
        self._ramp = np.linspace(1.0, 0.0, n, dtype=np.float32)
        lat = getattr(self._stream, "latency", 0.0)
        self.latency_s = float(lat if isinstance(lat, (int, float)) else 0.0)
        self._stream.start()

    def _default_rate(self) -> int:
        if self._factory is not _sounddevice_output_stream:
            return SAMPLE_RATE
        try:
            import sounddevice as sd

            return int(sd.query_devices(self.device, kind="output")["default_samplerate"])
        except Exception as e:
            from voicetrainer.audio.sources import _device_help

            raise DeviceError(_device_help(self.device, e, kind="output")) from e

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as e:
                log.warning("closing the output stream failed: %s", e)
            self._stream = None

    @property
    def playing(self) -> bool:
        """A clip is playing or queued (read without a lock: the callback owns the state)."""
        return self._clip is not None or bool(self._commands)

    def play(self, audio_16k: np.ndarray) -> None:
        """Start playing a 16 kHz mono clip at the next audio block (replacing anything playing).
        Resampled here, on the caller's thread, never in the callback."""
        self._commands.append(resample(audio_16k, SAMPLE_RATE, self.sample_rate or SAMPLE_RATE))

    def stop(self) -> None:
        """Cut the current clip with a short fade (from the next audio block)."""
        self._commands.append(None)


class NullPlayer:
    """A player for accelerated simulation: nothing is played, the caller track is the truth."""

    sample_rate = SAMPLE_RATE
    latency_s = 0.0

    def __init__(self):
        self.stats = PlayerStats()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def open(self):
        pass

    def close(self):
        pass

    playing = False

    def play(self, audio_16k):
        self.stats.samples_out += len(audio_16k)

    def stop(self):
        pass


class CallerTrack:
    """Caller audio placed on the session clock (16 kHz samples), read frame by frame.

    Only clips that have not finished are kept, so memory is bounded by the current line.
    """

    def __init__(self):
        self._clips: list[tuple[int, np.ndarray, dict]] = []  # (start_sample, audio, info)
        self._zero = np.zeros(FRAME_SAMPLES, dtype=np.float32)

    def add(self, audio: np.ndarray, start_s: float, info: dict | None = None) -> tuple[float, float]:
        start = int(round(start_s * SAMPLE_RATE))
        self._clips.append((start, np.asarray(audio, dtype=np.float32), info or {}))
        return start / SAMPLE_RATE, (start + len(audio)) / SAMPLE_RATE

    def cut(self, at_s: float) -> float | None:
        """Stop every clip at `at_s` (with a fade); returns when the last one now ends."""
        at = int(round(at_s * SAMPLE_RATE))
        fade = int(SAMPLE_RATE * FADE_MS / 1000)
        out = []
        end = None
        for start, audio, info in self._clips:
            keep = max(0, at - start)
            if keep < len(audio):
                n = min(fade, len(audio) - keep)
                audio = audio[: keep + n].copy()
                audio[keep:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
                info = {**info, "cut_at_s": at_s}
            out.append((start, audio, info))
            end = (start + len(audio)) / SAMPLE_RATE
        self._clips = out
        return end

    def end_s(self) -> float:
        return max(((s + len(a)) / SAMPLE_RATE for s, a, _ in self._clips), default=0.0)

    def active(self, t_s: float) -> bool:
        k = int(round(t_s * SAMPLE_RATE))
        return any(s <= k < s + len(a) for s, a, _ in self._clips)

    def read(self, index: int) -> np.ndarray:
        """The caller samples of frame `index` [shape=(320,)]; finished clips are dropped."""
        a0 = index * FRAME_SAMPLES
        a1 = a0 + FRAME_SAMPLES
        if not self._clips:
            return self._zero
        out = None
        keep = []
        for start, audio, info in self._clips:
            end = start + len(audio)
            if end <= a0:
                continue  # finished: forget it
            keep.append((start, audio, info))
            if start >= a1:
                continue
            if out is None:
                out = np.zeros(FRAME_SAMPLES, dtype=np.float32)
            lo, hi = max(a0, start), min(a1, end)
            out[lo - a0 : hi - a0] += audio[lo - start : hi - start]
        self._clips = keep
        return self._zero if out is None else out
