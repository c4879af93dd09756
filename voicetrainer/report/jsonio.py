"""Atomic result files: moved to `voicetrainer.atomic` (the lowest layer, so audio and persona
use the same writer); these names stay importable from here."""

from voicetrainer.atomic import file_mode, write_atomic, write_json  # noqa: F401
