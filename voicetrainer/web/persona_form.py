"""The persona editor's form: which fields it shows, how a submitted form becomes the YAML that is
stored, and which field each validation issue belongs beside.

The YAML file stays the storage: the form is read from the parsed document and written back into
it, so keys the form does not show (long-form facts, voice model, comments aside) are kept. The
validation is the persona loader's own (`WebApp.check_text`): one set of rules for the CLI, the
raw-YAML tab and this form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from voicetrainer.persona.schema import HELPFUL_MOVES, MIN_LINES, OPTIONAL_SITUATIONS, SITUATIONS


@dataclass(frozen=True)
class FormField:
    """One field of the form.

    Attributes:
        path: the dotted key in the persona YAML ("temperament.start_anger").
        label: what the trainer reads.
        kind: "text", "textarea", "number", "select", "lines" (one line per row), "checks" (a set).
        help: a hint under the field.
        choices: the options of "select" and "checks".
    """

    path: str
    label: str
    kind: str = "text"
    help: str = ""
    choices: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path

    @property
    def dom_id(self) -> str:
        return "f-" + self.path.replace(".", "-").replace("_", "-")


def _lines_help(situation: str) -> str:
    n = MIN_LINES.get(situation)
    return f"one line per row; at least {n}" if n else "one line per row; optional (built-in lines are used when empty)"


SECTIONS: tuple[tuple[str, tuple[FormField, ...]], ...] = (
    ("Caller", (
        FormField("name", "Name", help="as the trainee hears it"),
        FormField("difficulty", "Difficulty", "select", choices=("easy", "medium", "hard")),
    )),
    ("Scenario", (
        FormField("scenario.summary", "Summary", "textarea", "what happened, as the trainee is briefed"),
        FormField("scenario.facts", "Facts", "lines", "one per row: account numbers, amounts, dates the agent should "
                  "repeat back"),
        FormField("scenario.resolution.description", "What resolves the call", "textarea"),
        FormField("scenario.resolution.requires", "Moves the agent must make", "checks", choices=HELPFUL_MOVES),
        FormField("scenario.resolution.max_anger", "Anger must fall to at most", "number", "0-10"),
    )),
    ("Temperament", (
        FormField("temperament.start_anger", "Anger at the start", "number", "0 (calm) - 10 (furious)"),
        FormField("temperament.patience", "Patience", "number"),
        FormField("temperament.escalation", "Escalation", "number", "how fast bad answers make it worse"),
        FormField("temperament.calming", "Calming", "number", "how fast good answers calm the caller"),
        FormField("temperament.talk_over", "Talks over the agent", "number", "0-1"),
        FormField("temperament.hang_up_at", "Hangs up at anger", "number", "1-10"),
        FormField("temperament.max_turns", "Gives up after turns", "number"),
    )),
    ("Voice", (
        FormField("voice.engine", "Engine", "select", choices=("piper", "espeak")),
        FormField("voice.rate_wpm", "Words a minute", "number"),
        FormField("voice.pitch", "Pitch", "number"),
        FormField("voice.volume", "Volume", "number", "0-1"),
    )),
    ("Lines", tuple(FormField(f"lines.{s}", s.replace("_", " ").capitalize(), "lines", _lines_help(s))
                    for s in SITUATIONS + OPTIONAL_SITUATIONS)),
)
FIELDS: tuple[FormField, ...] = tuple(f for _, fs in SECTIONS for f in fs)


def _get(doc: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _set(doc: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        if not isinstance(doc.get(key), dict):
            doc[key] = {}
        doc = doc[key]
    if value is None:
        doc.pop(keys[-1], None)
    else:
        doc[keys[-1]] = value


def parse_yaml(text: str) -> dict:
    """The YAML document as a dict ({} when it is not a mapping or does not parse)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def long_form_facts(doc: dict) -> bool:
    """True when some fact uses the long form ({fact, topics, answers}): the form cannot show it."""
    facts = _get(doc, "scenario.facts")
    return isinstance(facts, list) and any(not isinstance(f, (str, int, float)) for f in facts)


def values_from_doc(doc: dict) -> dict[str, Any]:
    """What each field shows: text for text/number/select, a list of rows for lines, a set for checks."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        v = _get(doc, f.path)
        if f.kind == "lines":
            out[f.path] = "\n".join(str(x) for x in v) if isinstance(v, list) else ""
        elif f.kind == "checks":
            out[f.path] = {str(x) for x in v} if isinstance(v, list) else set()
        else:
            out[f.path] = "" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))
    return out


def _number(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text  # kept as typed: the validator says "a number" beside the field


def apply_form(doc: dict, form) -> dict:
    """`doc` with the submitted form's values written in (`form`: a multi-dict with ``getlist``)."""
    import copy

    doc = copy.deepcopy(doc)
    skip_facts = long_form_facts(doc)
    for f in FIELDS:
        if f.path == "scenario.facts" and skip_facts:
            continue
        if f.kind == "checks":
            picked = {c for c in f.choices if c in set(form.getlist(f.path))}
            before = [x for x in (_get(doc, f.path) or []) if x in picked]  # keep the file's order
            _set(doc, f.path, before + [c for c in f.choices if c in picked and c not in before])
            continue
        raw = str(form.get(f.path) or "").replace("\r\n", "\n")
        if f.kind == "lines":
            rows = [r.strip() for r in raw.split("\n") if r.strip()]
            _set(doc, f.path, rows if rows or f.path.split(".")[-1] not in OPTIONAL_SITUATIONS else None)
        elif f.kind == "number":
            _set(doc, f.path, _number(raw))
        else:
            _set(doc, f.path, raw.strip() or None)
    return doc


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, long text folded (``>-``), as the shipped personas are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str):
    style = ">" if len(value) > 90 and "\n" not in value and value == value.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: dict, *, header: str = "") -> str:
    """The document as YAML in the order of its keys, a blank line before each top-level section."""
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    out = []
    for i, line in enumerate(body.splitlines()):
        if i and line and not line[0].isspace() and not line.startswith("-") and body.splitlines()[i - 1][:1].isspace():
            out.append("")
        out.append(line)
    return header + "\n".join(out) + "\n"


def leading_comments(text: str) -> str:
    """The comment block at the top of a persona file (kept when the form rewrites the file)."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith("#") or (out and not line.strip()):
            out.append(line)
        else:
            break
    return "".join(out).rstrip("\n") + "\n" if out else ""


def errors_by_field(issues: list[dict]) -> tuple[dict[str, list[str]], list[dict]]:
    """({form field path: messages}, issues no field of the form shows): each issue goes beside the
    field whose path is the longest prefix of the issue's field ("lines.opening[0]" -> lines.opening)."""
    paths = sorted((f.path for f in FIELDS), key=len, reverse=True)
    placed: dict[str, list[str]] = {}
    rest = []
    for issue in issues:
        field = str(issue.get("field") or "")
        message = str(issue.get("message") or "")
        target = next((p for p in paths if field == p or field.startswith(p + ".") or field.startswith(p + "[")), None)
        if target is None:  # model-level rules name their fields in the message
            target = next((p for p in paths if not field and p in message), None)
        if target is None:
            rest.append(issue)
            continue
        tail = field[len(target):].lstrip(".")
        placed.setdefault(target, []).append(f"{tail}: {message}" if tail else message)
    return placed, rest
