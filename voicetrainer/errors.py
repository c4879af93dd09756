"""One exception tree. Every message says what went wrong *and* what to do about it.

The CLI maps `VoiceTrainerError` subclasses with ``exit_code == 2`` (bad input from the user)
to exit status 2 and prints ``str(error)`` as one line; anything else is an internal error (1).
"""

from __future__ import annotations

from pathlib import Path


class VoiceTrainerError(Exception):
    """Root of all errors raised on purpose by voicetrainer."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
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
