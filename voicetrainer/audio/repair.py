"""Session folders on disk: their file names, the manifest, and repairing them after a crash.

The recorder (`recorder.SessionRecorder`) writes a session; this module reads and repairs one
(WAV header from the file size, torn events line, manifest) and finds the interrupted ones. It
never imports the recorder, so `recover` works without it.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from datetime import datetime, timezone
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import VoiceTrainerError
from voicetrainer.atomic import write_json
from voicetrainer.audio.riff import read_wav_layout

log = get_logger(__name__)

SESSION_SCHEMA = "voicetrainer.session/1"
MANIFEST = "session.json"
AUDIO = "call.wav"
EVENTS = "events.jsonl"
STATUSES = ("recording", "complete", "aborted", "recovered")


def _now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")



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
