"""Accounts in the browser: trainers add, reset and remove accounts (``/accounts``), everyone
changes their own password (``/account/password``). The CLI (`voicetrainer users`) does the same.

Without accounts the person at the machine is a trainer; the first account made here must be a
trainer, and the session continues logged in as it (else the page would lock its own user out).
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voicetrainer import get_logger
from voicetrainer.errors import InputError

from . import auth
from .accounts import ROLES
from .app import render

log = get_logger(__name__)


def _page(request: Request, *, error: str | None = None, done: str | None = None, status_code: int = 200,
          form: dict | None = None) -> Response:
    me = auth.require_role(request, "trainer")
    store = request.app.state.ctx.accounts
    return render(request, "accounts.html", status_code, title="Accounts", active="/accounts", users=store.list(),
                  me=me, roles=ROLES, error=error, done=done or request.query_params.get("done"),
                  form=form or {}, first=not store.has_accounts())


def accounts_page(request: Request) -> Response:
    return _page(request)


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(form.get(k) or "") for k in form.keys()}


async def add_account(request: Request) -> Response:
    auth.require_role(request, "trainer")
    f = await _fields(request)
    store = request.app.state.ctx.accounts
    first = not store.has_accounts()

    def work() -> Response:
        name, role, cohort = f.get("name", "").strip(), f.get("role", ""), f.get("cohort", "").strip() or None
        if first and role != "trainer":
            raise InputError("the first account must be a trainer: once an account exists everyone logs in", field="role")
        if f.get("password", "") != f.get("password2", ""):
            raise InputError("the two passwords differ", field="password")
        user = store.add(name, f.get("password", ""), role, cohort)
        log.info("web: %s added account %s (%s)", auth.current_user(request).name, user.name, user.role)
        if first:
            auth.login(request, user)  # the person at the machine carries on as this trainer
        return RedirectResponse(f"/accounts?done=added+{user.name}", status_code=303)

    try:
        return await anyio.to_thread.run_sync(work)
    except InputError as e:
        return _page(request, error=str(e), status_code=400, form={k: v for k, v in f.items() if "password" not in k})


async def reset_password(request: Request) -> Response:
    auth.require_role(request, "trainer")
    f = await _fields(request)
    store = request.app.state.ctx.accounts
    try:
        if f.get("password", "") != f.get("password2", ""):
            raise InputError("the two passwords differ", field="password")
        await anyio.to_thread.run_sync(store.set_password, f.get("name", ""), f.get("password", ""))
    except InputError as e:
        return _page(request, error=str(e), status_code=400)
    return RedirectResponse(f"/accounts?done=new+password+for+{f.get('name', '')}", status_code=303)


async def remove_account(request: Request) -> Response:
    me = auth.require_role(request, "trainer")
    f = await _fields(request)
    store = request.app.state.ctx.accounts
    name = f.get("name", "")
    try:
        target = store.get(name)
        if target is None:
            raise InputError("no such user", field=f"name {name!r}")
        if target.name.lower() == me.name.lower():
            raise InputError("you cannot remove your own account while logged in with it")
        if target.role == "trainer" and len(store.list(role="trainer")) <= 1:
            raise InputError("this is the last trainer: add another trainer first")
        store.remove(target.name)
    except InputError as e:
        return _page(request, error=str(e), status_code=400)
    log.info("web: %s removed account %s", me.name, name)
    return RedirectResponse(f"/accounts?done=removed+{name}", status_code=303)


def my_password_page(request: Request, *, error: str | None = None, done: bool = False, status_code: int = 200) -> Response:
    me = auth.current_user(request)
    return render(request, "my_password.html", status_code, title="Change your password", me=me, error=error, done=done,
                  has_account=request.app.state.ctx.accounts.get(me.name) is not None)


async def change_my_password(request: Request) -> Response:
    me = auth.current_user(request)
    f = await _fields(request)
    store = request.app.state.ctx.accounts
    try:
        if await anyio.to_thread.run_sync(store.verify, me.name, f.get("current", "")) is None:
            raise InputError("your current password is not right", field="current")
        if f.get("password", "") != f.get("password2", ""):
            raise InputError("the two new passwords differ", field="password")
        await anyio.to_thread.run_sync(store.set_password, me.name, f.get("password", ""))
    except InputError as e:
        return my_password_page(request, error=str(e), status_code=400)
    return my_password_page(request, done=True)


def routes() -> list:
    return [
        Route("/accounts", accounts_page, methods=["GET"]),
        Route("/accounts", add_account, methods=["POST"]),
        Route("/accounts/password", reset_password, methods=["POST"]),
        Route("/accounts/remove", remove_account, methods=["POST"]),
        Route("/account/password", lambda r: my_password_page(r), methods=["GET"]),
        Route("/account/password", change_my_password, methods=["POST"]),
    ]
