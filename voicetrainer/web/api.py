"""The state-changing endpoints and status polls of the pages: start/stop a call, typed chat, batch
grading (uploads), and the statuses. CSRF, Origin and login are checked by `auth.Guard` before any
of these run; roles are checked here.
"""

from __future__ import annotations

import json

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from voicetrainer.errors import InputError

from . import uploads
from .app import wants_json
from .auth import current_user, require_role
from .jobs import CallRequest
from .services import CallBusy

UPLOAD_PATHS = ("/api/call/start", "/api/batch/start")  # the only forms that take recordings


class BadRequest(InputError):
    """A malformed request body."""


def _read_upload(request: Request, dest):
    """Stream a multipart body to `dest` (in a worker thread; chunks come from the event loop)."""
    stream = request.stream().__aiter__()

    def chunks():
        while True:
            try:
                chunk = anyio.from_thread.run(stream.__anext__)
            except StopAsyncIteration:
                return
            if chunk:
                yield chunk

    return uploads.read_upload_form(request.headers, chunks(), dest)


async def read_form(request: Request) -> tuple[dict, uploads.UploadForm | None]:
    """(fields, upload or None) of a JSON, urlencoded or (upload paths only) multipart body."""
    ctype = request.headers.get("content-type", "")
    if uploads.is_multipart(ctype):
        if request.url.path not in UPLOAD_PATHS:
            raise BadRequest("this address takes no file uploads")
        up = await anyio.to_thread.run_sync(_read_upload, request, request.app.state.ctx.new_upload_dir())
        return up.fields, up
    if ctype.startswith("application/json"):
        try:
            doc = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than Python's stack
            raise BadRequest("request is not a JSON object" + (" (nested too deeply)" if isinstance(
                e, RecursionError) else "")) from None
        if not isinstance(doc, dict):
            raise BadRequest("request is not a JSON object")
        return doc, None
    form = await request.form()
    return {k: form.getlist(k)[-1] for k in form.keys()}, None


def _device(v) -> int | str | None:
    return None if not v else int(v) if str(v).isdigit() else str(v)


async def call_start(request: Request) -> Response:
    from .views import practice_page, trainee_of

    ctx = request.app.state.ctx
    user = current_user(request)
    try:
        form, up = await read_form(request)
        persona = str(form.get("persona") or "")
        if not persona:
            raise InputError("choose a caller first")
        simulate = None
        if form.get("simulate"):  # an uploaded recording, else a shipped one: never a path typed in
            files = up.files if up else []
            simulate = str(files[0].path if files else uploads.shipped_recording(form.get("fixture") or ctx.demo_wav.name))
        trainee, _ = trainee_of(request, str(form.get("trainee") or ""))
        req = CallRequest(persona=persona, trainee=trainee, simulate=simulate, accelerated=bool(form.get("accelerated")),
                          device_in=_device(form.get("device_in")), device_out=_device(form.get("device_out")))
        await anyio.to_thread.run_sync(ctx.start_call, req)
    except InputError as e:
        if wants_json(request):
            return JSONResponse({"error": str(e)}, 409 if isinstance(e, CallBusy) else 400)
        note = str(e)
        link = ("/call", "Go to the running call.") if isinstance(e, CallBusy) and user.role == "trainer" else None
        return await anyio.to_thread.run_sync(lambda: practice_page(request, note, 409 if isinstance(e, CallBusy) else 400,
                                                                    notice_link=link))
    if wants_json(request):
        return JSONResponse({"ok": True, "url": "/call"})
    return RedirectResponse("/call", status_code=303)


def call_stop(request: Request) -> Response:
    from .views import my_call

    stopped = my_call(request) is not None and request.app.state.ctx.stop_call()
    if wants_json(request):
        return JSONResponse({"ok": stopped, **({} if stopped else {"error": "no call is running"})})
    return RedirectResponse("/call", status_code=303)


def call_status(request: Request) -> Response:
    from .views import my_call

    return JSONResponse(my_call(request) or {"state": "none"})


async def chat(request: Request) -> Response:
    from . import chat as chat_mod

    form, _ = await read_form(request)
    out = await anyio.to_thread.run_sync(chat_mod.handle, request.app.state.ctx, form)
    return JSONResponse(out)


async def batch_start(request: Request) -> Response:
    from .views import batch_page

    require_role(request, "trainer")
    ctx = request.app.state.ctx
    try:
        form, up = await read_form(request)
        fixtures = up.lists.get("fixture", []) if up else [str(form.get("fixture") or "")]
        await anyio.to_thread.run_sync(lambda: ctx.start_batch_recordings(
            up.files if up else [], fixtures, record_history=bool(form.get("history"))))
    except InputError as e:
        status = 409 if isinstance(e, CallBusy) else 400
        if wants_json(request):
            return JSONResponse({"error": str(e)}, status)
        return await anyio.to_thread.run_sync(lambda: batch_page(request, str(e), status))
    return JSONResponse({"ok": True}) if wants_json(request) else RedirectResponse("/batch", status_code=303)


def batch_status(request: Request) -> Response:
    require_role(request, "trainer")
    ctx = request.app.state.ctx
    return JSONResponse(ctx.batch.snapshot() if ctx.batch else {"state": "none"})


def routes() -> list:
    from . import events

    return [
        Route("/api/call/start", call_start, methods=["POST"]),
        Route("/api/call/stop", call_stop, methods=["POST"]),
        Route("/api/call/status", call_status),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/batch/start", batch_start, methods=["POST"]),
        Route("/api/batch/status", batch_status),
        *events.routes(),
    ]
