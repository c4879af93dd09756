"""The persona editor (trainers): a form over the persona's fields and lines, with the raw YAML
(the storage format) on a second tab; validation messages stand beside each field.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import persona_form
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


def _tab(request: Request) -> str:
    return "yaml" if request.query_params.get("tab") == "yaml" else "form"


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
    from urllib.parse import quote

    title = "New persona" if is_new else f"Edit {file}"
    base_url = f"/personas/new?id={quote(file[:-5])}" if is_new else f"/personas/edit?file={quote(file)}"
    if _tab(request) == "form":
        return _form_page(request, file, persona_form.parse_yaml(text), is_new=is_new,
                          saved=request.query_params.get("saved") == "1")
    lines = text.count("\n") + 1
    return render(request, "editor.html", title=title, active="/personas", scripts=["editor.js"], file=file, text=text,
                  is_new=is_new, rows=min(max(lines, 20), 40), tab="yaml", base_url=base_url)


def _form_page(request: Request, file: str, doc: dict, *, is_new: bool, saved: bool = False,
               issues: list[dict] | None = None, status_code: int = 200) -> Response:
    from urllib.parse import quote

    placed, rest = persona_form.errors_by_field(issues or [])
    if is_new and rest and any(i.get("field") == "" and "file name" in str(i.get("message")) for i in rest):
        placed["file"] = [i["message"] for i in rest if "file name" in str(i.get("message"))]
        rest = [i for i in rest if "file name" not in str(i.get("message"))]
    base_url = f"/personas/new?id={quote(file[:-5])}" if is_new else f"/personas/edit?file={quote(file)}"
    return render(request, "editor_form.html", status_code, title="New persona" if is_new else f"Edit {file}",
                  active="/personas", file=file, is_new=is_new, saved=saved, sections=persona_form.SECTIONS,
                  values=persona_form.values_from_doc(doc), long_facts=persona_form.long_form_facts(doc),
                  field_errors=placed, other_errors=rest, error_count=sum(map(len, placed.values())) + len(rest),
                  tab="form", base_url=base_url)


async def form_submit(request: Request) -> Response:
    """The form tab's Save: the fields written into the persona's YAML, validated, then saved."""
    import anyio.to_thread

    from voicetrainer.persona.paths import read_text_inside
    from voicetrainer.persona.template import TEMPLATE

    require_role(request, "trainer")
    ctx = request.app.state.ctx
    form = await request.form()
    file, is_new = str(form.get("file") or "").strip(), bool(form.get("new"))

    def work() -> Response:
        if is_new:
            if PERSONA_FILE.match(file) and (ctx.personas_dir / file).exists():
                return _form_page(request, file, persona_form.apply_form({}, form), is_new=True, status_code=409,
                                  issues=[{"field": "", "message": "a persona file name: this one exists already; "
                                           "choose another id"}])
            pid = file[:-5] if PERSONA_FILE.match(file) else "new-caller"
            original = TEMPLATE.format(id=pid)
        else:
            ctx.persona_path(file, must_exist=True)
            original = read_text_inside(file, ctx.personas_dir)
        doc = persona_form.parse_yaml(original)
        if PERSONA_FILE.match(file):
            doc["id"] = file.rsplit(".", 1)[0]
        doc = persona_form.apply_form(doc, form)
        text = persona_form.dump_yaml(doc, header=persona_form.leading_comments(original))
        ok, issues = ctx.save_persona(file, text)
        if not ok:
            return _form_page(request, file, doc, is_new=is_new, issues=issues, status_code=400)
        return RedirectResponse(f"/personas/edit?file={file}&saved=1", status_code=303)

    return await anyio.to_thread.run_sync(work)


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
        Route("/personas/form", form_submit, methods=["POST"]),
        Route("/api/personas/{action:str}", persona_api, methods=["POST"]),
    ]
