"""voicetrainer: rehearse calls with angry callers, offline, and get graded on how you handled them."""

import logging

__version__ = "0.1.0"

logger = logging.getLogger("voicetrainer")
logger.addHandler(logging.NullHandler())


def get_logger(name: str | None = None) -> logging.Logger:
    """The package logger (or a child of it). Library code logs; only the CLI prints."""
    return logger if not name else logger.getChild(name.removeprefix("voicetrainer."))
