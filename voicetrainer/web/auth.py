"""Who is asking, and may they: the `Guard` middleware and the helpers route handlers call.

Every HTTP request and WebSocket handshake passes `Guard` (after Starlette's SessionMiddleware):
- On a loopback bind the ``Host`` header must name loopback (no DNS rebinding): 421 otherwise.
- The user is resolved once (`resolve_user`) and kept in the scope:
  * accounts exist (`accounts.AccountStore`): the account logged in on this session, else nobody;
  * no accounts (single-user mode): the person at this machine acts as a trainer (`LOCAL_USER`) -
    the account that started the server on a loopback connection (unless ``--token`` was given),
    or anyone holding the token (``X-Voicetrainer-Token`` header, or the printed ``?token=`` link,
    which stores it in the signed session and redirects to the same page without it).
- Nobody gets past without a user except to `PUBLIC_PATHS` (login page, static files): pages
  redirect to ``/login``, the API answers 401, a WebSocket is closed before it is accepted.
- A request that changes something (POST/PUT/PATCH/DELETE) must come from this app's pages: no
  foreign or ``null`` Origin, no cross-site ``Sec-Fetch-Site``, and the session's CSRF token in the
  ``X-CSRF-Token`` header (JSON and scripts), the ``csrf`` field of a urlencoded form, or the
  ``csrf`` query parameter of a multipart upload (checked before a byte of the file is read).
  A WebSocket handshake must carry this app's own Origin.
- Bodies are bounded (`MAX_BODY_BYTES`, uploads `uploads.MAX_UPLOAD_BYTES`) and every body chunk
  must arrive within `BODY_CHUNK_TIMEOUT_S`; responses get the security headers (CSP etc.).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .accounts import LOCAL_USER, User

TOKEN_HEADER = "X-Voicetrainer-Token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SESSION_COOKIE = "vt_session"
SESSION_MAX_AGE_S = 12 * 3600  # one working day; then log in again
SECRET_FILE = "web-secret.key"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_PATHS = ("/login", "/favicon.ico")  # and everything under /static/
MAX_BODY_BYTES = 1_000_000  # a persona is a few kB; nothing the pages send comes near this (uploads: uploads.py)
BODY_CHUNK_TIMEOUT_S = 10.0  # a stalled client frees its connection after this
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# report pages carry their own inline style and script (they also work from disk)
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
              "media-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                                  expected.encode("utf-8"))


def session_secret(data_dir: Path) -> str:
    """The key that signs session cookies: ``<data>/web-secret.key``, made once with mode 0600."""
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


# ----------------------------------------------------------------------------- for route handlers

class LoginRequired(HTTPException):
    """Nobody is logged in: pages redirect to /login, the API answers 401 (see app.py)."""

    def __init__(self) -> None:
        super().__init__(401, "log in first")


def current_user(request: Request) -> User:
    """The user making this request; `LoginRequired` (401, or a redirect to /login for pages) if none."""
    user = request.scope.get("vt_user")
    if user is None:
        raise LoginRequired()
    return user


def require_role(request: Request, role: str) -> User:
    """The user, if they have `role` (HTTP 403 otherwise)."""
    user = current_user(request)
    if user.role != role:
        raise HTTPException(403, f"this page is for {role}s; you are logged in as {user.name} ({user.role})")
    return user


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use); forms and scripts send it back."""
    session = request.scope.get("session")
    if session is None:
        return ""
    if not session.get("csrf"):
        session["csrf"] = new_token()
    return session["csrf"]


def login(request: Request, user: User) -> None:
    """Start a fresh session for `user` (a new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session["user"] = user.name
    request.session["csrf"] = new_token()


def logout(request: Request) -> None:
    request.session.clear()


# ----------------------------------------------------------------------------- the middleware

def _hostname(host: str) -> str:
    return host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]


def resolve_user(ctx, scope, session: dict, headers: Headers) -> User | None:
    """The user behind a request (see the module doc); None = nobody."""
    store = ctx.accounts
    if store.has_accounts():
        return store.get(session.get("user") or "")
    if not ctx.token_required and ctx.is_local_owner(scope):
        return LOCAL_USER
    if same(headers.get(TOKEN_HEADER) or "", ctx.token) or same(str(session.get("token") or ""), ctx.token):
        return LOCAL_USER
    return None


class Guard:
    """Pure ASGI middleware (streams and WebSockets pass untouched once allowed); `ctx`: the WebApp."""

    def __init__(self, app, ctx) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        ctx, headers, path = self.ctx, Headers(scope=scope), scope.get("path", "")
        host = (headers.get("host") or "").lower()
        ws = scope["type"] == "websocket"
        if "\0" in path or b"\0" in scope.get("query_string", b"") or b"%00" in scope.get("query_string", b""):
            return await _refuse(scope, receive, send, 400, "the address contains a NUL byte")
        if ctx.loopback_only and not is_loopback(_hostname(host)):
            return await _refuse(scope, receive, send, 421,
                                 "this server only answers requests addressed to 127.0.0.1 or localhost")
        session = scope.setdefault("session", {})
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        method = "WS" if ws else scope["method"]
        link = (query.get("token") or [""])[-1]
        if method == "GET" and link and same(link, ctx.token) and not ctx.accounts.has_accounts():
            session["token"] = ctx.token  # the printed link: remember it, then show the page without it
            rest = urlencode([(k, v) for k, vs in query.items() if k != "token" for v in vs])
            return await _redirect(scope, receive, send, path + (f"?{rest}" if rest else ""))
        user = await anyio.to_thread.run_sync(resolve_user, ctx, scope, session, headers)
        scope["vt_user"] = user
        public = path in PUBLIC_PATHS or path.startswith("/static/")
        if ws:
            origin = headers.get("origin") or ""
            if not origin or urlsplit(origin).netloc.lower() != host or user is None:
                return await send({"type": "websocket.close", "code": 1008, "reason": "not allowed"})
            return await self.app(scope, receive, send)
        if user is None and not public:
            if method in SAFE_METHODS and not _wants_json(scope, headers):
                return await _redirect(scope, receive, send, "/login?" + urlencode({"next": _here(scope)}))
            return await _refuse(scope, receive, send, 401, "log in first (or open the link the server printed)")
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            site = (headers.get("sec-fetch-site") or "same-origin").lower()
            if (origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host)) \
                    or site not in ("same-origin", "none"):
                return await _refuse(scope, receive, send, 403, "requests from other web sites are refused")
            receive, ok, problem = await self._check_body(scope, receive, headers, session, query)
            if problem:
                return await _refuse(scope, receive, send, problem[0], problem[1])
            if not ok:
                return await _refuse(scope, receive, send, 403, "this form has expired or did not come from this "
                                     "app: reload the page and try again")
        await self.app(scope, _timed(receive, getattr(ctx, "body_timeout_s", BODY_CHUNK_TIMEOUT_S)), _with_headers(send))

    async def _check_body(self, scope, receive, headers: Headers, session: dict, query: dict):
        """(receive to use, CSRF ok?, (status, problem) or None). Reads a small urlencoded body
        to find its ``csrf`` field, then replays it to the route."""
        from .uploads import MAX_UPLOAD_BYTES

        expected = str(session.get("csrf") or "")
        ctype = (headers.get("content-type") or "").lower()
        multipart = ctype.startswith("multipart/form-data")
        limit = MAX_UPLOAD_BYTES if multipart else MAX_BODY_BYTES
        raw_len = (headers.get("content-length") or "").strip()
        if raw_len and (not raw_len.isdigit() or int(raw_len) > limit):
            return receive, False, (413, f"request body too large (at most {limit} bytes)")
        given = headers.get(CSRF_HEADER) or ""
        if not given and multipart:
            given = (query.get(CSRF_FIELD) or [""])[-1]
        if given or not ctype.startswith("application/x-www-form-urlencoded"):
            return receive, same(given, expected), None
        body = b""
        while True:
            with anyio.move_on_after(getattr(self.ctx, "body_timeout_s", BODY_CHUNK_TIMEOUT_S)) as waited:
                msg = await receive()
            if waited.cancelled_caught or msg["type"] == "http.disconnect":
                return receive, False, (408, "the request body did not arrive in time")
            body += msg.get("body", b"")
            if len(body) > limit:
                return receive, False, (413, f"request body too large (at most {limit} bytes)")
            if not msg.get("more_body"):
                break
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay, same((form.get(CSRF_FIELD) or [""])[-1], expected), None


def _here(scope) -> str:
    qs = scope.get("query_string", b"").decode("latin-1")
    return scope.get("path", "/") + (f"?{qs}" if qs else "")


def _wants_json(scope, headers: Headers) -> bool:
    return scope.get("path", "").startswith("/api/") and "text/html" not in (headers.get("accept") or "")


def _timed(receive: Callable, timeout_s: float):
    """`receive` where a body chunk that does not come within `timeout_s` reads as a disconnect.
    Once the body is complete, `receive` is passed through untimed: a streaming response waits on it
    for the client's disconnect for as long as the stream lasts."""
    body_done = False

    async def timed():
        nonlocal body_done
        if body_done:
            return await receive()
        with anyio.move_on_after(timeout_s):
            msg = await receive()
            if msg["type"] != "http.request" or not msg.get("more_body"):
                body_done = True
            return msg
        return {"type": "http.disconnect"}

    return timed


def _with_headers(send: Callable, csp: str = CSP):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            h = MutableHeaders(scope=message)
            h.setdefault("Cache-Control", "no-store")
            h.setdefault("X-Content-Type-Options", "nosniff")
            # same-origin, not no-referrer: with no-referrer a browser posts our own forms with "Origin: null"
            h.setdefault("Referrer-Policy", "same-origin")
            h.setdefault("Content-Security-Policy", csp)
        await send(message)

    return wrapped


async def _redirect(scope, receive, send, location: str) -> None:
    from starlette.responses import RedirectResponse

    await RedirectResponse(location, status_code=303)(scope, receive, _with_headers(send))


async def _refuse(scope, receive, send, status: int, message: str) -> None:
    """The refusal: JSON for the API, a short page otherwise; a WebSocket is closed unaccepted."""
    from html import escape

    from starlette.responses import HTMLResponse, Response

    if scope["type"] == "websocket":
        return await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
    headers = Headers(scope=scope)
    if _wants_json(scope, headers) or "application/json" in (headers.get("content-type") or ""):
        resp: Response = Response(json.dumps({"error": message}), status, media_type="application/json")
    else:
        resp = HTMLResponse(f"<!DOCTYPE html><title>{status}</title><h1>{status}</h1><p>{escape(message)}</p>"
                            '<p><a href="/login">Log in</a> · <a href="/">Home</a></p>', status)
    await resp(scope, receive, _with_headers(send))
