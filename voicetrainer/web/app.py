"""The web application: `create_app(ctx)` builds the Starlette app (served by uvicorn, see `server`).

- ``ctx`` is the `services.WebApp` (settings, data and personas folders, the transcriber factory,
  the account store, the running jobs); it is ``app.state.ctx``.
- ``app.state.templates``: `Jinja2Templates` over ``web/templates`` with autoescape on for every
  template; globals ``csrf_token()``, ``csrf_field()``, ``current_user()``, ``nav_items()``,
  ``accounts_mode()``. Pages extend ``base.html`` (nav + ``{% block content %}``).
- Middleware, outermost first: the signed session cookie (Starlette's SessionMiddleware, key in
  ``<data>/web-secret.key``), then `auth.Guard` (Host, user, Origin, CSRF, body limits).
- Routes: login/logout (`login_routes`), the pages (`views`) and the API (`api`, `events`), and the modules of
  the training floor (`floor_routes`) and of browser practice (`practice_ws`).
- Blocking work (sync endpoints, event streams' waits) runs on anyio's thread pool, bounded to
  `WORKERS` threads at startup.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from voicetrainer import get_logger
from voicetrainer.errors import VoiceTrainerError

from . import auth

log = get_logger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
WORKERS = 32  # threads for blocking work (sync handlers, event-stream waits); more requests queue

NAV = [  # (href, label, who sees it: "recruit" = everyone logged in, "trainer" = trainers only)
    ("/practice", "Practice", "recruit"),
    ("/mic", "Mic check", "recruit"),
    ("/history", "History", "recruit"),
    ("/calm", "Calm tools", "recruit"),
    ("/personas", "Personas", "trainer"),
    ("/batch", "Batch grading", "trainer"),
    ("/accounts", "Accounts", "trainer"),
]
FLOOR_NAV = [("/floor/home", "My assignments", "recruit-only"), ("/floor/dashboard", "Dashboard", "trainer")]


def make_templates(app: Starlette) -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.ChainableUndefined)
    paths = lambda: {getattr(r, "path", None) for r in app.routes}  # noqa: E731

    @jinja2.pass_context
    def csrf_token(context) -> str:
        return auth.csrf_token(context["request"])

    @jinja2.pass_context
    def csrf_field(context) -> Markup:
        return Markup('<input type="hidden" name="csrf" value="{}">').format(auth.csrf_token(context["request"]))

    @jinja2.pass_context
    def current_user(context):
        return context["request"].scope.get("vt_user")

    @jinja2.pass_context
    def nav_items(context) -> list[dict]:
        user = context["request"].scope.get("vt_user")
        if user is None:
            return []
        have = paths()
        items = [(h, label, g) for h, label, g in FLOOR_NAV if h in have] + NAV
        show = {"recruit", "recruit-only"} if user.role == "recruit" else {"recruit", "trainer"}
        shown = [{"href": h, "label": label, "group": "trainer" if g == "trainer" else "recruit"}
                 for h, label, g in items if g in show]
        return sorted(shown, key=lambda item: item["group"] == "trainer")  # everyone's pages, then the trainer's

    def accounts_mode() -> bool:
        return app.state.ctx.accounts.has_accounts()

    env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field, current_user=current_user, nav_items=nav_items,
                       accounts_mode=accounts_mode)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **context) -> Response:
    """A page from ``templates/`` (the helper every route uses)."""
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") and "text/html" not in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "") or "")
    if isinstance(exc, auth.LoginRequired) and not wants_json(request) and request.method in ("GET", "HEAD"):
        from urllib.parse import urlencode

        return RedirectResponse("/login?" + urlencode({"next": str(request.url.path)}), status_code=303)
    if wants_json(request) or request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": detail}, status_code=status)
    from http import HTTPStatus

    return render(request, "message.html", status, title=HTTPStatus(status).phrase, message=detail,
                  link=("/", "Home"))


async def _input_error(request: Request, exc: Exception) -> Response:
    from .services import CallBusy

    status = 409 if isinstance(exc, CallBusy) else 400
    if wants_json(request) or request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": str(exc)}, status_code=status)
    return render(request, "message.html", status, title="That did not work", message=str(exc), link=("/", "Home"))


async def _gone(request: Request, exc: Exception) -> Response:
    """The client stopped sending its body (or went away): nothing more to read on this connection."""
    return Response("the request body did not arrive in time", 408, headers={"Connection": "close"})


def create_app(ctx) -> Starlette:
    """The Starlette app for one `services.WebApp` context (see the module doc)."""
    from . import account_routes, api, floor_routes, login_routes, practice_ws, views

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKERS
        yield
        ctx.shutdown()

    route_list = [
        *login_routes.routes(),
        *account_routes.routes(),
        *views.routes(),
        *api.routes(),
        *floor_routes.routes(),
        *practice_ws.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/favicon.ico", lambda r: Response(status_code=204, media_type="image/x-icon")),
    ]
    middleware = [
        Middleware(SessionMiddleware, secret_key=auth.session_secret(ctx.data_dir), session_cookie=auth.SESSION_COOKIE,
                   max_age=auth.SESSION_MAX_AGE_S, same_site="lax", https_only=False),
        Middleware(auth.Guard, ctx=ctx),
    ]
    app = Starlette(routes=route_list, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, VoiceTrainerError: _input_error,
                                        ClientDisconnect: _gone})
    app.state.ctx = ctx
    app.state.login_throttle = login_routes.LoginThrottle()
    app.state.templates = make_templates(app)
    return app
