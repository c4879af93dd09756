"""Who is the trainee on each graded recording: one name, a CSV manifest, or a file-name pattern.

Without one of them a graded call is filed under "unknown" in the history. Precedence, per
input: the manifest's row, else the pattern's match, else the one `--trainee` name.

Manifest: a CSV file with a header row naming a ``file`` column (also accepted: ``input``,
``path``, ``recording``) and a ``trainee`` column (also: ``name``, ``agent``). A row matches an
input by its exact path, else by its file name (``calls/alex-01.wav`` matches ``alex-01.wav``).

Pattern: matched against the file name (no folders). Either a regular expression with a named
group ``trainee`` (``^(?P<trainee>[a-z]+)_``), or a file pattern with ``{trainee}`` where the
name is and ``*`` / ``?`` as in a shell (``{trainee}-call-*.wav``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

from voicetrainer.errors import InputError

FILE_COLUMNS = ("file", "input", "path", "recording")
TRAINEE_COLUMNS = ("trainee", "name", "agent")


def compile_pattern(pattern: str) -> re.Pattern:
    """`pattern` as a regular expression with a ``trainee`` group (see the module docstring)."""
    if "{trainee}" in pattern:
        parts = []
        for tok in re.split(r"(\{trainee\}|\*|\?)", pattern):
            parts.append({"{trainee}": r"(?P<trainee>.+?)", "*": ".*", "?": "."}.get(tok, re.escape(tok)))
        return re.compile("^" + "".join(parts) + "$")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise InputError(f"--trainee-pattern {pattern!r} is not a regular expression ({e})",
                         field="--trainee-pattern") from e
    if "trainee" not in rx.groupindex:
        raise InputError(f"--trainee-pattern {pattern!r} has no place for the name: write {{trainee}} "
                         "(alex-*.wav -> {trainee}-*.wav) or a (?P<trainee>...) group", field="--trainee-pattern")
    return rx


def read_manifest(path: str | Path) -> dict[str, str]:
    """The manifest's rows: file (as written) -> trainee name."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the manifest ({getattr(e, 'strerror', None) or e})", path=p) from e
    reader = csv.DictReader(text.splitlines())
    cols = {c.strip().lower(): c for c in (reader.fieldnames or []) if c}
    file_col = next((cols[c] for c in FILE_COLUMNS if c in cols), None)
    name_col = next((cols[c] for c in TRAINEE_COLUMNS if c in cols), None)
    if file_col is None or name_col is None:
        raise InputError(f"the manifest needs a header row with a 'file' and a 'trainee' column; found "
                         f"{', '.join(reader.fieldnames or []) or 'no header'}", path=p)
    rows: dict[str, str] = {}
    for n, row in enumerate(reader, start=2):
        f, who = (row.get(file_col) or "").strip(), (row.get(name_col) or "").strip()
        if f and who:
            rows[f] = who
        elif f or who:
            raise InputError(f"line {n}: a row needs both a file and a trainee name", path=p)
    return rows


def trainee_names(inputs: Sequence[str], *, name: str | None = None, manifest: str | Path | None = None,
                  pattern: str | None = None) -> dict[str, str | None]:
    """Each input's trainee (None when nothing names one)."""
    rows = read_manifest(manifest) if manifest else {}
    by_name: dict[str, str] = {}
    for f, who in rows.items():
        by_name.setdefault(Path(f).name, who)
    rx = compile_pattern(pattern) if pattern else None
    out: dict[str, str | None] = {}
    for inp in inputs:
        who = rows.get(inp) or by_name.get(Path(inp).name)
        if who is None and rx is not None:
            m = rx.search(Path(inp).name)
            who = m.group("trainee") if m and m.group("trainee") else None
        who = (who or name or "").strip()[:60]  # the same limit as a practice call's name
        out[inp] = who or None
    return out
