"""Command line entry point. The only place (with its subcommand modules) that prints.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module is
imported when the parser is built, so keep module-level imports light and import heavy
libraries (faster-whisper, matplotlib, ...) inside the command function. This keeps
``voicetrainer --help`` and startup fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

from voicetrainer import __version__
from voicetrainer.errors import VoiceTrainerError

# Subcommand modules, in --help order. Add one line per new module.
COMMAND_MODULES = [
    "voicetrainer.cli.grade",
    "voicetrainer.cli.voice",
    "voicetrainer.cli.moves",
]


def _optional_modules() -> list[str]:
    """Modules of subcommands that may not exist yet in a partial checkout."""
    return [
        "voicetrainer.cli.personas",
        "voicetrainer.cli.practice",
        "voicetrainer.cli.history",
        "voicetrainer.cli.calm",
        "voicetrainer.cli.recover",
        "voicetrainer.cli.serve",
        "voicetrainer.cli.users",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicetrainer",
        description="Rehearse calls with angry callers and get graded on how you handled them.",
    )
    parser.add_argument("--version", action="version", version=f"voicetrainer {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    g.add_argument("-q", "--quiet", action="store_true", help="only errors")
    g.add_argument("--config", metavar="FILE", help="config file (TOML); default: user config dir")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES + _optional_modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(sub, common)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    try:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, show_time=verbose > 1, markup=False)
    except ImportError:  # pragma: no cover
        handler = logging.StreamHandler()
    handler.setLevel(level)
    log = logging.getLogger("voicetrainer")
    log.setLevel(level)
    log.handlers[:] = [h for h in log.handlers if isinstance(h, logging.NullHandler)]
    log.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    previous = _stop_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except VoiceTrainerError as e:
        print(f"voicetrainer: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("voicetrainer: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.filename is None or args.verbose:
            return _internal_error(e, args)
        from voicetrainer.errors import os_error_message

        print(f"voicetrainer: error: {os_error_message(e)}", file=sys.stderr)  # read-only, disk full, ...
        return 2
    except Exception as e:  # the one place that catches everything: report, never hide
        return _internal_error(e, args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """SIGTERM (a shutdown, `kill`, a service manager) stops a command like Ctrl-C does: a call
    ends and is closed and graded, a batch keeps what is done. Returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum} (SIGTERM)")

    return signal.signal(signal.SIGTERM, stop)


def _internal_error(e: Exception, args) -> int:
    if args.verbose:
        raise e
    print(f"voicetrainer: internal error: {type(e).__name__}: {e} (run with -v for the traceback)", file=sys.stderr)
    return 1
