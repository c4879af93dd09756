"""`voicetrainer personas chat ID|FILE [--script FILE] [--seed N] [--json]`: type to the caller."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(ps, common) -> None:
    q = ps.add_parser(
        "chat", parents=[common], help="a typed conversation with a caller (test a persona, practise chat support)",
        description="Type what the agent says; the caller answers with the same engine as a practice call, "
        "showing its mood and the reason for each decision. An empty line is silence. --script FILE runs "
        "one agent turn per line (lines starting with # are skipped) without asking.",
    )  # fmt: skip
    q.add_argument("id", metavar="ID|FILE", help="persona id or YAML file")
    q.add_argument("--script", metavar="FILE", help="agent turns, one per line ('-' = standard input)")
    q.add_argument("--seed", type=int, default=0, help="caller choices seed (same seed, same call)")
    q.add_argument("--json", action="store_true",
                   help='print {"persona", "opening", "turns": [{"agent", "caller", "situation", "mood"}], "outcome"}')
    q.add_argument("--why", action="store_true", help="with --json: add each turn's reason and time")
    q.set_defaults(func=run)


def _script_lines(path: str) -> list[str]:
    from voicetrainer.errors import InputError

    if path == "-":
        text = sys.stdin.read()
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError("no such script file (one agent turn per line)", path=p)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read the script: {e}", path=p) from e
    return [line.rstrip("\n") for line in text.splitlines() if not line.lstrip().startswith("#")]


def run(args) -> int:
    from rich.markup import escape

    from voicetrainer.cli._common import console
    from voicetrainer.persona.chat import ChatSession
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.persona.tts import MOOD_BAND_NAMES, mood_band

    persona = load_persona(args.id)
    chat = ChatSession(persona, seed=args.seed)
    con = console()
    show = not args.json

    def caller(text: str, mood: float, situation: str, reason: str | None) -> None:
        con.print(f"[bold]{escape(persona.name)}[/bold] [dim]({MOOD_BAND_NAMES[mood_band(mood)]} {mood:.1f}, "
                  f"{situation})[/dim]: {escape(text)}")
        if reason:
            con.print(f"  [dim]why: {escape(reason)}[/dim]")

    if show:
        con.print(f"[dim]chat with {escape(persona.name)} ({persona.id}): {escape(persona.scenario.summary)}[/dim]")
        caller(chat.opening.text, chat.opening.mood, "opening", None)
    if args.script:
        turns = _script_lines(args.script)
        for text in turns:
            if chat.finished:
                break
            turn = chat.say(text)
            if show:
                con.print(f"[bold cyan]agent[/bold cyan]: {escape(text) or '[dim](silence)[/dim]'}")
                caller(turn.caller, turn.mood, turn.situation, turn.reason)
    else:
        if show:
            con.print("[dim]type as the agent; an empty line is silence; Ctrl-D ends the chat[/dim]")
        while not chat.finished:
            try:
                text = input("agent> ") if sys.stdin.isatty() else sys.stdin.readline()
            except (EOFError, KeyboardInterrupt):
                break
            if not sys.stdin.isatty() and text == "":
                break  # end of piped input
            turn = chat.say(text.strip())
            if show:
                if not sys.stdin.isatty():  # piped turns: show them, as --script does
                    con.print(f"[bold cyan]agent[/bold cyan]: {escape(text.strip()) or '[dim](silence)[/dim]'}")
                caller(turn.caller, turn.mood, turn.situation, turn.reason)
    if args.json:
        print(json.dumps(chat.transcript(details=args.why), ensure_ascii=False, indent=2))
    else:
        con.print(f"[bold]outcome:[/bold] {chat.outcome or 'the call did not end'}"
                  + (f" — {escape(chat.engine.end.reason)}" if chat.engine.end else ""))
    return 0
