"""Reading persona files safely, and errors a trainer can act on.

Public API::

    persona = load_persona("billing-double-charge")        # by id, from personas_dir()
    persona = load_persona("my/file.yaml")                  # or by path
    issues = validate_file(path)                            # [] when valid; never raises
    for path in persona_files(): ...

YAML is parsed with ``yaml.safe_load`` only: a ``!!python/...`` tag is an error, never executed.
Every issue names the file, the field path (``temperament.start_anger``, ``lines.silence[2]``),
the line in the file when known, and what is wrong (with "did you mean" for misspelt keys).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicetrainer import get_logger
from voicetrainer.errors import PersonaError

from .schema import Persona

log = get_logger(__name__)

PERSONAS_ENV = "VOICETRAINER_PERSONAS"
MAX_FILE_BYTES = 256 * 1024  # a persona is a few kB; refuse anything absurd before parsing


@dataclass(frozen=True)
class Issue:
    """One problem in a persona file.

    Attributes:
        path: the file.
        field: dotted field path ("temperament.start_anger", "lines.opening[0]"), "" for the file.
        message: what is wrong, and what to do.
        line: 1-based line in the file, when known.
    """

    path: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def personas_dir() -> Path:
    """Where shipped personas live: ``$VOICETRAINER_PERSONAS``, else the repository's ``personas/``
    (next to the package, for the editable install), else the copy in ``voicetrainer/data/personas``."""
    env = os.environ.get(PERSONAS_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "personas"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parents[1] / "data" / "personas"


def persona_files(directory: str | Path | None = None) -> list[Path]:
    d = Path(directory) if directory is not None else personas_dir()
    if not d.is_dir():
        raise PersonaError("personas folder not found (set $VOICETRAINER_PERSONAS or pass --dir)", path=d)
    from voicetrainer.persona.paths import resolve_inside

    out = []
    for p in sorted(d.iterdir()):
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        try:
            resolve_inside(p, d)  # symlinks pointing out of the folder and oversized files are refused
        except PersonaError as e:
            log.warning("skipping %s", e)
            continue
        out.append(p)
    return out


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _node_line(root, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of the deepest parent found)."""
    import yaml

    node, line = root, None
    if node is not None:
        line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == part:
                    nxt = v
                    line = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return line


def _model_at(loc: tuple[Any, ...]):
    """The pydantic model class whose field set applies at ``loc`` (for "did you mean")."""
    model: Any = Persona
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return model
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            model = ann
        else:
            return model
    return model


def _did_you_mean(key: str, known: list[str]) -> list[str]:
    """The known field closest to a misspelt key: whole names first ("pich" -> "pitch"), then
    by their word parts ("angr_level" -> "start_anger")."""
    whole = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if whole:
        return whole
    best, best_score = None, 0.0
    for name in known:
        for part in name.split("_"):
            for kpart in key.lower().split("_"):
                score = difflib.SequenceMatcher(None, kpart, part).ratio()
                if len(kpart) >= 3 and score > best_score:
                    best, best_score = name, score
    return [best] if best and best_score >= 0.75 else []


def _issues_from_validation(path: str, err, root) -> list[Issue]:
    issues = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        field = _field_path(loc)
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            known = list(getattr(parent, "model_fields", {}))
            hint = _did_you_mean(str(loc[-1]), known)
            msg = f"unknown key {loc[-1]!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            msg += f"; allowed here: {', '.join(known)}"
        elif kind == "missing":
            msg = "required, missing"
        else:
            from voicetrainer.persona.messages import plain_message

            msg = plain_message(e)  # the trainer's words ("needs at least 2 lines; found 1"), not pydantic's
        issues.append(Issue(path, field, msg, _node_line(root, loc)))
    return issues


def _parse(path: Path) -> tuple[Any, Any]:
    """(document, raw text) via the safe loader; raises PersonaError for unreadable YAML."""
    import yaml

    try:
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise PersonaError("persona file not found", path=path) from e
    if size > MAX_FILE_BYTES:
        raise PersonaError(f"file too large ({size} bytes) for a persona", path=path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PersonaError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=path) from e
    try:
        # the C-accelerated *safe* loader when libyaml is there (same rules as yaml.safe_load)
        doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise PersonaError(f"not valid YAML: {where}{problem}", path=path) from e
    except yaml.YAMLError as e:
        raise PersonaError(f"not valid YAML: {e}", path=path) from e
    dup = _duplicate_key(_compose(raw))
    if dup is not None:  # YAML keeps the last value silently; a persona must say one thing
        key, first, again = dup
        raise PersonaError(f"line {again}: key {key!r} appears twice in the same mapping (first on line {first}); "
                           "keep one", path=path)
    return doc, raw


def _duplicate_key(node) -> tuple[str, int, int] | None:
    """(key, first line, repeated line) of the first key repeated within one mapping, or None."""
    import yaml

    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                    if k.value in seen:
                        return k.value, seen[k.value], k.start_mark.line + 1
                    seen[k.value] = k.start_mark.line + 1
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return None


def _compose(raw: str):
    """The YAML node tree (for line numbers in messages); only built when there are issues."""
    import yaml

    try:
        return yaml.compose(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:  # pragma: no cover - it parsed a moment ago
        return None


def check_file(path: str | Path) -> tuple[Persona | None, list[Issue]]:
    """Parse and validate one file; (persona, []) when valid, (None, issues) otherwise."""
    from pydantic import ValidationError

    p = Path(path)
    try:
        doc, raw = _parse(p)
    except PersonaError as e:
        return None, [Issue(str(p), "", e.reason)]
    if not isinstance(doc, dict):
        what = "empty" if doc is None else f"a {type(doc).__name__}"
        return None, [Issue(str(p), "", f"must be a mapping of keys (id, name, scenario, ...), but is {what}")]
    try:
        persona = Persona.model_validate(doc)
    except ValidationError as e:
        return None, _issues_from_validation(str(p), e, _compose(raw))
    from .voices import voice_issues  # a Piper voice that is not installed: say what to install

    missing = voice_issues(persona.voice)
    if missing:
        tree = _compose(raw)
        return None, [Issue(str(p), f, m, _node_line(tree, tuple(f.split(".")))) for f, m in missing]
    stem = p.stem
    if persona.id != stem:
        return None, [
            Issue(str(p), "id", f"is {persona.id!r} but the file is named {p.name!r}; they must match",
                  _node_line(_compose(raw), ("id",)))
        ]  # fmt: skip
    return persona, []


def validate_file(path: str | Path) -> list[Issue]:
    """All problems in one persona file ([] when it is valid). Never raises for bad content."""
    return check_file(path)[1]


def load_persona_file(path: str | Path) -> Persona:
    persona, issues = check_file(path)
    if persona is None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more: run `voicetrainer personas validate {path}`)" if len(issues) > 1 else ""
        raise PersonaError(
            first.message + more,
            path=first.path + (f":{first.line}" if first.line else ""),
            field=first.field or None,
        )
    log.debug("loaded persona %s from %s", persona.id, path)
    return persona


def resolve_persona_path(id_or_path: str | Path, personas_dir_: str | Path | None = None) -> Path:
    s = str(id_or_path)
    p = Path(s)
    if p.suffix in (".yaml", ".yml") or os.sep in s or p.is_file():
        return p
    d = Path(personas_dir_) if personas_dir_ is not None else personas_dir()
    for ext in (".yaml", ".yml"):
        if (d / f"{s}{ext}").is_file():
            from voicetrainer.persona.paths import resolve_inside

            resolve_inside(d / f"{s}{ext}", d)  # an id never reaches a file outside the folder
            return d / f"{s}{ext}"
    known = [f.stem for f in persona_files(d)] if d.is_dir() else []
    hint = difflib.get_close_matches(s, known, n=1)
    msg = f"no persona {s!r} in {d}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    if known and not hint:
        msg += f"; known: {', '.join(known)}"
    raise PersonaError(msg)


def load_persona(id_or_path: str | Path, personas_dir: str | Path | None = None) -> Persona:
    """A validated Persona by id (looked up in ``personas_dir``, default ``personas_dir()``) or by
    path to a YAML file. Raises PersonaError (exit 2) naming the file and field when invalid."""
    return load_persona_file(resolve_persona_path(id_or_path, personas_dir))
