"""The floor's value types: cohorts, members, assignments and what progress makes of them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from voicetrainer.errors import InputError
from voicetrainer.report.schema import SKILLS

NAME_MAX = 60  # characters of a cohort or recruit name (the same limit as a practice call's trainee name)
# a cohort name: the one rule, used by the accounts store too (voicetrainer.web.accounts), so any cohort made here can be set
COHORT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}$")
NAME_RE = re.compile(r"^[^\x00-\x1f\x7f<>/\\]{1,60}$")  # printable, no markup characters, no slashes (URLs)
PERSONA_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # the persona schema's id rule
TARGET_RANGE = (0.0, 100.0)  # a target is a score on the report's 0-100 scale
OVERALL = "overall"  # the measure an assignment targets when it names no skill
MEASURES = (OVERALL, *SKILLS)


class Status(str, enum.Enum):
    """Where a recruit stands on one assignment."""

    NOT_STARTED = "not started"  # no call with the persona since it was assigned, not yet due
    IN_PROGRESS = "in progress"  # calls made, target not reached, not yet due
    MET = "met target"  # a call reached the target (on or before the due date, or after it: `late`)
    OVERDUE = "overdue"  # the due date passed without a call reaching the target


class Standing(str, enum.Enum):
    """A recruit's standing over all their assignments (worst first)."""

    OVERDUE = "overdue"  # at least one assignment overdue
    BELOW_TARGET = "below target"  # practised an open assignment, best still under its target
    ON_TRACK = "on track"  # every assignment met, or not yet started and not yet due


@dataclass(frozen=True)
class Member:
    """A recruit as the floor sees them: account name (= the trainee name in the history) and cohort."""

    name: str
    cohort: str | None = None


@dataclass(frozen=True)
class Cohort:
    """A group of recruits trained together.

    Attributes:
        name: unique, case-insensitive, at most `NAME_MAX` characters.
        created: ISO 8601 time it was created.
        note: free text for the trainers (start date, room, ...).
    """

    name: str
    created: str
    note: str = ""


@dataclass(frozen=True)
class Assignment:
    """A persona to practise until a score reaches a target, by a due date.

    Attributes:
        id: row id; the practice link carries it (``/practice/{persona}?assignment={id}``).
        persona: persona id.
        cohort: the cohort it is assigned to, or None when it is for one recruit.
        recruit: the recruit it is assigned to, or None when it is for a cohort.
        target: score 0-100 to reach (of `measure`).
        measure: ``overall`` or a skill name (`MEASURES`).
        due: the last day (local calendar date) to reach the target.
        created: ISO 8601 time it was created; calls before it do not count.
        created_by: the trainer's account name.
        note: instructions for the recruit.
    """

    id: int
    persona: str
    cohort: str | None
    recruit: str | None
    target: float
    measure: str
    due: date
    created: datetime
    created_by: str = ""
    note: str = ""

    @property
    def audience(self) -> str:
        return f"cohort {self.cohort}" if self.cohort else f"recruit {self.recruit}"

    def applies_to(self, member: Member) -> bool:
        """True when `member` must do this assignment (their own, or their cohort's)."""
        if self.recruit is not None:
            return self.recruit.casefold() == member.name.casefold()
        return member.cohort is not None and (self.cohort or "").casefold() == member.cohort.casefold()

    def practice_url(self) -> str:
        return f"/practice/{self.persona}?assignment={self.id}"


@dataclass(frozen=True)
class Attempt:
    """One graded call from the history (the fields the floor uses).

    Attributes:
        session_id: history row id.
        when: when the call took place (timezone-aware).
        persona: persona id, or None.
        overall: overall score 0-100, or None.
        scores: {skill: score 0-100 or None}.
        outcome: resolved | hung_up | turn_limit | ended_by_trainee | None.
        duration_s: call length in seconds, or None.
        folder: the session folder, or None.
    """

    session_id: int
    when: datetime
    persona: str | None
    overall: float | None
    scores: dict[str, float | None] = field(default_factory=dict)
    outcome: str | None = None
    duration_s: float | None = None
    folder: str | None = None

    def measure(self, name: str) -> float | None:
        """The score an assignment with `measure` = `name` looks at."""
        return self.overall if name == OVERALL else self.scores.get(name)


@dataclass(frozen=True)
class AssignmentProgress:
    """A recruit's progress on one assignment.

    Attributes:
        assignment: the assignment.
        status: see `Status`.
        attempts: calls with the persona since the assignment was made.
        best, latest: the measure's best and latest score over those calls (None: no score yet).
        met_at: when a call first reached the target, or None.
        late: met, but after the due date.
        days_left: whole days until the end of the due day (negative: overdue by that many).
    """

    assignment: Assignment
    status: Status
    attempts: int = 0
    best: float | None = None
    latest: float | None = None
    met_at: datetime | None = None
    late: bool = False
    days_left: int = 0


@dataclass(frozen=True)
class SkillStat:
    """A measure's latest and best score over a recruit's calls (None: never scored)."""

    skill: str
    latest: float | None = None
    best: float | None = None


@dataclass(frozen=True)
class Sparkline:
    """The overall-score trend as points for a small SVG polyline (the template draws it).

    Attributes:
        points: ``"x,y x,y ..."`` in the box ``0..width x 0..height`` (y down; 100 at the top).
        width, height: the box in SVG user units.
        last_x, last_y: the newest point (drawn as a dot), or None without points.
        target_y: y of the highest open target line, or None.
        label: text for screen readers ("overall 52, 61, 70 over the last 3 calls").
    """

    points: str
    width: int
    height: int
    last_x: float | None
    last_y: float | None
    target_y: float | None
    label: str


@dataclass(frozen=True)
class RecruitProgress:
    """Everything the dashboard shows about one recruit.

    Attributes:
        member: name and cohort.
        calls: graded calls in the history.
        last_call: when the newest was, or None.
        last_outcome: how the newest call ended.
        outcomes: {outcome: count} over all calls (None outcomes left out).
        overall: the overall score's latest and best.
        skills: one `SkillStat` per skill, in `SKILLS` order.
        assignments: the recruit's assignments, due soonest first.
        standing: see `Standing`; `concerns` are the assignments that make it so (overdue
            first, then practised and still below target).
        trend: the overall-score sparkline over the last calls.
    """

    member: Member
    calls: int
    last_call: datetime | None
    last_outcome: str | None
    outcomes: dict[str, int]
    overall: SkillStat
    skills: tuple[SkillStat, ...]
    assignments: tuple[AssignmentProgress, ...]
    standing: Standing
    concerns: tuple[AssignmentProgress, ...]
    trend: Sparkline

    @property
    def name(self) -> str:
        return self.member.name

    @property
    def behind(self) -> bool:
        return self.standing is not Standing.ON_TRACK

    def skill(self, name: str) -> SkillStat:
        return self.overall if name == OVERALL else next(s for s in self.skills if s.skill == name)


@dataclass(frozen=True)
class CompareRow:
    """One measure, two recruits side by side (`diff_best` = a.best - b.best, None if either is missing)."""

    skill: str
    a: SkillStat
    b: SkillStat
    diff_best: float | None


@dataclass(frozen=True)
class Comparison:
    a: RecruitProgress
    b: RecruitProgress
    rows: tuple[CompareRow, ...]


def check_name(value: str, what: str) -> str:
    """`value` stripped, or InputError naming `what` and the rule broken."""
    text = " ".join(str(value or "").split())
    if not text:
        raise InputError(f"{what} is empty", field=what)
    if what == "cohort" and not COHORT_RE.match(text):
        raise InputError(f"cohort {text[:80]!r}: 1-{NAME_MAX} letters, digits, spaces, '.', '_' or '-', starting with a "
                         "letter or digit", field=what)
    if len(text) > NAME_MAX or not NAME_RE.match(text):
        raise InputError(f"{what} {text[:80]!r}: at most {NAME_MAX} characters, no control characters, < > or slashes",
                         field=what)
    return text


def check_persona(value: str) -> str:
    text = str(value or "").strip()
    if not PERSONA_RE.match(text):
        raise InputError(f"{text[:80]!r} is not a persona id (lowercase letters, digits and dashes)", field="persona")
    return text


def check_target(value: float | str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"target {value!r} is not a number", field="target") from None
    lo, hi = TARGET_RANGE
    if not lo <= x <= hi:  # also refuses NaN
        raise InputError(f"target {x:g} must be between {lo:g} and {hi:g}", field="target")
    return x


def check_due(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"due date {value!r} is not a date like 2026-12-24", field="due") from None


def check_measure(value: str | None) -> str:
    text = (value or OVERALL).strip().lower()
    if text not in MEASURES:
        raise InputError(f"{text!r} is not a measure; one of {', '.join(MEASURES)}", field="measure")
    return text
