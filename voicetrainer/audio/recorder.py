"""Durable session recording: audio and events on disk as they happen, repairable after a crash.

A session folder holds ``session.json`` (the manifest), ``call.wav`` (16-bit PCM, channel 0 =
caller as played, channel 1 = trainee microphone) and ``events.jsonl`` (one JSON object per
line). While recording, the manifest says ``"status": "recording"`` and names the writer's pid.

Durability: samples are appended to ``call.wav`` as they arrive; at least every
`FLUSH_INTERVAL_S` (wall clock) the bytes are handed to the OS and the WAV header's sizes are
rewritten to match. Data the OS holds survives a ``kill -9`` of the app, so a crash loses at most
the last flush interval of audio (plus whatever the caller had not yet handed to `write`), and
the header is at most one interval stale; `recover_session` rewrites it from the file size on
the next start. Against power loss, each flush also asks a background thread to fsync both files:
fsync can take seconds on a busy disk, and the consumer thread must never wait for it.

The recorder is used from the consumer thread only, never from an audio callback: `write` does
file I/O and may block on the disk.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.config import SAMPLE_RATE
from voicetrainer.errors import StorageError, VoiceTrainerError, os_error_message
from voicetrainer.atomic import write_atomic

# the session folder's names and the repair functions live in repair.py; importable from here too
from .repair import (  # noqa: F401
    AUDIO, EVENTS, MANIFEST, SESSION_SCHEMA, STATUSES, _find_data_chunk, _now_iso, find_interrupted,
    process_start_ticks, read_manifest, recover_session, repair_events, repair_wav, writer_alive,
)

log = get_logger(__name__)

FLUSH_INTERVAL_S = 0.5  # wall-clock seconds between flush + header update + fsync
SAMPLE_BYTES = 2  # 16-bit PCM
WAV_HEADER_BYTES = 44  # RIFF(12) + fmt chunk(8 + 16) + data chunk header(8)
MANIFEST_RESERVE_BYTES = 4096  # spaces after the first manifest: room to mark it in place on a full disk


def wav_header(*, channels: int, sample_rate: int, data_bytes: int) -> bytes:
    """A canonical 44-byte PCM16 WAV header for `data_bytes` bytes of samples."""
    block_align = channels * SAMPLE_BYTES
    return (
        b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + data_bytes)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, 8 * SAMPLE_BYTES)
        + b"data" + struct.pack("<I", min(0xFFFFFFFF, data_bytes))
    )



class SessionRecorder:
    """Writes a session folder durably. Context manager; call from the consumer thread only.

    Args:
        session_dir: the folder (created if missing; must not already hold a session).
        meta: manifest fields (persona, trainee, ...), stored in ``session.json``.
        channels: audio channels (2: caller, trainee).
        sample_rate: in Hertz; blocks given to `write` must already be at this rate.
        clock: monotonic clock in seconds deciding when to flush (injectable for tests).

    On leaving the ``with`` block normally the session is closed as "complete"; if an exception
    escapes, as "aborted" with the error's message, and everything written so far is kept.

    A full disk (or any failed write) stops the recording: the write raises `StorageError`
    naming the file, later writes and events are dropped (counted in `lost_blocks`), and `close`
    keeps what reached the disk (WAV header repaired from the file size) and marks the manifest
    "aborted" with the reason, in place if there is no room for a new file.
    Device counters go in with `close`, e.g. ``close("aborted", error=str(e), audio_faults=
    {"input_overflows": 3, "dropped_blocks": 0, "output_underflows": 1})``; the grader turns
    them into report warnings.
    """

    def __init__(
        self, session_dir: str | Path, *, meta: dict | None = None, channels: int = 2,
        sample_rate: int = SAMPLE_RATE, clock: Callable[[], float] = time.monotonic,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ):
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.dir = Path(session_dir)
        self.channels = int(channels)
        self.sample_rate = int(sample_rate)
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.dir / MANIFEST).exists():
            raise VoiceTrainerError(f"{self.dir} already holds a session; pick a new folder")
        pid = os.getpid()
        self.meta: dict = {
            "schema": SESSION_SCHEMA,
            "status": "recording",
            "audio": AUDIO,
            "channels": {"caller": 0, "trainee": 1} if self.channels >= 2 else {"trainee": 0},
            "sample_rate_hz": self.sample_rate,
            "events": EVENTS,
            "started": _now_iso(),
            **(meta or {}),
            "writer": {"pid": pid, "host": socket.gethostname(), "start_ticks": process_start_ticks(pid)},
        }
        text = json.dumps(self.meta, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        write_atomic(self.dir / MANIFEST, text + " " * MANIFEST_RESERVE_BYTES)  # valid JSON: trailing spaces
        self.storage_error: OSError | None = None
        self.lost_blocks = 0  # writes and events dropped after a storage error
        self._audio = open(self.dir / AUDIO, "wb", buffering=1 << 16)
        self._audio.write(wav_header(channels=self.channels, sample_rate=self.sample_rate, data_bytes=0))
        self._events = open(self.dir / EVENTS, "a", encoding="utf-8")
        self._data_bytes = 0
        self._flushed_bytes = 0
        self._last_flush = self._clock()
        self.closed = False
        self.status = "recording"
        self.max_fsync_s = 0.0  # slowest background fsync (disk health, for the soak log)
        self._sync_wanted = threading.Event()
        self._sync_closing = False
        self._sync_thread = threading.Thread(target=self._sync_loop, name="recorder-fsync", daemon=True)
        self._sync_thread.start()
        self._flush(force=True)
        log.info("recording session to %s", self.dir)

    # ------------------------------------------------------------------ writing
    @property
    def frames_written(self) -> int:
        """Sample frames (one sample per channel) written so far."""
        return self._data_bytes // (self.channels * SAMPLE_BYTES)

    @property
    def duration_s(self) -> float:
        """Seconds of audio written so far."""
        return self.frames_written / self.sample_rate

    def write(self, block: np.ndarray) -> None:
        """Append float32 samples in [-1, 1] [shape=(n, channels)]; values outside are clipped."""
        if self.closed:
            raise VoiceTrainerError(f"{self.dir}: recorder already closed")
        if self.storage_error is not None:
            self.lost_blocks += 1
            return
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1 and self.channels == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"block must have shape (n, {self.channels}), got {block.shape}")
        pcm = (np.clip(block, -1.0, 1.0) * 32767.0).round().astype("<i2")
        try:
            self._audio.write(pcm.tobytes())
            self._data_bytes += pcm.nbytes
            self._flush()
        except OSError as e:
            self._failed(e, self.dir / AUDIO)

    def event(self, obj: dict) -> None:
        """Append one event as a JSON line (flushed to the OS at once; fsynced with the audio)."""
        if self.closed:
            raise VoiceTrainerError(f"{self.dir}: recorder already closed")
        if self.storage_error is not None:
            self.lost_blocks += 1
            return
        line = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_json_default)
        try:
            self._events.write(line + "\n")
            self._events.flush()
        except OSError as e:
            self._failed(e, self.dir / EVENTS)

    def _failed(self, e: OSError, path: Path) -> None:
        """Stop recording after a failed write; raise StorageError naming the file."""
        if e.filename is None:
            e.filename = str(path)
        self.storage_error = e
        log.error("recording stopped: %s", os_error_message(e))
        raise StorageError(os_error_message(e, what="the recording stopped") + f"; {self.duration_s:.1f} s of "
                           f"audio are kept in {self.dir}") from e

    def flush(self) -> None:
        """Hand everything to the OS, update the header and fsync, now, on this thread (the
        periodic flush does the same but leaves the fsync to the background thread)."""
        self._flush(force=True)
        self._fsync()

    def _flush(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_flush < self.flush_interval_s:
            return
        self._last_flush = now
        self._audio.flush()
        if self._data_bytes != self._flushed_bytes or force:
            hdr = wav_header(channels=self.channels, sample_rate=self.sample_rate, data_bytes=self._data_bytes)
            os.pwrite(self._audio.fileno(), hdr, 0)
            self._flushed_bytes = self._data_bytes
        self._events.flush()
        self._sync_wanted.set()

    def _fsync(self) -> None:
        t0 = time.monotonic()
        os.fsync(self._audio.fileno())
        os.fsync(self._events.fileno())
        self.max_fsync_s = max(self.max_fsync_s, time.monotonic() - t0)

    def _sync_loop(self) -> None:
        while True:
            self._sync_wanted.wait()
            self._sync_wanted.clear()
            if self._sync_closing:
                return
            try:
                self._fsync()
            except (OSError, ValueError) as e:  # the data is still with the OS; close() retries
                log.warning("fsync of %s failed: %s", self.dir, e)

    # ------------------------------------------------------------------ closing
    def close(self, status: str = "complete", **meta_updates) -> None:
        """Finalise the WAV header, fsync, and rewrite ``session.json`` (atomically) with `status`."""
        if self.closed:
            return
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        try:
            if self.storage_error is None:
                self._flush(force=True)
                self._fsync()
        except OSError as e:
            self.storage_error = e
        finally:
            self._sync_closing = True
            self._sync_wanted.set()
            self._sync_thread.join()
            for f in (self._audio, self._events):
                try:
                    f.close()
                except OSError as e:  # the last buffered bytes did not fit
                    self.storage_error = self.storage_error or e
            self.closed = True
        duration_s = self.duration_s
        if self.storage_error is not None:  # keep what reached the disk; header from the file size
            repair_wav(self.dir / AUDIO)
            with open(self.dir / AUDIO, "rb") as f:
                _offset, data_bytes, channels, rate, bits = _find_data_chunk(f)
            duration_s = data_bytes / (channels * bits // 8) / rate
            status = "aborted"
            meta_updates.setdefault("error", os_error_message(self.storage_error, what="the recording stopped"))
        self.status = status
        self.meta.update(meta_updates)
        self.meta.update(status=status, ended=_now_iso(), duration_s=round(duration_s, 3))
        self.meta["closed_by"] = self.meta.pop("writer", None)  # recover waits while this process grades
        self._write_manifest()
        log.info("session %s closed as %s (%.1f s of audio)", self.dir, status, duration_s)

    def _write_manifest(self) -> None:
        """The manifest, atomically; on a full disk, over the old one in place (the first one was
        written with `MANIFEST_RESERVE_BYTES` of trailing spaces for this)."""
        text = json.dumps(self.meta, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"
        try:
            write_atomic(self.dir / MANIFEST, text)
            return
        except OSError as e:
            log.warning("cannot replace %s (%s); rewriting it in place", self.dir / MANIFEST, e.strerror or e)
        data = text.encode("utf-8")
        fd = os.open(self.dir / MANIFEST, os.O_WRONLY)
        try:
            room = os.fstat(fd).st_size
            if len(data) > room:
                raise StorageError(f"no room to mark the session as {self.status}; `voicetrainer recover` will "
                                   "repair it", path=self.dir / MANIFEST)
            os.pwrite(fd, data + b" " * (room - len(data)), 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "SessionRecorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.closed:
            return
        if exc is None:
            self.close("complete")
        else:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted by the user"
            self.close("aborted", error=reason)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
