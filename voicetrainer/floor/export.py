"""A cohort's graded calls out: CSV for a spreadsheet, xAPI statements for an LMS.

CSV: one row per graded call (a spreadsheet's pivot table makes any summary from that; a
summary cannot be turned back into calls). Columns, `CSV_COLUMNS`:
  cohort, recruit, date (ISO 8601, as recorded), persona (id), persona_name (`persona_label`:
  the id as words and the caller, "Refund outside policy (Priya Nair)"),
  assignment (id of the assignment the call counts towards, empty if none), measure, target,
  met_target (yes/no, empty without an assignment), outcome (resolved | hung_up | turn_limit |
  ended_by_trainee), overall, one column per skill (0-100), duration_s, session (history row id).
Rows are ordered by recruit then date. The text starts with a UTF-8 byte order mark, so Excel
reads names with accents right (LibreOffice and Python's ``utf-8-sig`` skip it). Text cells that a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) get a leading apostrophe.

A call counts towards the newest assignment that applies to the recruit, has the call's
persona and was made before the call (the rule `progress.counted` uses).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.floor.model import Assignment, Attempt, Member
from voicetrainer.floor.xapi import (
    ACTIVITY_ASSESSMENT, ACTIVITY_GROUP, ACTIVITY_SIMULATION, LANG, VERBS, Account, Activity, ActivityDefinition,
    Agent, Context, ContextActivities, Result, Score, Statement, Verb, ext, iso_duration, statement_id,
)
from voicetrainer.report.schema import SKILLS

log = get_logger(__name__)

CSV_COLUMNS = ("cohort", "recruit", "date", "persona", "persona_name", "assignment", "measure", "target",
               "met_target", "outcome", "overall", *SKILLS, "duration_s", "session")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would evaluate such a text cell
BOM = "\ufeff"  # Excel takes a CSV without it for the local code page and garbles accented names
DEFAULT_BASE_URL = "http://localhost:8765/"  # the web server's default address; use the real one


@dataclass(frozen=True)
class CallRow:
    """One graded call of a cohort member, with the assignment it counts towards (or None)."""

    member: Member
    attempt: Attempt
    assignment: Assignment | None

    @property
    def met(self) -> bool | None:
        if self.assignment is None:
            return None
        score = self.attempt.measure(self.assignment.measure)
        return score is not None and score >= self.assignment.target


def assignment_for(attempt: Attempt, member: Member, assignments: Sequence[Assignment]) -> Assignment | None:
    """The newest assignment of `member` with the call's persona made before the call."""
    fits = [a for a in assignments
            if a.applies_to(member) and a.persona == attempt.persona and a.created <= attempt.when]
    return max(fits, key=lambda a: (a.created, a.id), default=None)


def call_rows(members: Sequence[Member], attempts: Mapping[str, Sequence[Attempt]],
              assignments: Sequence[Assignment]) -> list[CallRow]:
    """Every member's graded calls, by recruit name then date."""
    out = []
    for m in sorted(members, key=lambda m: m.name.casefold()):
        for a in sorted(attempts.get(m.name, ()), key=lambda a: (a.when, a.session_id)):
            out.append(CallRow(member=m, attempt=a, assignment=assignment_for(a, m, assignments)))
    return out


def _safe(v: object) -> object:
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:g}" if float(v).is_integer() else f"{v:.1f}"


def csv_text(rows: Iterable[CallRow], persona_names: Mapping[str, str]) -> str:
    """The rows as CSV text (`CSV_COLUMNS`): a byte order mark, a header line, one line per call."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        a, asg = r.attempt, r.assignment
        vals = {
            "cohort": r.member.cohort or "", "recruit": r.member.name, "date": a.when.isoformat(timespec="seconds"),
            "persona": a.persona or "", "persona_name": persona_names.get(a.persona or "", ""),
            "assignment": asg.id if asg else "", "measure": asg.measure if asg else "",
            "target": _num(asg.target) if asg else "", "met_target": "" if r.met is None else ("yes" if r.met else "no"),
            "outcome": a.outcome or "", "overall": _num(a.overall), **{s: _num(a.scores.get(s)) for s in SKILLS},
            "duration_s": _num(round(a.duration_s, 1) if a.duration_s is not None else None), "session": a.session_id,
        }  # fmt: skip
        w.writerow([_safe(vals[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def statement(row: CallRow, *, persona_name: str | None, base_url: str = DEFAULT_BASE_URL) -> Statement:
    """The xAPI statement of one graded call (see `voicetrainer.floor.xapi`)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    a, asg, m = row.attempt, row.assignment, row.member
    verb = "completed" if asg is None else ("passed" if row.met else "failed")
    persona = a.persona or "unknown"
    score = None
    if a.overall is not None:
        raw = round(min(max(a.overall, 0.0), 100.0), 2)
        score = Score(scaled=round(raw / 100.0, 4), raw=raw, min=0, max=100)
    extensions = {
        ext(base, "skills"): {s: a.scores.get(s) for s in SKILLS if a.scores.get(s) is not None},
    }
    if a.outcome:
        extensions[ext(base, "outcome")] = a.outcome
    if asg is not None:
        extensions[ext(base, "target")] = {"measure": asg.measure, "score": asg.target,
                                           "value": a.measure(asg.measure)}
    groups = [Activity(id=f"{base}cohorts/{_slug(m.cohort)}", definition=ActivityDefinition(
        name={LANG: f"cohort {m.cohort}"}, type=ACTIVITY_GROUP))] if m.cohort else None
    parents = [Activity(id=f"{base}assignments/{asg.id}", definition=ActivityDefinition(
        name={LANG: f"{persona_name or asg.persona}: {asg.measure} {asg.target:g} by {asg.due.isoformat()}"},
        type=ACTIVITY_ASSESSMENT))] if asg else None
    return Statement(
        id=statement_id(base, a.folder or f"{a.session_id}@{a.when.isoformat()}"),
        actor=Agent(name=m.name, account=Account(home_page=base, name=m.name)),
        verb=Verb(id=VERBS[verb], display={LANG: verb}),
        object=Activity(id=f"{base}personas/{persona}", definition=ActivityDefinition(
            name={LANG: persona_name or persona}, type=ACTIVITY_SIMULATION,
            description={LANG: "a practice call with an angry caller (voicetrainer persona)"})),
        result=Result(score=score, success=row.met, completion=True,
                      duration=iso_duration(a.duration_s) if a.duration_s is not None else None, extensions=extensions),
        context=Context(platform="voicetrainer", language=LANG, context_activities=ContextActivities(parent=parents, grouping=groups) if (parents or groups) else None),
        timestamp=a.when,
    )  # fmt: skip


def _slug(text: str | None) -> str:
    from urllib.parse import quote

    return quote((text or "").strip(), safe="")


def xapi_json(rows: Iterable[CallRow], persona_names: Mapping[str, str], *, base_url: str = DEFAULT_BASE_URL) -> str:
    """The rows as a JSON array of xAPI statements (what an LRS's POST /statements accepts)."""
    out = [statement(r, persona_name=persona_names.get(r.attempt.persona or ""), base_url=base_url).to_json()
           for r in rows]
    return json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def persona_label(persona_id: str, caller_name: str) -> str:
    """How the floor names a persona: its id as words, then the caller (``Refund outside policy (Priya Nair)``);
    the caller's name alone would read like a person on the dashboard."""
    return f"{persona_id.replace('-', ' ').capitalize()} ({caller_name})"


def persona_names(directory: str | Path | None = None) -> dict[str, str]:
    """{persona id: `persona_label`} of the personas in `directory` that load (others are skipped)."""
    from voicetrainer.errors import PersonaError
    from voicetrainer.persona.loader import check_file, persona_files

    out: dict[str, str] = {}
    try:
        files = persona_files(directory)
    except PersonaError as e:
        log.warning("persona names: %s", e)
        return out
    for f in files:
        persona, _issues = check_file(f)
        if persona is not None:
            out[persona.id] = persona_label(persona.id, persona.name)
    return out
