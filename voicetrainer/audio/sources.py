"""Audio sources: a file and a microphone yield the same `Iterator[Frame]`.

`FileSource` streams a WAV/FLAC of any rate and channel count in blocks (never loads a long
file whole). `MicSource` wraps a sounddevice `InputStream` whose callback only copies the block
into a bounded queue; a full queue drops the block and counts it, never blocks the callback.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.frames import Frame, Reframer
from voicetrainer.audio.riff import read_wav_layout
from voicetrainer.config import SAMPLE_RATE
from voicetrainer.errors import AudioInputError, DeviceError

log = get_logger(__name__)

READ_BLOCK_S = 1.0  # file read granularity; memory per channel = rate * 1 s


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds. `duration_s` is what can actually be read."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def telephone_band(self) -> bool:
        return self.sample_rate <= 8000 or self.subtype in ("ULAW", "ALAW", "GSM610")


def _wav_truncation(path: Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file: (declared data bytes, present data bytes) if the data chunk is cut short."""
    try:
        with path.open("rb") as f:
            layout = read_wav_layout(f)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    if layout is None:
        return None
    present = size - layout.data_offset
    # 0 and 0xFFFFFFFF are "unknown length" markers written by streaming writers
    if layout.data_bytes not in (0, 0xFFFFFFFF) and present < layout.data_bytes:
        return layout.data_bytes, present
    return None


def probe_audio(path: str | Path) -> AudioInfo:
    """Check that `path` is readable audio with samples in it; raise `AudioInputError` naming why not."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioInputError("file not found", path=p)
    if p.is_dir():
        raise AudioInputError("is a folder, expected an audio file", path=p)
    if p.stat().st_size == 0:
        raise AudioInputError("file is empty (0 bytes)", path=p)
    try:
        info = sf.info(os.fsencode(p))  # bytes: a file name need not be UTF-8
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioInputError(
            f"not a readable audio file ({str(e).strip() or 'format not recognised'}); expected WAV or FLAC",
            path=p,
        ) from e
    if info.frames <= 0:
        raise AudioInputError("the file has a header but no audio samples", path=p)
    cut = _wav_truncation(p)
    if cut:
        declared, present = cut
        frac = present / declared
        raise AudioInputError(
            f"file is truncated: the header promises {declared} bytes of audio, only {present} "
            f"({frac:.0%}) are there; if it is a session recording, run `voicetrainer recover`",
            path=p,
        )
    return AudioInfo(str(p), int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def finite_samples(data: np.ndarray) -> tuple[np.ndarray, int]:
    """(`data` with NaN/Inf samples set to 0 and the rest clipped to [-1, 1], how many were NaN/Inf).

    A float WAV can hold any float; one non-finite sample would make every later measure NaN.
    """
    bad = ~np.isfinite(data)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        data = np.where(bad, np.float32(0.0), data)
    return np.clip(data, -1.0, 1.0), n_bad


class FileSource:
    """Frames from an audio file, streamed in 1 s blocks, resampled to 16 kHz.

    Iterating yields `Frame`s with ``samples.shape == (320, channels)``; `channels` selects and
    orders the file's channels (default: all).
    """

    def __init__(self, path: str | Path, *, channels: list[int] | None = None, info: AudioInfo | None = None):
        self.info = info or probe_audio(path)
        self.path = Path(path)
        self.channels = channels if channels is not None else list(range(self.info.channels))
        for c in self.channels:
            if not 0 <= c < self.info.channels:
                raise AudioInputError(
                    f"channel {c} requested but the file has {self.info.channels}", path=self.path
                )
        self.clipped_samples = 0
        self.samples_read = 0
        self.nonfinite_samples = 0  # NaN/Inf samples of a float file, replaced by silence

    @property
    def duration_s(self) -> float:
        return self.info.duration_s

    def __iter__(self) -> Iterator[Frame]:
        import soundfile as sf

        block = max(1, int(self.info.sample_rate * READ_BLOCK_S))
        reframer = Reframer(self.info.sample_rate, len(self.channels))
        try:
            with sf.SoundFile(os.fsencode(self.path)) as f:
                while True:
                    data = f.read(block, dtype="float32", always_2d=True)
                    last = len(data) < block
                    if len(data):
                        data = data[:, self.channels]
                        data, bad = finite_samples(data)
                        self.nonfinite_samples += bad
                        self.samples_read += len(data)
                        self.clipped_samples += int(np.count_nonzero(np.abs(data) >= 0.999))
                    yield from reframer.push(data, last=last)
                    if last:
                        break
        except sf.LibsndfileError as e:
            raise AudioInputError(f"could not read audio ({e})", path=self.path) from e


# ----------------------------------------------------------------------------- microphone

StreamFactory = Callable[..., object]
"""Makes an input stream: called like ``sounddevice.InputStream(**kwargs)``; tests inject fakes."""


def _sounddevice_input_stream(**kwargs):
    try:
        import sounddevice as sd
    except OSError as e:  # libportaudio missing
        raise DeviceError(
            "PortAudio library not found; install it with `apt-get install libportaudio2`"
        ) from e
    return sd.InputStream(**kwargs)


@dataclass
class StreamStats:
    """Counters for the session report (plain ints: each written by one thread only)."""

    blocks: int = 0
    dropped_blocks: int = 0
    overflows: int = 0
    silence_filled: int = 0  # dropped blocks the consumer replaced with silence (consumer thread)
    last_block_monotonic: float = field(default_factory=time.monotonic)


class MicSource:
    """Frames from a microphone (or anything that quacks like `sounddevice.InputStream`).

    The stream is opened at the device's native rate (``samplerate=None`` asks the device) and
    resampled to 16 kHz in the consumer, never in the callback. Use as a context manager, then
    iterate; iteration ends when `stop()` is called.

    Attributes:
        stats: blocks seen, dropped (queue full) and overflow flags, for the session report.
    """

    def __init__(
        self,
        *,
        device: int | str | None = None,
        sample_rate: int | None = None,
        blocksize_ms: float = 20.0,
        queue_blocks: int = 500,  # 10 s of 20 ms blocks
        stream_factory: StreamFactory | None = None,
        stall_timeout_s: float = 2.0,
        first_block_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.device = device
        self.requested_rate = sample_rate
        self.blocksize_ms = blocksize_ms
        self._queue: queue.Queue = queue.Queue(maxsize=queue_blocks)
        self._factory = stream_factory or _sounddevice_input_stream
        self._stream = None
        self.stats = StreamStats()
        self.stall_timeout_s = stall_timeout_s
        self.first_block_timeout_s = first_block_timeout_s
        self._clock = clock
        self._stopped = threading.Event()
        self.sample_rate: int | None = None
        self.started_monotonic: float | None = None
        self.native_rate_fallback = False  # True when the device refused `sample_rate`

    # The callback runs on the audio thread: copy, enqueue, count. Nothing else.
    def _callback(self, indata, frames, time_info, status) -> None:
        self.stats.blocks += 1
        self.stats.last_block_monotonic = self._clock()
        if status and getattr(status, "input_overflow", False):
            self.stats.overflows += 1
        try:  # the drop count rides along so the consumer can put silence where blocks were lost
            self._queue.put_nowait((self.stats.dropped_blocks, indata.copy()))
        except queue.Full:
            self.stats.dropped_blocks += 1

    def __enter__(self) -> "MicSource":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        """Open and start the stream. A device that refuses the requested rate is opened at its
        native rate instead (the consumer resamples); `native_rate_fallback` records that."""
        rates = [self.requested_rate] if self.requested_rate is not None else []
        first_error: Exception | None = None
        for attempt in range(2):
            rate = rates[0] if attempt == 0 and rates else _device_default_rate(self.device, self._factory)
            kwargs = dict(
                device=self.device,
                channels=1,
                samplerate=rate,
                dtype="float32",
                blocksize=int(rate * self.blocksize_ms / 1000),
                callback=self._callback,
            )
            try:
                self._stream = self._factory(**kwargs)
                break
            except DeviceError:
                raise
            except Exception as e:  # PortAudioError (e.g. invalid sample rate), ValueError, ...
                first_error = first_error or e
                if attempt == 0 and rates and rate != _device_default_rate(self.device, self._factory):
                    log.warning("input device refused %d Hz (%s); opening it at its native rate", rate, e)
                    self.native_rate_fallback = True
                    continue
                raise DeviceError(_device_help(self.device, first_error, kind="input")) from e
        self.sample_rate = int(getattr(self._stream, "samplerate", rate) or rate)
        try:
            self._stream.start()
        except Exception as e:
            stream, self._stream = self._stream, None
            try:
                stream.close()
            except Exception:  # already failing; the start error is the one to report
                pass
            raise DeviceError(_device_help(self.device, e, kind="input")) from e
        self.started_monotonic = self._clock()
        self.stats.last_block_monotonic = self._clock()

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self._stopped.set()
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as e:  # closing a vanished device must not hide the recording
                log.warning("closing the input stream failed: %s", e)
            self._stream = None

    def blocks(self) -> Iterator[np.ndarray]:
        """Raw blocks at the device rate; raises `DeviceError` if the device stops delivering.

        Blocks the callback had to drop (queue full) come back as silence of the same length, so
        the session clock (samples yielded) stays on the device clock; `stats.silence_filled`
        counts them.
        """
        got_first = False
        seen_drops = 0
        while not self._stopped.is_set():
            try:
                drops, block = self._queue.get(timeout=0.1)
            except queue.Empty:
                waited = self._clock() - self.stats.last_block_monotonic
                limit = self.stall_timeout_s if got_first else self.first_block_timeout_s
                if waited > limit:
                    raise DeviceError(
                        f"the microphone stopped delivering audio for {waited:.1f} s "
                        "(headset unplugged?); the session so far has been saved"
                    )
                continue
            got_first = True
            if drops > seen_drops:
                if seen_drops == 0:
                    log.warning("the analysis fell behind the microphone: audio blocks dropped "
                                "(replaced by silence; counted in the session report)")
                silence = np.zeros_like(block)
                for _ in range(drops - seen_drops):
                    self.stats.silence_filled += 1
                    yield silence
                seen_drops = drops
            yield block

    def __iter__(self) -> Iterator[Frame]:
        if self._stream is None:
            self.open()
        reframer = Reframer(self.sample_rate, 1)
        for block in self.blocks():
            yield from reframer.push(block)


def _device_default_rate(device, factory) -> int:
    if factory is not _sounddevice_input_stream:  # a test double may say what its "device" prefers
        return int(getattr(factory, "default_samplerate", SAMPLE_RATE))
    try:
        import sounddevice as sd

        info = sd.query_devices(device, kind="input")
        return int(info["default_samplerate"])
    except Exception as e:
        raise DeviceError(_device_help(device, e, kind="input")) from e


def list_devices() -> list[dict]:
    """Devices as sounddevice reports them (empty without a sound card)."""
    try:
        import sounddevice as sd

        return [dict(d, index=i) for i, d in enumerate(sd.query_devices())]
    except OSError as e:
        raise DeviceError("PortAudio library not found; install it with `apt-get install libportaudio2`") from e
    except Exception:
        return []


def _device_help(device, error: Exception, *, kind: str) -> str:
    devices = [d for d in list_devices() if d.get(f"max_{kind}_channels", 0) > 0]
    if not devices:
        have = "no audio devices are visible (no sound card, or PulseAudio/ALSA not running)"
    else:
        have = "available: " + "; ".join(f"[{d['index']}] {d['name']}" for d in devices)
    which = f"{kind} device {device!r}" if device is not None else f"the default {kind} device"
    return f"cannot open {which}: {error}. {have}. Pick one with `voicetrainer devices`."


NO_DEVICES = "no audio devices are visible on this machine (no sound card, or PulseAudio/PipeWire is not running)"


def has_devices(*, inputs: bool = True, outputs: bool = True) -> bool:
    """True when sounddevice sees at least one input device (if `inputs`) and one output device
    (if `outputs`). Without a sound card it sees none."""
    devs = list_devices()
    return ((not inputs or any(d.get("max_input_channels", 0) > 0 for d in devs))
            and (not outputs or any(d.get("max_output_channels", 0) > 0 for d in devs)))
