"""Helpers shared by subcommands: settings with CLI overrides, the console."""

from __future__ import annotations

import dataclasses
import sys


def add_model_args(p) -> None:
    g = p.add_argument_group("speech recognition")
    g.add_argument("--model", metavar="PATH", help="faster-whisper model folder (default: bundled tiny.en)")
    g.add_argument("--beam-size", type=int, metavar="N", help="beam size (default 1: greedy)")


def add_history_args(p, what: str) -> None:
    """--db and --no-history, the same on every command that records into the history."""
    g = p.add_argument_group("history")
    g.add_argument("--db", metavar="FILE", help="history database (default: <user data dir>/history.sqlite)")
    g.add_argument("--no-history", action="store_true", help=f"do not record {what} in the history")


def history_db(args) -> str | None:
    """The ``db`` argument of the library calls: None = record nothing, "" = the default
    database in the user data folder, else that file."""
    return None if getattr(args, "no_history", False) else (getattr(args, "db", None) or "")


def settings_from_args(args):
    from voicetrainer.config import load_settings

    settings = load_settings(getattr(args, "config", None))
    asr = settings.asr
    if getattr(args, "model", None):
        asr = dataclasses.replace(asr, model=args.model)
    if getattr(args, "beam_size", None):
        asr = dataclasses.replace(asr, beam_size=args.beam_size)
    return settings.replace(asr=asr)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
