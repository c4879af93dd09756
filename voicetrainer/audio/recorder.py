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
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.atomic import write_json
from voicetrainer.audio.riff import read_wav_layout
from voicetrainer.config import SAMPLE_RATE
from voicetrainer.errors import VoiceTrainerError

log = get_logger(__name__)

SESSION_SCHEMA = "voicetrainer.session/1"
MANIFEST = "session.json"
AUDIO = "call.wav"
EVENTS = "events.jsonl"
FLUSH_INTERVAL_S = 0.5  # wall-clock seconds between flush + header update + fsync
SAMPLE_BYTES = 2  # 16-bit PCM
WAV_HEADER_BYTES = 44  # RIFF(12) + fmt chunk(8 + 16) + data chunk header(8)
STATUSES = ("recording", "complete", "aborted", "recovered")


def _now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def wav_header(*, channels: int, sample_rate: int, data_bytes: int) -> bytes:
    """A canonical 44-byte PCM16 WAV header for `data_bytes` bytes of samples."""
    block_align = channels * SAMPLE_BYTES
    return (
        b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + data_bytes)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, 8 * SAMPLE_BYTES)
        + b"data" + struct.pack("<I", min(0xFFFFFFFF, data_bytes))
    )


def process_start_ticks(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux), to tell a reused pid from ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name (field 2) may contain spaces and parentheses: split after the last ')'
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def writer_alive(meta: dict) -> bool:
    """True if the process named in a manifest's ``writer`` is still running (same host, same start)."""
    writer = meta.get("writer") or {}
    pid = writer.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if writer.get("host") not in (None, socket.gethostname()):
        return True  # written on another machine: we cannot tell, so do not touch it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    ticks = writer.get("start_ticks")
    if ticks is not None:
        now = process_start_ticks(pid)
        if now is not None and now != ticks:
            return False  # pid reused by another process
    return True


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
        write_json(self.dir / MANIFEST, self.meta)
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
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1 and self.channels == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"block must have shape (n, {self.channels}), got {block.shape}")
        pcm = (np.clip(block, -1.0, 1.0) * 32767.0).round().astype("<i2")
        self._audio.write(pcm.tobytes())
        self._data_bytes += pcm.nbytes
        self._flush()

    def event(self, obj: dict) -> None:
        """Append one event as a JSON line (flushed to the OS at once; fsynced with the audio)."""
        if self.closed:
            raise VoiceTrainerError(f"{self.dir}: recorder already closed")
        line = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_json_default)
        self._events.write(line + "\n")
        self._events.flush()

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
            self._flush(force=True)
        finally:
            self._sync_closing = True
            self._sync_wanted.set()
            self._sync_thread.join()
        try:
            self._fsync()
        finally:
            self._audio.close()
            self._events.close()
            self.closed = True
        self.status = status
        self.meta.update(meta_updates)
        self.meta.update(status=status, ended=_now_iso(), duration_s=round(self.duration_s, 3))
        self.meta.pop("writer", None)
        write_json(self.dir / MANIFEST, self.meta)
        log.info("session %s closed as %s (%.1f s of audio)", self.dir, status, self.duration_s)

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


# ---------------------------------------------------------------------- repair after a crash

def read_manifest(session_dir: Path) -> dict | None:
    """The manifest as a dict, or None if it is missing or unreadable."""
    try:
        meta = json.loads((Path(session_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def _find_data_chunk(f) -> tuple[int, int, int, int, int] | None:
    """(data offset, declared data bytes, channels, sample rate, bits) of a RIFF/WAVE PCM file
    whose format comes before its data; None otherwise."""
    w = read_wav_layout(f)
    if w is None or w.channels is None:
        return None
    return w.data_offset, w.data_bytes, w.channels, w.sample_rate, w.bits


def repair_wav(path: Path) -> bool:
    """Make a WAV's RIFF and data sizes match the samples actually on disk. True if changed.

    A trailing partial sample frame (torn write) is cut off. Raises `VoiceTrainerError` if the
    file is not a PCM WAV this recorder could have written.
    """
    with open(path, "r+b") as f:
        found = _find_data_chunk(f)
        if found is None:
            raise VoiceTrainerError("not a WAV file with a data chunk; cannot repair", path=path)
        offset, declared, channels, _rate, bits = found
        size = os.fstat(f.fileno()).st_size
        align = max(1, channels * bits // 8)
        present = (size - offset) // align * align
        changed = False
        if offset + present != size:
            f.truncate(offset + present)
            changed = True
        if declared != present:
            f.seek(offset - 4)
            f.write(struct.pack("<I", min(0xFFFFFFFF, present)))
            changed = True
        riff = offset - 8 + present
        f.seek(4)
        if struct.unpack("<I", f.read(4))[0] != riff:
            f.seek(4)
            f.write(struct.pack("<I", min(0xFFFFFFFF, riff)))
            changed = True
        if changed:
            f.flush()
            os.fsync(f.fileno())
        return changed


def repair_events(path: Path) -> int:
    """Cut a torn last line (and any undecodable lines) from an events file; return lines dropped."""
    if not path.exists():
        return 0
    raw = path.read_bytes()
    good: list[bytes] = []
    dropped = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            dropped += 1
            continue
        good.append(line)
    fixed = b"".join(g + b"\n" for g in good)
    if fixed != raw:
        from voicetrainer.atomic import write_atomic

        write_atomic(path, fixed)
    return dropped


def recover_session(session_dir: str | Path) -> bool:
    """Repair an interrupted session: WAV header from the file size, torn events line, manifest.

    The manifest is marked ``"recovered"`` (previous status kept in ``recovered_from``). Returns
    True if anything was repaired, False if the session was already closed cleanly. Raises
    `VoiceTrainerError` if the folder holds no recording at all.
    """
    d = Path(session_dir)
    meta = read_manifest(d)
    rebuilt = meta is None
    if meta is None:
        if not (d / AUDIO).exists():
            raise VoiceTrainerError(f"no {MANIFEST} and no {AUDIO}: not a session folder", path=d)
        meta = {"schema": SESSION_SCHEMA, "status": "recording", "audio": AUDIO, "events": EVENTS,
                "channels": {"caller": 0, "trainee": 1}}
    audio = d / meta.get("audio", AUDIO)
    if not audio.exists():
        raise VoiceTrainerError(f"the session's audio file {audio.name} is missing; nothing to recover", path=d)
    wav_fixed = repair_wav(audio)
    dropped = repair_events(d / meta.get("events", EVENTS))
    interrupted = meta.get("status") == "recording"
    if not (interrupted or wav_fixed or dropped or rebuilt):
        return False
    with open(audio, "rb") as f:
        offset, data_bytes, channels, rate, bits = _find_data_chunk(f)
    duration = data_bytes / (channels * bits // 8) / rate if rate else 0.0
    if rebuilt and channels < 2:
        meta["channels"] = {"trainee": 0}
    meta.setdefault("sample_rate_hz", rate)
    prev = meta.get("status")
    meta.update(
        status="recovered", recovered_from=prev, recovered_at=_now_iso(), duration_s=round(duration, 3),
        recovery={"header_repaired": wav_fixed, "event_lines_dropped": dropped, "manifest_rebuilt": rebuilt},
    )
    meta.pop("writer", None)
    write_json(d / MANIFEST, meta)
    log.info("recovered session %s: %.1f s of audio (was %s)", d, duration, prev)
    return True


def find_interrupted(root: str | Path) -> list[Path]:
    """Session folders under `root` still marked "recording" whose writer process is gone."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        meta = read_manifest(d)
        if meta is None:
            if (d / MANIFEST).exists() and (d / AUDIO).exists():
                found.append(d)  # manifest damaged: recover rebuilds it
            continue
        if meta.get("status") == "recording" and not writer_alive(meta):
            found.append(d)
    return found
