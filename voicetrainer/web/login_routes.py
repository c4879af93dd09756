"""Logging in and out (accounts mode; see `auth` and `accounts`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voicetrainer import get_logger

from . import auth

log = get_logger(__name__)

MAX_FAILURES = 5  # wrong passwords for one name from one address ...
FAILURE_WINDOW_S = 300.0  # ... within this many seconds, then that pair waits out the window
MAX_TRACKED = 10_000  # pairs remembered (the oldest are forgotten first)


class LoginThrottle:
    """Wrong passwords per (name, client address) in a sliding window, bounded in memory and locked."""

    def __init__(self) -> None:
        import threading
        from collections import OrderedDict

        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked_for_s(self, key: tuple[str, str], now: float) -> float:
        with self._lock:
            times = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW_S]
            return FAILURE_WINDOW_S - (now - times[0]) if len(times) >= MAX_FAILURES else 0.0

    def failed(self, key: tuple[str, str], now: float) -> None:
        with self._lock:
            times = [t for t in self._failures.pop(key, []) if now - t < FAILURE_WINDOW_S] + [now]
            self._failures[key] = times[-MAX_FAILURES:]
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


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
    import time

    store = request.app.state.ctx.accounts
    throttle: LoginThrottle = request.app.state.login_throttle
    key, now = (name.lower()[:40], request.client.host if request.client else "?"), time.monotonic()
    wait_s = throttle.blocked_for_s(key, now)
    if wait_s > 0:
        return render(request, "login.html", 429, title="Log in", next=target, username=name[:40],
                      error=f"Too many wrong passwords: try again in {wait_s / 60:.0f} minute(s), or ask your trainer.")
    user = await anyio.to_thread.run_sync(store.verify, name, password)  # Argon2: ~50 ms of CPU
    if user is None:
        throttle.failed(key, now)
        log.info("web: failed login for %r from %s", key[0], key[1])
        return render(request, "login.html", 401, title="Log in", next=target, username=name[:40],
                      error="Wrong user name or password.")
    throttle.succeeded(key)
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
