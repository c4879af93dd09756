"""One exception tree. Every message says what went wrong *and* what to do about it.

The CLI maps `VoiceTrainerError` subclasses with ``exit_code == 2`` (bad input from the user)
to exit status 2 and prints ``str(error)`` as one line; anything else is an internal error (1).
"""

from __future__ import annotations

import os
from pathlib import Path


def printable(text: str | os.PathLike | bytes) -> str:
    """`text` (a string or a path) safe to print or to store as UTF-8.

    A file name that is not UTF-8 reaches Python as a str holding surrogate escapes, which
    every UTF-8 writer (stdout, JSON files, SQLite) refuses; its undecodable bytes become U+FFFD.
    """
    s = os.fspath(text) if isinstance(text, os.PathLike) else text
    if isinstance(s, bytes):
        return s.decode("utf-8", "replace")
    s = str(s)
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return s.encode("utf-8", "replace").decode("utf-8")


def os_error_message(e: OSError, *, what: str = "") -> str:
    """One line for a failed file operation: the path, the OS reason and what to do about it."""
    import errno

    where = printable(e.filename) if e.filename is not None else "a file"
    reason = e.strerror or str(e)
    if e.errno == errno.ENOSPC or e.errno == getattr(errno, "EDQUOT", -1):
        todo = "the disk is full: free some space, or choose a folder on another disk"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo = ("this folder is read-only for you: choose another (--out DIR, --db FILE or $VOICETRAINER_DATA) "
                "or make it writable")
    else:
        todo = "check the path, its permissions and the free space"
    return f"{where}: {what + ': ' if what else ''}{reason}; {todo}"


class VoiceTrainerError(Exception):
    """Root of all errors raised on purpose by voicetrainer."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = printable(path) if path is not None else None
        self.field = field
        self.reason = message
        parts = []
        if self.path:
            parts.append(self.path)
        if field:
            parts.append(field)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class InputError(VoiceTrainerError):
    """Bad input from the user (a file, a flag, a config value). Exit status 2."""

    exit_code = 2


class AudioInputError(InputError):
    """An audio file that cannot be graded: missing, empty, truncated, not audio, silent."""


class PersonaError(InputError):
    """A persona file that does not validate, or cannot be found."""


class ConfigError(InputError):
    """A config or rubric file with a bad value."""


class StorageError(VoiceTrainerError):
    """A file cannot be written: the disk is full, the folder is read-only. Exit status 2."""

    exit_code = 2


class DeviceError(VoiceTrainerError):
    """An audio device is missing, refuses to open, or stopped delivering."""

    exit_code = 2


class ModelError(VoiceTrainerError):
    """The speech recognition model is missing or cannot be loaded."""

    exit_code = 2


class TTSError(VoiceTrainerError):
    """Speech synthesis failed or hung for a line."""


class SessionAborted(VoiceTrainerError):
    """A live session stopped early; everything recorded so far has been saved."""


class ClusterError(VoiceTrainerError):
    """The Dask cluster a batch was sent to cannot be reached or used (`grade --scheduler`)."""

    exit_code = 2
