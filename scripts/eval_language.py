#!/usr/bin/env python3
"""Accuracy of the move detector (voicetrainer.analysis.language) on labelled agent utterances.

    python scripts/eval_language.py [FILE.jsonl ...] [--json] [--errors]

Each input line is ``{"text", "labels": [kinds], "facts"?: [...]}`` labelled per
``../shared/language/LABELING.md``. Default inputs: ``../shared/language/moves_dev.jsonl`` (the
shared dev split) and ``tests/data/moves_extra.jsonl`` (this project's own labelled utterances).
Reported per file: per-kind precision / recall / F1 over the 13 scored kinds (greeting is
reported apart) and macro F1 (the mean F1 of the 13 kinds). A kind with no gold and no
prediction in a file has no F1 and is left out of that file's macro mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# the 13 kinds the macro F1 is taken over; greeting is scored but reported apart (LABELING.md)
SCORED_KINDS = (
    "apology", "empathy", "ownership", "timeframe", "next_step", "repeat_back", "clarifying_question",
    "gratitude", "jargon", "blame", "calm_down", "policy", "dismissive",
)  # fmt: skip
EXTRA_KINDS = ("greeting",)


def default_inputs() -> list[Path]:
    return [REPO.parent / "shared" / "language" / "moves_dev.jsonl", REPO / "tests" / "data" / "moves_extra.jsonl"]


@dataclass
class KindScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        if self.tp + self.fp + self.fn == 0:
            return None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)


@dataclass
class FileScore:
    file: str
    rows: int = 0
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in SCORED_KINDS + EXTRA_KINDS})
    errors: list[dict] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        f1s = [self.kinds[k].f1 for k in SCORED_KINDS if self.kinds[k].f1 is not None]
        return sum(f1s) / len(f1s) if f1s else 0.0

    def to_dict(self) -> dict:
        return {
            "file": self.file, "rows": self.rows, "macro_f1": round(self.macro_f1, 3),
            "kinds": {k: {"tp": s.tp, "fp": s.fp, "fn": s.fn,
                          "precision": _r(s.precision), "recall": _r(s.recall), "f1": _r(s.f1)}
                      for k, s in self.kinds.items()},
        }  # fmt: skip


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def read_rows(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e})") from e
        rows.append(row)
    return rows


def score_file(path: Path) -> FileScore:
    from voicetrainer.analysis.language import detect_moves

    out = FileScore(str(path))
    for row in read_rows(path):
        out.rows += 1
        gold = set(row.get("labels", []))
        pred = {m.kind for m in detect_moves(row["text"], facts=tuple(row.get("facts") or ()))}
        for k in SCORED_KINDS + EXTRA_KINDS:
            s = out.kinds[k]
            if k in gold and k in pred:
                s.tp += 1
            elif k in pred:
                s.fp += 1
            elif k in gold:
                s.fn += 1
        if (gold ^ pred) & set(SCORED_KINDS + EXTRA_KINDS):
            out.errors.append({"text": row["text"], "missed": sorted(gold - pred), "extra": sorted(pred - gold),
                               "facts": row.get("facts")})  # fmt: skip
    return out


def evaluate_language(paths: list[Path] | None = None) -> list[FileScore]:
    """Scores of every existing input file (missing files are skipped)."""
    return [score_file(p) for p in (paths or default_inputs()) if p.exists()]


def print_table(scores: list[FileScore]) -> None:
    for fs in scores:
        print(f"{fs.file}: {fs.rows} rows, macro F1 {fs.macro_f1:.3f} (13 kinds)")
        print(f"  {'kind':<20} {'P':>6} {'R':>6} {'F1':>6}  tp  fp  fn")
        for k, s in fs.kinds.items():
            f = lambda x: "   -  " if x is None else f"{x:6.2f}"  # noqa: E731
            print(f"  {k:<20} {f(s.precision)} {f(s.recall)} {f(s.f1)} {s.tp:3d} {s.fp:3d} {s.fn:3d}")


def markdown_rows(scores: list[FileScore]) -> list[str]:
    """Rows for the README's accuracy table (| What | Measured on | Result |)."""
    rows = []
    for fs in scores:
        worst = min((k for k in SCORED_KINDS if fs.kinds[k].f1 is not None), key=lambda k: fs.kinds[k].f1)
        rows.append(f"| Move detector, macro F1 over 13 kinds | {Path(fs.file).name}: {fs.rows} labelled agent "
                    f"utterances | {fs.macro_f1:.2f}; lowest kind {worst} {fs.kinds[worst].f1:.2f} |")  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--errors", action="store_true", help="list the rows the detector got wrong")
    args = ap.parse_args(argv)
    scores = evaluate_language(args.files or None)
    if args.json:
        print(json.dumps([s.to_dict() for s in scores], indent=2))
    elif args.markdown:
        print("\n".join(markdown_rows(scores)))
    else:
        print_table(scores)
    if args.errors:
        for fs in scores:
            for e in fs.errors:
                print(json.dumps(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
