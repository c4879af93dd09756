"""`voicetrainer moves "TEXT"` / `moves --jsonl FILE`: what the grader hears in a sentence.

For trainers tuning a rubric's phrases and for evaluation. One JSON line per input, in order:
``{"text", "kinds": [sorted kind names], "moves": [{"kind", "quote", "why"}]}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser(
        "moves", parents=[common], help="the conversational moves the grader finds in a sentence",
        description="What the move detector finds in what an agent said: apology, empathy, next step, "
        "timeframe, jargon, blame... (the phrases of the rubric, or of --rubric FILE).",
    )
    p.add_argument("text", nargs="?", metavar="TEXT", help="what the agent said")
    p.add_argument("--fact", action="append", default=[], metavar="F",
                   help="something the caller said (for repeat-back); repeatable")  # fmt: skip
    p.add_argument("--jsonl", metavar="FILE", help='read lines {"text", "facts"?: [...]} from FILE ("-" = stdin)')
    p.add_argument("--rubric", metavar="FILE", help="rubric file whose phrases: section is merged over the shipped lists")
    p.add_argument("--json", action="store_true", help="print JSON (one line per input)")
    p.set_defaults(func=run)


def _inputs(args) -> list[tuple[str, list[str]]]:
    from voicetrainer.errors import InputError

    if (args.text is None) == (args.jsonl is None):
        raise InputError('give either TEXT or --jsonl FILE (e.g. voicetrainer moves "I\'m so sorry")')
    if args.text is not None:
        return [(args.text, list(args.fact))]
    name = args.jsonl
    try:
        raw = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InputError("file not found", path=name) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the file ({e})", path=name) from e
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON ({e.msg})", path=name, field=f"line {n}") from e
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError('each line must be an object with a "text" string', path=name, field=f"line {n}")
        facts = row.get("facts") or []
        if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
            raise InputError('"facts" must be a list of strings', path=name, field=f"line {n}")
        out.append((row["text"], facts + list(args.fact)))
    return out


def run(args) -> int:
    from voicetrainer.analysis.language import detect_moves
    from voicetrainer.analysis.rubric import load_rubric, phrase_lists

    inputs = _inputs(args)
    phrases = phrase_lists(load_rubric(args.rubric).phrases if args.rubric else None)
    from voicetrainer.cli._common import console

    con = console()
    for text, facts in inputs:
        moves = detect_moves(text, facts=tuple(facts), phrases=phrases)
        if args.json:
            print(json.dumps({
                "text": text,
                "kinds": sorted({m.kind for m in moves}),
                "moves": [{"kind": m.kind, "quote": m.quote, "why": m.why} for m in moves],
            }))  # fmt: skip
            continue
        con.print(text, markup=False, highlight=False)
        if not moves:
            con.print("  (no moves found)", markup=False)
        for m in moves:
            con.print(f"  {m.kind:<20} {m.quote!r}  — {m.why}", markup=False, highlight=False)
    return 0
