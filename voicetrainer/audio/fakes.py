"""Test doubles for sounddevice streams: no sound card needed.

`FakeInputStream` plays a file (or an array, or a list of blocks) into a callback from its own
thread, exactly like ``sounddevice.InputStream(callback=...)``, and can inject the faults real
devices have: overflow flags, a stall (the headset unplugged: callbacks stop), a vanished
device (callbacks stop and ``stop``/``close`` raise), a refused sample rate, a failing start.
`FakeOutputStream` asks its callback for blocks and keeps what would have been played, with
underflow flags injected on request.

Both can run in real time, on an accelerated clock (``speed=30``), or as fast as possible
(``realtime=False``). Use `input_factory` / `output_factory` to get a ``stream_factory`` for
`voicetrainer.audio.sources.MicSource` or the player.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetrainer.config import SAMPLE_RATE


class FakeDeviceError(RuntimeError):
    """Raised where a real PortAudio stream would raise ``sounddevice.PortAudioError``."""


@dataclass
class FakeCallbackFlags:
    """Quacks like ``sounddevice.CallbackFlags``: true if any flag is set."""

    input_underflow: bool = False
    input_overflow: bool = False
    output_underflow: bool = False
    output_overflow: bool = False
    priming_output: bool = False

    def __bool__(self) -> bool:
        return any((self.input_underflow, self.input_overflow, self.output_underflow,
                    self.output_overflow, self.priming_output))


@dataclass
class FakeTimeInfo:
    """Quacks like the ``time`` argument of a sounddevice callback (stream clock, seconds)."""

    inputBufferAdcTime: float = 0.0
    outputBufferDacTime: float = 0.0
    currentTime: float = 0.0


def _callback_stop_types() -> tuple[type, ...]:
    try:
        import sounddevice as sd

        return (sd.CallbackStop, sd.CallbackAbort)
    except (ImportError, OSError):  # pragma: no cover - PortAudio missing
        return ()


def _load(source, rate: int, channels: int) -> np.ndarray:
    """Audio [shape=(n, channels)] float32 at `rate` from a path, an array or a list of blocks."""
    if isinstance(source, (str, Path)):
        import soundfile as sf

        data, file_rate = sf.read(str(source), dtype="float32", always_2d=True)
    else:
        if isinstance(source, np.ndarray):
            data = source
        else:
            blocks = [np.asarray(b, dtype=np.float32) for b in source]
            blocks = [b[:, None] if b.ndim == 1 else b for b in blocks]
            data = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
        data = np.asarray(data, dtype=np.float32)
        file_rate = rate
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[1] != channels:
        data = data.mean(axis=1, keepdims=True) if channels == 1 else np.repeat(data[:, :1], channels, axis=1)
    if file_rate != rate and len(data):
        import soxr

        data = soxr.resample(data, file_rate, rate, quality="HQ").astype(np.float32)
        if data.ndim == 1:
            data = data[:, None]
    return np.ascontiguousarray(data, dtype=np.float32)


class _FakeStream:
    """Shared thread and clock handling for the fake input and output streams."""

    def __init__(self, *, samplerate, blocksize, channels, callback, realtime, speed,
                 supported_rates, native_rate, fail_on_start, finished_callback, device=None, dtype="float32", **_ignored):
        if samplerate is None:
            samplerate = native_rate
        if supported_rates is not None and int(samplerate) not in supported_rates:
            raise FakeDeviceError(f"Error opening {type(self).__name__}: Invalid sample rate [PaErrorCode -9997]")
        if callback is None:
            raise ValueError("the fake streams are callback-based: pass callback=")
        self.samplerate = float(samplerate)
        self.blocksize = int(blocksize) if blocksize else int(self.samplerate * 0.02)
        self.channels = int(channels)
        self.device = device
        self.dtype = dtype
        self.callback = callback
        self.finished_callback = finished_callback
        self.speed = None if not realtime else float(speed)
        self.fail_on_start = fail_on_start
        self.latency = self.blocksize / self.samplerate
        self.active = False
        self.stopped = True
        self.closed = False
        self.blocks_done = 0
        self.error: BaseException | None = None  # an exception the callback raised
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gone = False

    @property
    def time(self) -> float:
        """Stream time in seconds (samples delivered / rate)."""
        return self.blocks_done * self.blocksize / self.samplerate

    def start(self) -> None:
        if self.closed:
            raise FakeDeviceError("Stream is closed")
        if self.fail_on_start:
            raise FakeDeviceError("Error starting stream: Unanticipated host error [PaErrorCode -9999]")
        if self.active:
            return
        self._stop.clear()
        self.active, self.stopped = True, False
        self._thread = threading.Thread(target=self._run, name=f"{type(self).__name__}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.active, self.stopped = False, True
        if self._gone:
            raise FakeDeviceError("Error stopping stream: Device unavailable [PaErrorCode -9985]")

    abort = stop

    def close(self, ignore_errors: bool = True) -> None:
        try:
            self.stop()
        finally:
            self.closed = True

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def _pace(self, t0: float) -> None:
        """Sleep until the current block is due on the (possibly accelerated) clock."""
        if self.speed is None:
            return
        due = t0 + self.blocks_done * self.blocksize / self.samplerate / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _finish(self) -> None:
        self.active = False
        if self.finished_callback is not None:
            self.finished_callback()


class FakeInputStream(_FakeStream):
    """A callback input stream fed from a file, an array [shape=(n, channels)] or blocks.

    Args:
        source: WAV path (resampled to the stream's rate), array or iterable of blocks at the
            stream's rate.
        samplerate: stream rate in Hertz; None = `native_rate` (as sounddevice does).
        blocksize: samples per callback (default 20 ms).
        realtime: pace callbacks on the wall clock divided by `speed`; False = as fast as possible.
        stall_after_s: stream time after which callbacks silently stop (a stalled device).
        vanish_after_s: like a stall, and ``stop``/``close`` then raise (device unplugged).
        overflow_every: set ``input_overflow`` on every N-th callback.
        fail_on_start: ``start()`` raises.
        supported_rates: rates the "device" accepts; others raise on open, like PortAudio.
        native_rate: the device's default rate.
        at_end: "silence" (keep delivering zeros, like an idle mic), "stop" (callbacks stop and
            ``finished_callback`` runs) or "loop".
    """

    def __init__(self, source, *, samplerate: float | None = None, blocksize: int | None = None,
                 channels: int = 1, callback: Callable | None = None, realtime: bool = True, speed: float = 1.0,
                 stall_after_s: float | None = None, vanish_after_s: float | None = None,
                 overflow_every: int | None = None, fail_on_start: bool = False,
                 supported_rates: Iterable[int] | None = None, native_rate: int = SAMPLE_RATE,
                 at_end: str = "silence", finished_callback: Callable | None = None, **kwargs):
        super().__init__(samplerate=samplerate, blocksize=blocksize, channels=channels, callback=callback,
                         realtime=realtime, speed=speed,
                         supported_rates=None if supported_rates is None else {int(r) for r in supported_rates},
                         native_rate=native_rate, fail_on_start=fail_on_start,
                         finished_callback=finished_callback, **kwargs)
        if at_end not in ("silence", "stop", "loop"):
            raise ValueError(f"at_end must be silence, stop or loop, got {at_end!r}")
        self.audio = _load(source, int(self.samplerate), self.channels)
        self.stall_after_s = vanish_after_s if vanish_after_s is not None else stall_after_s
        self.vanish = vanish_after_s is not None
        self.overflow_every = overflow_every
        self.at_end = at_end
        self.overflows_injected = 0
        self.stalled = False
        self.stalled_monotonic: float | None = None  # time.monotonic() when callbacks stopped

    def _next_block(self, pos: int) -> np.ndarray | None:
        n = self.blocksize
        block = self.audio[pos : pos + n]
        if len(block) == n:
            return block
        if self.at_end == "stop":
            return None
        if self.at_end == "loop" and len(self.audio):
            reps = self.audio[: n - len(block)]
            return np.concatenate([block, reps])[:n] if len(block) else self.audio[:n]
        out = np.zeros((n, self.channels), np.float32)
        out[: len(block)] = block
        return out

    def _run(self) -> None:
        t0 = time.monotonic()
        pos = 0
        stop_types = _callback_stop_types()
        while not self._stop.is_set():
            if self.stall_after_s is not None and self.time >= self.stall_after_s:
                self.stalled_monotonic = time.monotonic()
                self.stalled = True
                self._gone = self.vanish
                self._stop.wait()  # silent: a stalled device just stops calling back
                return
            block = self._next_block(pos)
            if block is None:
                self._finish()
                return
            pos = pos + self.blocksize if self.at_end != "loop" or len(self.audio) == 0 else (pos + self.blocksize) % len(self.audio)
            status = FakeCallbackFlags()
            if self.overflow_every and (self.blocks_done + 1) % self.overflow_every == 0:
                status.input_overflow = True
                self.overflows_injected += 1
            now = self.time
            try:
                self.callback(block.copy(), self.blocksize, FakeTimeInfo(inputBufferAdcTime=now, currentTime=now), status)
            except stop_types:
                self._finish()
                return
            except Exception as e:  # a real stream aborts on a callback exception
                self.error = e
                self._finish()
                return
            self.blocks_done += 1
            self._pace(t0)


class FakeOutputStream(_FakeStream):
    """A callback output stream that keeps what would have been played.

    Each callback gets a zeroed ``outdata`` [shape=(blocksize, channels)] to fill. Raising
    ``sounddevice.CallbackStop`` ends the stream after that block (as sounddevice does).

    Attributes:
        played: list of the blocks the callback filled (copies); `captured` joins them.
        underflows_injected: callbacks that got ``output_underflow`` set (every `underflow_every`).
        block_times: stream time (seconds) at which each block started playing.
        capture: keep the played blocks (False for long soaks: memory stays flat).
    """

    def __init__(self, *, samplerate: float | None = None, blocksize: int | None = None, channels: int = 1,
                 callback: Callable | None = None, realtime: bool = True, speed: float = 1.0,
                 underflow_every: int | None = None, fail_on_start: bool = False,
                 supported_rates: Iterable[int] | None = None, native_rate: int = SAMPLE_RATE,
                 vanish_after_s: float | None = None, max_s: float | None = None, capture: bool = True,
                 finished_callback: Callable | None = None, **kwargs):
        super().__init__(samplerate=samplerate, blocksize=blocksize, channels=channels, callback=callback,
                         realtime=realtime, speed=speed,
                         supported_rates=None if supported_rates is None else {int(r) for r in supported_rates},
                         native_rate=native_rate, fail_on_start=fail_on_start,
                         finished_callback=finished_callback, **kwargs)
        self.underflow_every = underflow_every
        self.underflows_injected = 0
        self.vanish_after_s = vanish_after_s
        self.max_s = max_s
        self.capture = capture
        self.played: list[np.ndarray] = []
        self.block_times: list[float] = []
        self._lock = threading.Lock()

    @property
    def captured(self) -> np.ndarray:
        """Everything played so far [shape=(n, channels)]."""
        with self._lock:
            blocks = list(self.played)
        return np.concatenate(blocks) if blocks else np.zeros((0, self.channels), np.float32)

    def _run(self) -> None:
        t0 = time.monotonic()
        stop_types = _callback_stop_types()
        while not self._stop.is_set():
            if self.vanish_after_s is not None and self.time >= self.vanish_after_s:
                self._gone = True
                self._stop.wait()
                return
            if self.max_s is not None and self.time >= self.max_s:
                self._finish()
                return
            out = np.zeros((self.blocksize, self.channels), np.float32)
            status = FakeCallbackFlags()
            if self.underflow_every and (self.blocks_done + 1) % self.underflow_every == 0:
                status.output_underflow = True
                self.underflows_injected += 1
            now = self.time
            stop = False
            try:
                self.callback(out, self.blocksize, FakeTimeInfo(outputBufferDacTime=now, currentTime=now), status)
            except stop_types:
                stop = True
            except Exception as e:
                self.error = e
                self._finish()
                return
            if self.capture:
                with self._lock:
                    self.played.append(out.copy())
                    self.block_times.append(now)
            self.blocks_done += 1
            if stop:
                self._finish()
                return
            self._pace(t0)


def input_factory(source, **faults) -> Callable[..., FakeInputStream]:
    """A ``stream_factory`` for `MicSource`: ``factory(**sounddevice_kwargs)`` -> `FakeInputStream`.

    ``factory.attempts`` lists the keyword arguments of every open attempt (refused ones too),
    ``factory.streams`` the streams made (the last one is the open one), and
    ``factory.default_samplerate`` is the "device's" native rate, which `MicSource` falls back to.
    """
    def factory(**kwargs) -> FakeInputStream:
        factory.attempts.append(dict(kwargs))
        stream = FakeInputStream(source, **{**faults, **kwargs})
        factory.streams.append(stream)
        return stream

    factory.attempts = []
    factory.streams = []
    factory.default_samplerate = faults.get("native_rate", SAMPLE_RATE)
    return factory


def output_factory(**options) -> Callable[..., FakeOutputStream]:
    """A ``stream_factory`` for the player: ``factory(**sounddevice_kwargs)`` -> `FakeOutputStream`."""
    def factory(**kwargs) -> FakeOutputStream:
        stream = FakeOutputStream(**{**options, **kwargs})
        factory.streams.append(stream)
        return stream

    factory.streams = []
    factory.default_samplerate = options.get("native_rate", SAMPLE_RATE)
    return factory
