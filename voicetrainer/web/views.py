"""The pages (GET): practice, the live call, mic check, history, calm tools, personas, batch, and
the files of sessions and reports. Thin: data from `services`, HTML from ``templates/``.

Blocking handlers are plain functions: Starlette runs them on the bounded thread pool (app.WORKERS).
"""

from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from voicetrainer.report.schema import OUTCOME_LABELS

from . import uploads
from .app import render
from .auth import REPORT_CSP, current_user, require_role
from .services import DEFAULT_PERSONA, devices

REPORT_NAV = (
    '<nav aria-label="voicetrainer" style="background:#0f172a;color:#fff;padding:.5rem 1rem;font:15px system-ui,sans-serif">'
    '<a href="/" style="color:#fff;margin-right:1.2rem">Home</a>'
    '<a href="/practice" style="color:#fff;margin-right:1.2rem">Practice</a>'
    '<a href="/history" style="color:#fff;margin-right:1.2rem">History</a></nav>'
)


def home(request: Request) -> Response:
    """Recruits to their assignments, trainers to the dashboard (when the floor pages exist), else practice."""
    user = current_user(request)
    have = {getattr(r, "path", None) for r in request.app.routes}
    target = "/floor/home" if user.role == "recruit" else "/floor/dashboard"
    return RedirectResponse(target if target in have else "/practice", status_code=303)


def trainee_of(request: Request, given: str | None = None) -> tuple[str, bool]:
    """(the trainee name to use, fixed?): a recruit is always themself; a trainer may type any name."""
    user = current_user(request)
    if user.role == "recruit":
        return user.name, True
    return ((given or "").strip() or "trainee")[:60], False


def practice_page(request: Request, notice: str | None = None, status_code: int = 200,
                  notice_link: tuple[str, str] | None = None) -> Response:
    from .chat import MAX_TEXT_CHARS

    ctx = request.app.state.ctx
    personas = [r for r in ctx.persona_rows() if not r["issues"]]
    if personas and not any(p["id"] == DEFAULT_PERSONA for p in personas):
        default = personas[0]["id"]
    else:
        default = DEFAULT_PERSONA
    devs = devices()
    trainee, fixed = trainee_of(request)
    return render(request, "practice.html", status_code, title="Practice a call", active="/practice", scripts=["chat.js"],
                  personas=personas, default_persona=default, devices=devs, no_devices=not devs["inputs"] or not devs["outputs"],
                  recordings=list(uploads.shipped_recordings()), call=my_call(request),
                  trainee=trainee, trainee_fixed=fixed, chat_max=MAX_TEXT_CHARS, notice=notice,
                  notice_link=notice_link)


def call_page(request: Request) -> Response:
    from voicetrainer.analysis.pacing import WPM_BAND

    ctx = request.app.state.ctx
    call = my_call(request)
    title = "Call" if call is None else "Call with " + call["persona_name"] + (" (simulated)" if call["simulated"] else "")
    return render(request, "call.html", title=title, active="/practice", scripts=["live.js"] if call else [], call=call,
                  wpm_band=WPM_BAND)


def my_call(request: Request) -> dict | None:
    """The server's call, if this user may see it (a recruit: only their own); a snapshot."""
    job, user = request.app.state.ctx.call, current_user(request)
    if job is None or (user.role == "recruit" and job.request.trainee != user.name):
        return None
    return job.snapshot()


def mic_page(request: Request) -> Response:
    from voicetrainer.session.practice import BASELINE_SENTENCE

    trainee, fixed = trainee_of(request)
    return render(request, "mic.html", title="Microphone check", active="/mic", scripts=["mic.js"], devices=devices(),
                  sentence=BASELINE_SENTENCE, trainee=trainee, trainee_fixed=fixed)


def calm_page(request: Request) -> Response:
    from .services import calm_page_data

    patterns, tools = calm_page_data()
    return render(request, "calm.html", title="Calm tools", active="/calm", scripts=["pacer.js"], patterns=patterns,
                  tools=tools)


def _history_filter(request: Request) -> tuple[str | None, bool]:
    """(trainee to show, may the user pick anyone?): recruits see only their own calls."""
    user = current_user(request)
    if user.role == "recruit":
        return user.name, False
    return request.query_params.get("trainee") or None, True


def history_page(request: Request) -> Response:
    from voicetrainer.report.schema import SKILLS

    ctx = request.app.state.ctx
    trainee, can_pick_all = _history_filter(request)
    records, trainees = ctx.history_records(trainee)
    rows = [{"when": r.date[:16].replace("T", " "), "trainee": r.trainee, "persona": r.persona, "overall": r.overall,
             "scores": r.scores, "outcome": OUTCOME_LABELS.get(r.outcome, r.outcome or "–"),
             "href": f"/h/{r.id}/report.html" if ctx.servable_folder(r.folder)
             and (Path(r.folder) / "report.html").is_file() else None} for r in reversed(records)]
    drills = []
    for d in reversed(ctx.history_drills(trainee)):
        from voicetrainer.calm.drill import LEVEL_NAMES

        level = LEVEL_NAMES[d.max_level] if isinstance(d.max_level, int) and 0 <= d.max_level < len(LEVEL_NAMES) else "–"
        drills.append({"when": d.date[:16].replace("T", " "), "trainee": d.trainee, "persona": d.persona,
                       "rounds": d.rounds, "mean": d.mean_score, "min": d.min_score, "level": level})
    if not can_pick_all:
        trainees = [trainee]
    return render(request, "history.html", title="History", active="/history", rows=rows, trainees=trainees,
                  trainee=trainee, skills=list(SKILLS), drills=drills, can_pick_all=can_pick_all)


def trend_png(request: Request) -> Response:
    from voicetrainer.report.schema import SKILLS
    from voicetrainer.report.trend_chart import trend_png as draw, trend_rows

    trainee, _ = _history_filter(request)
    records, _ = request.app.state.ctx.history_records(trainee)
    with tempfile.TemporaryDirectory(prefix="vt-trend-") as tmp:
        png = draw(trend_rows(records), Path(tmp) / "trend.png", skills=SKILLS,
                   title="Skill scores over time" + (f" — {trainee}" if trainee else ""))
        return Response(png.read_bytes(), media_type="image/png")


def personas_page(request: Request) -> Response:
    require_role(request, "trainer")
    return render(request, "personas.html", title="Persona library", active="/personas",
                  rows=request.app.state.ctx.persona_rows())


def batch_page(request: Request, notice: str | None = None, status_code: int = 200) -> Response:
    require_role(request, "trainer")
    ctx = request.app.state.ctx
    job = ctx.batch.snapshot() if ctx.batch else None
    return render(request, "batch.html", status_code, title="Batch grading", active="/batch",
                  scripts=["batch.js"] if job else [], job=job, recordings=list(uploads.shipped_recordings()), notice=notice)


# ----------------------------------------------------------------------------- files

def serve_file(root: Path, rel: str, *, report: bool = True) -> Response:
    """`rel` inside `root` (no escapes, symlinks resolved), 404 otherwise; report pages get the app's nav."""
    rel = unquote(rel)
    if "\0" in rel or "\\" in rel:
        return HTMLResponse("not found", 404)
    try:
        base = root.resolve(strict=True)
        target = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return HTMLResponse("not found", 404)
    if not target.is_relative_to(base) or not target.is_file():
        return HTMLResponse("not found", 404)
    headers = {"Content-Security-Policy": REPORT_CSP} if report else {}
    if report and target.suffix == ".html":
        page = target.read_text(encoding="utf-8").replace("<body>", "<body>" + REPORT_NAV, 1)
        return HTMLResponse(page, headers=headers)
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=ctype, headers=headers)


def _session_owned(request: Request, rel: str) -> bool:
    """A recruit may open only the sessions they recorded (the trainee in the session's meta)."""
    user = current_user(request)
    if user.role == "trainer":
        return True
    return request.app.state.ctx.session_trainee(rel.split("/", 1)[0]) == user.name


def session_file(request: Request) -> Response:
    rel = request.path_params["rel"]
    if not _session_owned(request, rel):
        return HTMLResponse("not found", 404)
    return serve_file(request.app.state.ctx.sessions_root, rel)


def batch_file(request: Request) -> Response:
    require_role(request, "trainer")
    return serve_file(request.app.state.ctx.batches_root, request.path_params["rel"])


def history_file(request: Request) -> Response:
    ctx = request.app.state.ctx
    rid, name = int(request.path_params["rid"]), unquote(request.path_params["name"])
    trainee, _ = _history_filter(request)
    records, _ = ctx.history_records(None)
    rec = next((r for r in records if r.id == rid), None)
    if rec is None or not ctx.servable_folder(rec.folder) or "/" in name or "\\" in name or name in (".", "..") \
            or (current_user(request).role == "recruit" and rec.trainee != trainee):
        return HTMLResponse("no such report in the history", 404)
    return serve_file(Path(rec.folder), name)


def tts_preview(request: Request) -> Response:
    require_role(request, "trainer")
    wav = request.app.state.ctx.previews.get(request.path_params["key"])
    if wav is None or not wav.is_file():
        return HTMLResponse("no such preview", 404)
    return FileResponse(wav, media_type="audio/wav")


def routes() -> list:
    from . import persona_editor

    return [
        Route("/", home, name="home"),
        Route("/practice", practice_page, name="practice"),
        Route("/call", call_page, name="call"),
        Route("/mic", mic_page, name="mic"),
        Route("/calm", calm_page, name="calm"),
        Route("/history", history_page, name="history"),
        Route("/history/trend.png", trend_png, name="trend"),
        Route("/personas", personas_page, name="personas"),
        Route("/batch", batch_page, name="batch"),
        Route("/sessions/{rel:path}", session_file, name="session_file"),
        Route("/batches/{rel:path}", batch_file, name="batch_file"),
        Route("/h/{rid:int}/{name}", history_file, name="history_file"),
        Route("/api/tts/{key}.wav", tts_preview, name="tts_preview"),
        *persona_editor.routes(),
    ]
