"""Scoring: a report's moves and signals -> the skills, 0-100, with timestamped evidence.

A skill's score = its base + the points of each counted move and signal, clipped to 0..100.
Word-based skills start low (no free credit); skills whose base rewards only the absence of
faults (patience, clarity) are capped when the trainee said nothing that dealt with the caller
(`Engagement`). A skill that lost points names one "say this instead" example from the rubric.
Nothing is re-measured, so an old session can be re-graded with a new rubric from its report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from voicetrainer import get_logger
from voicetrainer.analysis.rubric.hits import Hit, find_moves, find_signals, signal_basis, turn_text
from voicetrainer.analysis.rubric.model import SIGNAL_LABELS, Rubric, Rule, SkillSpec
from voicetrainer.report.schema import Evidence, Report, Skill, finite

log = get_logger(__name__)

Item = tuple[float, Evidence, str, float, str]  # (t_s, evidence, short label, points counted, kind)


def _fmt_points(p: float) -> str:
    return f"+{p:g}" if p >= 0 else f"\u2212{-p:g}"  # a real minus sign, as in "(−15)"


def _claimed(spec: SkillSpec, moves: list[Hit]) -> list[Hit]:
    """The skill's moves, where the same words found as two kinds (two spans starting at the
    same word: "Thank you for calling" is a greeting and "Thank you" thanks) count once, as the
    kind worth the most points. "I'm so sorry this happened" (apology "I'm so sorry", empathy
    "sorry this happened") is both."""
    mine = sorted((m for m in moves if m.kind in spec.moves), key=lambda m: -abs(spec.moves[m.kind].points))
    kept: list[Hit] = []
    for m in mine:
        if m.span is None or not any(k.span is not None and k.span[:2] == m.span[:2] for k in kept):
            kept.append(m)
    return kept


def _score_one(
    spec: SkillSpec, rubric: Rubric, moves: list[Hit], signals: dict[str, list[Hit]],
    *, has_text: bool, has_caller: bool, basis: dict[str, bool], calm_score: float | None, engaged: bool,
) -> Skill:  # fmt: skip
    if spec.needs_caller and not has_caller:
        return Skill(score=None, summary="Not scored: a trainee-only recording has no caller to measure this against.")
    if spec.base_from == "calm_score":
        if calm_score is None:
            return Skill(score=None, summary="Not scored: no vocal calm figure for this call (too little voiced speech, "
                                             "or a text transcript).")  # fmt: skip
        base = calm_score
    else:
        base = spec.base
    scored = spec.base_from is not None or (has_text and bool(spec.moves)) or any(basis.get(s) for s in spec.signals)
    if not scored:
        return Skill(score=None, summary="Not scored: the call has no trainee words or measurements for this skill.")
    items: list[Item] = []
    mine = _claimed(spec, moves)
    for kind, rule in spec.moves.items():
        for k, h in enumerate(sorted((m for m in mine if m.kind == kind), key=lambda m: m.t_s)):
            label = rubric.labels.get(kind, kind)
            detail = h.detail.split(": ", 1)[1] if ": " in h.detail else ""  # "jargon: 'cache'"
            items.append(_evidence(h, f"{label}: {detail}" if detail else label, label, rule, k))
    for name, rule in spec.signals.items():
        for k, h in enumerate(signals.get(name, [])):
            items.append(_evidence(h, h.detail, SIGNAL_LABELS[name], rule, k))
    score = round(max(0.0, min(100.0, base + sum(it[3] for it in items))), 1)
    eng = rubric.engagement
    capped = has_text and not engaged and spec.name in eng.skills and score > eng.cap
    if capped:
        score = float(eng.cap)
    items.sort(key=lambda x: x[0])
    summary = _summary(spec, base, items)
    if capped:
        summary += (f" Capped at {eng.cap:g}: fewer than {eng.min_count} things the trainee said dealt with the "
                    f"caller's problem ({', '.join(eng.moves)}).")  # fmt: skip
    return Skill(score=score, evidence=[it[1] for it in items], summary=summary,
                 say_instead=_say_instead(spec, items, score))  # fmt: skip


def _say_instead(spec: SkillSpec, items: list[Item], score: float) -> str | None:
    """The rubric's example for the costliest penalty, else the skill's default example, when
    the skill lost points (score below 100)."""
    if score >= 100:
        return None
    lost: Counter[str] = Counter()
    for *_, points, kind in items:
        if points < 0:
            lost[kind] -= points
    for kind, _ in lost.most_common():
        if kind in spec.instead:
            return spec.instead[kind]
    return spec.instead.get("default")


def _evidence(h: Hit, label: str, short: str, rule: Rule, k: int) -> Item:
    """(time, evidence line, short label for the summary, points counted, kind) of the k-th hit."""
    counted = rule.max_count is None or k < rule.max_count
    if rule.points == 0:
        why = label
    elif counted:
        why = f"{label} ({_fmt_points(rule.points)})"
    else:
        why = f"{label} ({_fmt_points(rule.points)}, not counted: limit {rule.max_count})"
    return (h.t_s, Evidence(t_s=h.t_s, quote=h.quote, why=why), short, rule.points if counted else 0.0, h.kind)


def _summary(spec: SkillSpec, base: float, items: list[Item]) -> str:
    plus = Counter(it[2] for it in items if it[3] > 0)
    minus = Counter(it[2] for it in items if it[3] < 0)

    def part(c: Counter) -> str:
        return ", ".join(f"{lbl} ×{n}" if n > 1 else lbl for lbl, n in c.most_common())

    start = f"vocal calm {base:.0f}" if spec.base_from == "calm_score" else f"base {base:g}"
    bits = [f"Started from {start}."]
    if plus:
        bits.append(f"Credit: {part(plus)}.")
    if minus:
        bits.append(f"Cost: {part(minus)}.")
    if not plus and not minus:
        bits.append("Nothing in the call moved this score.")
    return " ".join(bits)


def score_skills(report: Report, rubric: Rubric, *, facts: Sequence[str] = ()) -> tuple[dict[str, Skill], float | None]:
    """Score every skill of the rubric on a graded report.

    Args:
        report: turns with words and times, interruptions, metrics (incl. ``calm.score``),
            per-turn ``wpm`` and ``calm``. Not modified.
        rubric: from `load_rubric`.
        facts: things the caller told (persona facts, caller lines); a trainee repeating them
            back earns listening credit. Caller turns in the report are used as well.
    Returns:
        ({skill: Skill(score 0-100 or None, evidence sorted by time, summary, say_instead)},
        overall), where overall is the weighted mean of the scored skills (None if none is scored).
    """
    th = rubric.thresholds
    has_text = any(t.speaker == "trainee" and turn_text(t).strip() for t in report.turns)
    moves = find_moves(report, facts=facts, phrases=rubric.phrases) if has_text else []
    signals = find_signals(report, th)
    basis = signal_basis(report)
    calm = (report.metrics or {}).get("calm")
    calm_score = finite(calm.get("score")) if isinstance(calm, Mapping) else None
    has_caller = any(t.speaker == "caller" for t in report.turns)
    engaged = sum(1 for m in moves if m.kind in rubric.engagement.moves) >= rubric.engagement.min_count
    skills = {
        name: _score_one(spec, rubric, moves, signals, has_text=has_text, has_caller=has_caller, basis=basis,
                         calm_score=calm_score, engaged=engaged)  # fmt: skip
        for name, spec in rubric.skills.items()
    }
    num = sum(rubric.weights.get(n, 1.0) * s.score for n, s in skills.items() if s.score is not None)
    den = sum(rubric.weights.get(n, 1.0) for n, s in skills.items() if s.score is not None)
    overall = round(num / den, 1) if den > 0 else None
    log.debug("skills scored with rubric %s: overall %s", rubric.name, overall)
    return skills, overall
