"""The persona editor (trainers): a form over the persona's fields and lines, with the raw YAML
(the storage format) on a second tab; validation messages stand beside each field.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .app import render
from .auth import require_role
from .services import PERSONA_FILE


def edit_page(request: Request) -> Response:
    from voicetrainer.persona.paths import read_text_inside

    require_role(request, "trainer")
    ctx = request.app.state.ctx
    file = request.query_params.get("file", "")
    ctx.persona_path(file, must_exist=True)
    text = read_text_inside(file, ctx.personas_dir)
    return _editor(request, file, text, is_new=False)


def new_page(request: Request) -> Response:
    from voicetrainer.persona.template import TEMPLATE

    require_role(request, "trainer")
    ctx = request.app.state.ctx
    pid = request.query_params.get("id", "").strip().lower()
    if not PERSONA_FILE.match(f"{pid}.yaml"):
        pid = "new-caller"
    if (ctx.personas_dir / f"{pid}.yaml").exists():
        return RedirectResponse(f"/personas/edit?file={pid}.yaml", status_code=303)
    return _editor(request, f"{pid}.yaml", TEMPLATE.format(id=pid), is_new=True)


def _editor(request: Request, file: str, text: str, *, is_new: bool) -> Response:
    lines = text.count("\n") + 1
    return render(request, "editor.html", title="New persona" if is_new else f"Edit {file}", active="/personas",
                  scripts=["editor.js"], file=file, text=text, is_new=is_new, rows=min(max(lines, 20), 40))


async def persona_api(request: Request) -> Response:
    import anyio.to_thread

    from .api import read_form

    require_role(request, "trainer")
    ctx = request.app.state.ctx
    form, _ = await read_form(request)
    file, text = str(form.get("file") or ""), str(form.get("text") or "")
    action = request.path_params["action"]
    if action not in ("validate", "save", "preview"):
        return JSONResponse({"error": "unknown action (validate, save or preview)"}, 404)

    def work() -> dict:
        if action == "save":
            ok, issues = ctx.save_persona(file, text)
            return {"ok": ok, "issues": issues, "saved": file if ok else None}
        persona, issues = ctx.check_text(file, text)
        out: dict = {"ok": persona is not None, "issues": issues}
        if action == "preview" and persona is not None:
            out["lines"] = ctx.preview_lines(persona)
        return out

    return JSONResponse(await anyio.to_thread.run_sync(work))


def routes() -> list:
    return [
        Route("/personas/edit", edit_page),
        Route("/personas/new", new_page),
        Route("/api/personas/{action:str}", persona_api, methods=["POST"]),
    ]
