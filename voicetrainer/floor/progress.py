"""Each recruit's progress, computed from the history of graded calls.

A graded call belongs to a recruit when its trainee name is the recruit's account name (case
does not matter, as in `HistoryDB.sessions`). A call counts towards an assignment when it is
with the assignment's persona and took place after the assignment was made; its score is the
assignment's measure (the overall score, or one skill's). Decisions take `now` as an argument:
nothing here reads the clock.

Rules (one place):
- an assignment is *met* when a counted call's score reaches the target (>=), *late* if that
  call came after the due day; else *overdue* once the due day (local calendar) has passed;
  else *in progress* after a counted call; else *not started*.
- a recruit is *overdue* with any overdue assignment, else *below target* with any assignment
  in progress, else *on track*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from voicetrainer.floor.model import (
    OVERALL, Assignment, AssignmentProgress, Attempt, CompareRow, Comparison, Member, RecruitProgress, SkillStat,
    Sparkline, Standing, Status,
)
from voicetrainer.report.schema import SKILLS

TREND_CALLS = 20  # the sparkline shows the overall score of this many newest calls
SPARK_W, SPARK_H, SPARK_PAD = 120, 32, 3  # SVG user units: box and inner margin
SPARK_MIN_SPAN = 20.0  # score points the sparkline's height covers at least
SPARK_MARGIN = 5.0  # score points above the highest and below the lowest value (within 0-100)


def parse_when(text: str | datetime) -> datetime:
    """An ISO 8601 time as a timezone-aware datetime (a naive one is local time, as written)."""
    when = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    return when if when.tzinfo is not None else when.astimezone()


def attempts_from(records: Iterable) -> list[Attempt]:
    """History rows (`report.history.SessionRecord`) as `Attempt`s, oldest first."""
    out = [
        Attempt(session_id=r.id, when=parse_when(r.date), persona=r.persona, overall=r.overall,
                scores=dict(r.scores), outcome=r.outcome, duration_s=r.duration_s, folder=r.folder)
        for r in records
    ]  # fmt: skip
    return sorted(out, key=lambda a: (a.when, a.session_id))


def load_attempts(history_path: str | Path | None, names: Sequence[str]) -> dict[str, list[Attempt]]:
    """Each name's graded calls from the history database (empty lists when it does not exist:
    reading must not create one)."""
    out: dict[str, list[Attempt]] = {n: [] for n in names}
    if history_path is None or not Path(history_path).exists() or not names:
        return out
    from voicetrainer.report.history import HistoryDB

    with HistoryDB(history_path) as db:
        for n in names:
            out[n] = attempts_from(db.sessions(trainee=n))
    return out


def counted(assignment: Assignment, attempts: Iterable[Attempt]) -> list[Attempt]:
    """The calls that count towards `assignment` (its persona, made after it), oldest first."""
    return [a for a in attempts if a.persona == assignment.persona and a.when >= assignment.created]


def assignment_progress(assignment: Assignment, attempts: Sequence[Attempt], *, now: datetime) -> AssignmentProgress:
    """Where a recruit with `attempts` (all their calls) stands on `assignment` at `now` (calls
    after `now` are not seen: an earlier `now` gives the standing as it was then)."""
    mine = [a for a in counted(assignment, attempts) if a.when <= now]
    scores = [(a, a.measure(assignment.measure)) for a in mine]
    scored = [(a, s) for a, s in scores if s is not None]
    best = max((s for _, s in scored), default=None)
    latest = scored[-1][1] if scored else None
    met_at = next((a.when for a, s in scored if s >= assignment.target), None)
    today = now.astimezone().date()
    days_left = (assignment.due - today).days
    late = met_at is not None and met_at.astimezone().date() > assignment.due
    if met_at is not None:
        status = Status.MET
    elif days_left < 0:
        status = Status.OVERDUE
    elif mine:
        status = Status.IN_PROGRESS
    else:
        status = Status.NOT_STARTED
    return AssignmentProgress(assignment=assignment, status=status, attempts=len(mine), best=best, latest=latest,
                              met_at=met_at, late=late, days_left=days_left)


def skill_stats(attempts: Sequence[Attempt]) -> tuple[SkillStat, tuple[SkillStat, ...]]:
    """The overall score's and each skill's latest and best over `attempts` (oldest first)."""

    def stat(name: str) -> SkillStat:
        vals = [v for v in (a.measure(name) for a in attempts) if v is not None]
        return SkillStat(skill=name, latest=vals[-1] if vals else None, best=max(vals) if vals else None)

    return stat(OVERALL), tuple(stat(s) for s in SKILLS)


def sparkline(values: Sequence[float], *, target: float | None = None) -> Sparkline:
    """Scores 0-100 (oldest first) as a polyline in a `SPARK_W` x `SPARK_H` box.

    The vertical scale spans the scores and the target with a margin, at least `SPARK_MIN_SPAN`
    points (a 0-100 scale would flatten a recruit's 45 -> 61 into a line that looks level)."""
    w, h, pad = SPARK_W, SPARK_H, SPARK_PAD
    seen = [min(max(v, 0.0), 100.0) for v in values] + ([target] if target is not None else [])
    lo, hi = (min(seen), max(seen)) if seen else (0.0, 100.0)
    if hi - lo < SPARK_MIN_SPAN:
        mid = (hi + lo) / 2
        lo, hi = mid - SPARK_MIN_SPAN / 2, mid + SPARK_MIN_SPAN / 2
    lo, hi = max(0.0, lo - SPARK_MARGIN), min(100.0, hi + SPARK_MARGIN)

    def y(v: float) -> float:
        return round(pad + (hi - min(max(v, lo), hi)) / (hi - lo) * (h - 2 * pad), 1)

    n = len(values)
    xs = [round(w / 2, 1)] if n == 1 else [round(pad + k * (w - 2 * pad) / (n - 1), 1) for k in range(n)]
    pts = [(x, y(v)) for x, v in zip(xs, values)]
    shown = ", ".join(f"{v:.0f}" for v in values)
    label = f"overall {shown} over the last {n} call{'s' if n != 1 else ''}" if n else "no graded calls yet"
    if target is not None:
        label += f"; target {target:g}"
    return Sparkline(points=" ".join(f"{x:g},{yy:g}" for x, yy in pts), width=w, height=h,
                     last_x=pts[-1][0] if pts else None, last_y=pts[-1][1] if pts else None,
                     target_y=y(target) if target is not None else None, label=label)


def recruit_progress(member: Member, attempts: Sequence[Attempt], assignments: Iterable[Assignment], *,
                     now: datetime) -> RecruitProgress:
    """One recruit's dashboard row: scores, outcome, trend, assignments (theirs and their cohort's)."""
    attempts = sorted((a for a in attempts if a.when <= now), key=lambda a: (a.when, a.session_id))
    mine = [assignment_progress(a, attempts, now=now) for a in assignments if a.applies_to(member)]
    mine.sort(key=lambda p: (p.assignment.due, p.assignment.id))
    overdue = [p for p in mine if p.status is Status.OVERDUE]
    below = [p for p in mine if p.status is Status.IN_PROGRESS]
    standing = Standing.OVERDUE if overdue else Standing.BELOW_TARGET if below else Standing.ON_TRACK
    overall, skills = skill_stats(attempts)
    open_targets = [p.assignment.target for p in mine
                    if p.assignment.measure == OVERALL and p.status is not Status.MET]
    trend = [a.overall for a in attempts if a.overall is not None][-TREND_CALLS:]
    last = attempts[-1] if attempts else None
    return RecruitProgress(
        member=member, calls=len(attempts), last_call=last.when if last else None,
        last_outcome=last.outcome if last else None,
        outcomes=dict(Counter(a.outcome for a in attempts if a.outcome)), overall=overall, skills=skills,
        assignments=tuple(mine), standing=standing, concerns=tuple(overdue + below),
        trend=sparkline(trend, target=max(open_targets) if open_targets else None),
    )  # fmt: skip


def cohort_progress(members: Sequence[Member], attempts: Mapping[str, Sequence[Attempt]],
                    assignments: Sequence[Assignment], *, now: datetime) -> list[RecruitProgress]:
    """Every member's progress, the ones behind first (overdue, then below target), then by name."""
    order = {Standing.OVERDUE: 0, Standing.BELOW_TARGET: 1, Standing.ON_TRACK: 2}
    rows = [recruit_progress(m, attempts.get(m.name, ()), assignments, now=now) for m in members]
    return sorted(rows, key=lambda r: (order[r.standing], r.name.casefold()))


def compare(a: RecruitProgress, b: RecruitProgress) -> Comparison:
    """Two recruits side by side: overall and each skill, latest and best, and the gap in best."""
    rows = []
    for name in (OVERALL, *SKILLS):
        sa, sb = a.skill(name), b.skill(name)
        diff = round(sa.best - sb.best, 1) if sa.best is not None and sb.best is not None else None
        rows.append(CompareRow(skill=name, a=sa, b=sb, diff_best=diff))
    return Comparison(a=a, b=b, rows=tuple(rows))


def utc_now() -> datetime:
    """The clock, for callers at the edge (web handlers, the CLI): decisions take `now` as an argument."""
    return datetime.now(timezone.utc)
