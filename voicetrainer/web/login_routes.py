"""Logging in and out (accounts mode; see `auth` and `accounts`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voicetrainer import get_logger

from . import auth

log = get_logger(__name__)


def _safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no host, no //): else the home page."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_page(request: Request) -> Response:
    from .app import render

    if request.scope.get("vt_user") is not None and request.app.state.ctx.accounts.has_accounts():
        return RedirectResponse(_safe_next(request.query_params.get("next", "/")), status_code=303)
    return render(request, "login.html", title="Log in", next=_safe_next(request.query_params.get("next", "/")),
                  username="", error=None)


async def login_submit(request: Request) -> Response:
    import anyio.to_thread

    from .app import render

    form = await request.form()
    name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or "/"))
    store = request.app.state.ctx.accounts
    user = await anyio.to_thread.run_sync(store.verify, name, password)  # Argon2: ~50 ms of CPU
    if user is None:
        log.info("web: failed login for %r from %s", name[:40], request.client.host if request.client else "?")
        return render(request, "login.html", 401, title="Log in", next=target, username=name[:40],
                      error="Wrong user name or password.")
    auth.login(request, user)
    log.info("web: %s (%s) logged in", user.name, user.role)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    auth.logout(request)
    return RedirectResponse("/login", status_code=303)


def routes() -> list:
    return [
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", login_submit, methods=["POST"], name="login_submit"),
        Route("/logout", logout, methods=["POST"], name="logout"),
    ]
