"""Helpers shared by subcommands: settings with CLI overrides, the console."""

from __future__ import annotations

import dataclasses
import sys


def add_model_args(p) -> None:
    g = p.add_argument_group("speech recognition")
    g.add_argument("--model", metavar="PATH", help="faster-whisper model folder (default: bundled tiny.en)")
    g.add_argument("--beam-size", type=int, metavar="N", help="beam size (default 1: greedy)")


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
