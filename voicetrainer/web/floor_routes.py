"""Training-floor routes: the recruit's home, the trainer's dashboard, compare, cohorts,
assignments and the cohort exports. Thin: the work is `voicetrainer.floor.service.FloorService`.

Who may do what (checked in every handler):
- ``/floor/home``: any logged-in user sees *their own* assignments and scores (a trainer is sent
  to the dashboard); nothing here takes another recruit's name.
- everything else: trainers only (`auth.require_role`), 403 for recruits.
Every POST is a form with the session's CSRF token (checked by `auth.Guard` before the handler
runs) and answers with a redirect (post/redirect/get) or the page with the error beside it.

Members of a cohort are the recruit accounts (`accounts.AccountStore`); with no accounts at all
(single-user mode) the dashboard shows every trainee of the history, in no cohort.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from voicetrainer import get_logger
from voicetrainer.errors import InputError
from voicetrainer.floor.model import MEASURES, Member, Status
from voicetrainer.floor.progress import utc_now
from voicetrainer.floor.service import FloorService
from voicetrainer.report.schema import SKILLS

from .app import render
from .auth import current_user, require_role

log = get_logger(__name__)

OUTCOME_SHORT = {"resolved": "resolved", "hung_up": "hung up", "turn_limit": "gave up", "ended_by_trainee": "ended"}
FLASH = {  # post/redirect/get: the redirect names one of these, never free text
    "assigned": "Assignment added.", "removed": "Assignment removed.", "cohort": "Cohort created.",
    "moved": "Recruit moved.",
}
DEFAULT_DUE_DAYS = 7  # the new-assignment form proposes a due date this many days ahead


def service(request: Request) -> FloorService:
    """The app's one `FloorService` (made on first use, over the app's data and personas folders)."""
    state = request.app.state
    svc = getattr(state, "floor", None)
    if svc is None:
        ctx = state.ctx
        svc = state.floor = FloorService(ctx.data_dir, personas_dir=ctx.personas_dir)
    return svc


def recruits(request: Request, cohort: str | None = None) -> list[Member]:
    """The recruit accounts (of `cohort`, any case); without accounts, the history's trainees."""
    ctx = request.app.state.ctx
    if ctx.accounts.has_accounts():
        out = [Member(u.name, u.cohort) for u in ctx.accounts.list(role="recruit")]
    else:
        from voicetrainer.report.history import HistoryDB

        path = service(request).history_path
        names = []
        if path.exists():
            with HistoryDB(path) as db:
                names = db.trainees()
        out = [Member(n, None) for n in names]
    if cohort:
        out = [m for m in out if (m.cohort or "").casefold() == cohort.casefold()]
    return out


def _page(request: Request, name: str, status_code: int = 200, **context) -> Response:
    names = service(request).persona_names()
    return render(request, name, status_code, names=names, outcome_labels=OUTCOME_SHORT,
                  flash=FLASH.get(request.query_params.get("ok", "")), **context)


# ----------------------------------------------------------------------------- recruit
def home(request: Request) -> Response:
    user = current_user(request)
    if user.role != "recruit":
        return RedirectResponse("/floor/dashboard", status_code=303)
    rp = service(request).recruit(Member(user.name, user.cohort), now=utc_now())
    return _page(request, "floor/home.html", title="My assignments", active="/floor/home", rp=rp)


# ----------------------------------------------------------------------------- trainer
def dashboard(request: Request, *, error: str | None = None, form: dict | None = None, status_code: int = 200
              ) -> Response:
    require_role(request, "trainer")
    svc = service(request)
    cohort = (request.query_params.get("cohort") or (form or {}).get("cohort") or "").strip() or None
    all_recruits = recruits(request)
    if cohort:
        cohort = svc.cohort_name(cohort, all_recruits)
    members = recruits(request, cohort)
    now = utc_now()
    rows = svc.progress(members, now=now)
    assignments = svc.store.for_members(members) if cohort else svc.store.assignments()
    if cohort:  # the cohort's own assignments even before it has members
        known = {a.id for a in assignments}
        assignments += [a for a in svc.store.assignments(cohort=cohort) if a.id not in known]
    tally = {a.id: {"met": 0, "total": 0, "overdue": 0} for a in assignments}
    for r in rows:
        for p in r.assignments:
            if p.assignment.id in tally:
                t = tally[p.assignment.id]
                t["total"] += 1
                t["met"] += p.status is Status.MET
                t["overdue"] += p.status is Status.OVERDUE
    return _page(request, "floor/dashboard.html", status_code, title="Training floor" + (f" — {cohort}" if cohort else ""),
                 active="/floor/dashboard", cohort=cohort, cohorts=svc.cohorts(all_recruits), rows=rows,
                 behind=[r for r in rows if r.behind], skills=SKILLS, assignments=assignments, tally=tally,
                 recruits=all_recruits, measures=MEASURES, form=form or {}, notice=error,
                 default_due=(now.astimezone().date() + timedelta(days=DEFAULT_DUE_DAYS)).isoformat())


def compare(request: Request) -> Response:
    require_role(request, "trainer")
    q = request.query_params
    by = {m.name.casefold(): m for m in recruits(request)}
    picked = []
    for key in ("a", "b"):
        m = by.get((q.get(key) or "").strip().casefold())
        if m is None:
            raise HTTPException(404, f"no recruit named {(q.get(key) or '')[:40]!r}")
        picked.append(m)
    cmp = service(request).compare(picked[0], picked[1], now=utc_now())
    return _page(request, "floor/compare.html", title=f"{cmp.a.name} and {cmp.b.name}", active="/floor/dashboard",
                 cmp=cmp, cohort=(q.get("cohort") or None))


def cohorts(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    require_role(request, "trainer")
    members: dict[str, list[str]] = {}
    everyone = recruits(request)
    for m in everyone:
        if m.cohort:
            members.setdefault(m.cohort.casefold(), []).append(m.name)
    return _page(request, "floor/cohorts.html", status_code, title="Cohorts and recruits", active="/floor/dashboard",
                 cohorts=service(request).cohorts(everyone), members=members, recruits=everyone,
                 unplaced=[m.name for m in everyone if not m.cohort], notice=error)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def _back(path: str, ok: str, cohort: str | None = None) -> RedirectResponse:
    query = {"ok": ok, **({"cohort": cohort} if cohort else {})}
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


async def create_cohort(request: Request) -> Response:
    user = require_role(request, "trainer")
    form = await _form(request)
    try:
        await run_in_threadpool(service(request).store.add_cohort, form.get("name", ""), note=form.get("note", ""))
    except InputError as e:
        return await run_in_threadpool(cohorts, request, error=str(e), status_code=400)
    log.info("floor: %s created cohort %r", user.name, form.get("name"))
    return _back("/floor/cohorts", "cohort")


async def move_recruit(request: Request) -> Response:
    require_role(request, "trainer")
    form = await _form(request)
    name, cohort = form.get("recruit", "").strip(), form.get("cohort", "").strip() or None

    def move() -> None:
        ctx = request.app.state.ctx
        who = ctx.accounts.get(name)
        if who is None or who.role != "recruit":
            raise InputError(f"no recruit account named {name[:40]!r}", field="recruit")
        ctx.accounts.set_cohort(who.name, service(request).cohort_name(cohort, recruits(request)) if cohort else None)

    try:
        await run_in_threadpool(move)
    except InputError as e:
        return await run_in_threadpool(cohorts, request, error=str(e), status_code=400)
    return _back("/floor/cohorts", "moved")


async def create_assignment(request: Request) -> Response:
    user = require_role(request, "trainer")
    form = await _form(request)
    kind, _, who = form.get("to", "").partition(":")

    def assign():
        if kind == "recruit" and who.casefold() not in {m.name.casefold() for m in recruits(request)}:
            raise InputError(f"no recruit named {who[:40]!r}", field="recruit")
        if kind not in ("cohort", "recruit"):
            raise InputError("choose a cohort or a recruit", field="for")
        names = service(request).persona_names()
        if form.get("persona") not in names:
            raise InputError(f"no persona {form.get('persona', '')[:60]!r}", field="persona")
        target = service(request).ensure_cohort(who, recruits(request)) if kind == "cohort" else who
        return service(request).store.assign(
            persona=form.get("persona", ""), target=form.get("target", ""), due=form.get("due", ""),
            measure=form.get("measure"), note=form.get("note", ""), created_by=user.name,
            **{kind: target})  # fmt: skip

    try:
        a = await run_in_threadpool(assign)
    except InputError as e:
        return await run_in_threadpool(dashboard, request, error=str(e), form=form, status_code=400)
    log.info("floor: %s assigned %s to %s (id %s)", user.name, a.persona, a.audience, a.id)
    return _back("/floor/dashboard", "assigned", form.get("cohort") or None)


async def remove_assignment(request: Request) -> Response:
    require_role(request, "trainer")
    form = await _form(request)
    gone = await run_in_threadpool(service(request).store.remove, int(request.path_params["id"]))
    if not gone:
        raise HTTPException(404, "no such assignment")
    return _back("/floor/dashboard", "removed", form.get("cohort") or None)


def _export(request: Request, fmt: str) -> Response:
    require_role(request, "trainer")
    cohort = request.path_params["cohort"]
    out = service(request).export(cohort, recruits(request, cohort), fmt=fmt, base_url=str(request.base_url))
    disposition = f"attachment; filename=\"{out.filename}\"; filename*=UTF-8''{quote(out.filename)}"
    return Response(out.text, media_type=out.media_type, headers={"Content-Disposition": disposition})


def export_csv(request: Request) -> Response:
    return _export(request, "csv")


def export_xapi(request: Request) -> Response:
    return _export(request, "xapi")


def routes() -> list[BaseRoute]:
    return [
        Route("/floor/home", home, methods=["GET"], name="floor_home"),
        Route("/floor/dashboard", dashboard, methods=["GET"], name="floor_dashboard"),
        Route("/floor/compare", compare, methods=["GET"], name="floor_compare"),
        Route("/floor/cohorts", cohorts, methods=["GET"], name="floor_cohorts"),
        Route("/floor/cohorts", create_cohort, methods=["POST"], name="floor_cohort_create"),
        Route("/floor/cohorts/members", move_recruit, methods=["POST"], name="floor_cohort_move"),
        Route("/floor/assignments", create_assignment, methods=["POST"], name="floor_assign"),
        Route("/floor/assignments/{id:int}/delete", remove_assignment, methods=["POST"], name="floor_unassign"),
        Route("/floor/export/{cohort}.xapi.json", export_xapi, methods=["GET"], name="floor_export_xapi"),
        Route("/floor/export/{cohort}.csv", export_csv, methods=["GET"], name="floor_export_csv"),
    ]
