"""Accounts, login and the guard on every state-changing route (issue #20).

The route test walks `app.routes` of the real app, so routes added later (training floor, browser
practice) are covered without touching this file: every POST/PUT/PATCH/DELETE route refuses a
visitor who is not logged in and a cross-origin request, and every WebSocket route refuses a
handshake without a session or from another origin.
"""

from __future__ import annotations

import os
import re
import stat

import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from voicetrainer.errors import InputError
from voicetrainer.web.accounts import AccountStore, User
from voicetrainer.web.app import create_app
from web_helpers import client_csrf, make_client, web_app

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    return web_app(tmp_path, monkeypatch)


@pytest.fixture()
def accounts(ctx):
    ctx.accounts.add("tess", "trainer-pass-1", "trainer")
    ctx.accounts.add("rick", "recruit-pass-1", "recruit", cohort="autumn")
    return ctx


def _login(client, name: str, password: str):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf": token, "next": "/practice"})


def _all_routes(routes, prefix=""):
    for r in routes:
        if isinstance(r, Mount):
            yield from _all_routes(r.routes or [], prefix + r.path)
        elif isinstance(r, (Route, WebSocketRoute)):
            yield prefix, r


def _concrete(path: str) -> str:
    """A request path for a route pattern: int parameters become 1, the others "x"."""
    return re.sub(r"\{[^}:]+(:[^}]+)?\}", lambda m: "1" if m.group(1) == ":int" else "x", path)


# ----------------------------------------------------------------------------- the account store

def test_account_store_hashes_with_argon2_and_keeps_the_file_private(tmp_path):
    store = AccountStore(tmp_path / "a" / "accounts.sqlite3")
    assert not store.has_accounts() and store.get("x") is None and store.list() == []
    u = store.add("tess", "correct horse", "trainer")
    assert u == User("tess", "trainer", None)
    store.add("rick", "battery staple", "recruit", cohort="autumn")
    assert store.verify("tess", "correct horse") == u
    assert store.verify("tess", "wrong password") is None and store.verify("nobody", "correct horse") is None
    assert store.get("RICK") == User("rick", "recruit", "autumn")  # names are case-insensitive
    assert [x.name for x in store.list(role="recruit")] == ["rick"] and store.list(cohort="spring") == []
    store.set_cohort("rick", "spring")
    assert store.list(cohort="spring") == [User("rick", "recruit", "spring")]
    raw = (tmp_path / "a" / "accounts.sqlite3").read_bytes()
    assert b"$argon2id$" in raw and b"correct horse" not in raw
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "accounts.sqlite3").st_mode) == 0o600
    for bad in (lambda: store.add("tess", "another pass", "trainer"), lambda: store.add("x y", "long enough", "recruit"),
                lambda: store.add("ok", "short", "recruit"), lambda: store.add("ok", "long enough", "admin")):
        with pytest.raises(InputError):
            bad()


def test_users_cli_adds_and_lists(tmp_path, monkeypatch, capsys):
    import io
    import json

    from voicetrainer.cli import main

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["users", "add", "rick", "--role", "recruit", "--cohort", "autumn", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "tess", "--role", "trainer", "--password-stdin"]) == 2
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "rick", "role": "recruit", "cohort": "autumn"}]
    assert AccountStore(tmp_path / "data" / "accounts.sqlite3").verify("rick", "a-good-password") is not None


# ----------------------------------------------------------------------------- logging in

def test_single_user_mode_without_accounts(ctx):
    ctx.local_owner_check = lambda scope: True  # the account that started the server
    c = make_client(create_app(ctx))
    r = c.get("/personas")
    assert r.status_code == 200 and 'id="who-name">local<' in r.text and "Log out" not in r.text
    ctx.local_owner_check = lambda scope: False  # another account on this PC: needs the link
    assert c.get("/personas").status_code == 303
    assert oct(os.stat(ctx.data_dir / "web-secret.key").st_mode & 0o777) == "0o600"


def test_login_logout_and_roles(accounts):
    app = create_app(accounts)
    c = make_client(app)
    assert c.get("/practice").headers["location"] == "/login?next=%2Fpractice"
    assert c.get("/api/call/status").status_code == 401
    before = client_csrf(c)
    r = _login(c, "tess", "wrong-password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text and "/practice" not in r.headers.get("location", "")
    r = _login(c, "tess", "trainer-pass-1")
    assert r.status_code == 303 and r.headers["location"] == "/practice"
    assert client_csrf(c) != before  # a fresh session on login (no fixation)
    page = c.get("/personas")
    assert page.status_code == 200 and 'id="who-name">tess<' in page.text and "Log out" in page.text
    assert c.post("/logout", data={}).status_code == 403  # logging out needs the token too
    assert c.post("/logout", data={"csrf": client_csrf(c)}).status_code == 303
    assert c.get("/personas").status_code == 303

    r = make_client(app)
    _login(r, "rick", "recruit-pass-1")
    assert r.get("/practice").status_code == 200
    for page in ("/personas", "/batch", "/personas/edit?file=billing-double-charge.yaml"):
        assert r.get(page).status_code == 403, page
    assert r.post("/api/personas/save", json={"file": "x.yaml", "text": ""},
                  headers={"X-CSRF-Token": client_csrf(r)}).status_code == 403
    practice = r.get("/practice").text  # a recruit practises as themself
    assert 'value="rick"' in practice and "readonly" in practice and 'href="/personas"' not in practice


def test_login_redirect_stays_on_this_site(accounts):
    c = make_client(create_app(accounts))
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = c.post("/login", data={"username": "tess", "password": "trainer-pass-1", "csrf": token, "next": target})
        assert r.headers["location"] == "/", target
        token = client_csrf(c)


# ----------------------------------------------------------------------------- every state-changing route

def test_every_state_changing_route_refuses_strangers_and_other_sites(accounts):
    app = create_app(accounts)
    stranger = make_client(app)
    member = make_client(app)
    _login(member, "tess", "trainer-pass-1")
    token = client_csrf(member)
    checked = 0
    for prefix, route in _all_routes(app.routes):
        path = _concrete(prefix + route.path)
        if isinstance(route, WebSocketRoute):
            from starlette.websockets import WebSocketDisconnect

            for client, headers in ((stranger, {"Origin": "http://127.0.0.1"}), (member, {"Origin": "http://evil.example"}),
                                    (member, {})):
                with pytest.raises(WebSocketDisconnect):
                    with client.websocket_connect("ws://127.0.0.1" + path, headers=headers) as ws:
                        ws.receive_text()
            checked += 1
            continue
        for method in sorted((route.methods or set()) & STATE_CHANGING):
            r = stranger.request(method, path, json={}, headers={"X-CSRF-Token": client_csrf(stranger)})
            if path == "/login":
                assert r.status_code in (400, 401), (method, path)  # no account, no session
                continue
            assert r.status_code == 401, (method, path, r.status_code)
            for headers in ({"Origin": "http://evil.example", "X-CSRF-Token": token}, {"Origin": "null", "X-CSRF-Token": token},
                            {"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token}, {}, {"X-CSRF-Token": "forged"}):
                r = member.request(method, path, json={}, headers=headers)
                assert r.status_code == 403, (method, path, headers, r.status_code)
            checked += 1
    assert checked >= 6  # logout, call start/stop, chat, batch start, persona validate|save|preview
    # with the session and its token the same requests work
    ok = {"X-CSRF-Token": token, "Origin": "http://127.0.0.1"}
    assert member.post("/api/call/stop", json={}, headers=ok).json() == {"ok": False, "error": "no call is running"}
    r = member.post("/api/personas/validate", json={"file": "billing-double-charge.yaml", "text": (
        accounts.personas_dir / "billing-double-charge.yaml").read_text()}, headers=ok)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert member.post("/api/chat", json={"action": "start", "persona": "billing-double-charge"},
                       headers=ok).json()["name"]


def test_websocket_handshakes_need_the_session_and_this_origin(accounts):
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from voicetrainer.web.auth import current_user

    async def echo(ws: WebSocket):
        await ws.accept()
        await ws.send_text(current_user(ws).name)
        await ws.close()

    app = create_app(accounts)
    app.router.routes.append(WebSocketRoute("/ws/test-echo", echo))
    stranger, member = make_client(app), make_client(app)
    _login(member, "rick", "recruit-pass-1")
    for client, headers in ((stranger, {"Origin": "http://127.0.0.1"}), (member, {"Origin": "http://evil.example"}),
                            (member, {"Origin": "null"}), (member, {})):
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("ws://127.0.0.1/ws/test-echo", headers=headers) as ws:
                ws.receive_text()
    with member.websocket_connect("ws://127.0.0.1/ws/test-echo", headers={"Origin": "http://127.0.0.1"}) as ws:
        assert ws.receive_text() == "rick"


def test_wrong_passwords_are_throttled_per_name(accounts):
    from voicetrainer.web.login_routes import MAX_FAILURES

    c = make_client(create_app(accounts))
    for _ in range(MAX_FAILURES):
        assert _login(c, "tess", "not-the-password").status_code == 401
    r = _login(c, "tess", "trainer-pass-1")  # even the right one waits now
    assert r.status_code == 429 and "Too many wrong passwords" in r.text
    assert _login(c, "rick", "recruit-pass-1").status_code == 303  # another name is not affected


def test_home_sends_each_role_to_its_page(accounts):
    from starlette.responses import PlainTextResponse

    app = create_app(accounts)
    app.router.routes[:] = [r for r in app.router.routes if not getattr(r, "path", "").startswith("/floor/")]
    trainer, recruit = make_client(app), make_client(app)
    _login(trainer, "tess", "trainer-pass-1")
    _login(recruit, "rick", "recruit-pass-1")
    assert trainer.get("/").headers["location"] == "/practice" == recruit.get("/").headers["location"]
    # once the training floor's pages exist, recruits go to their assignments and trainers to the dashboard
    ok = lambda request: PlainTextResponse("ok")  # noqa: E731
    app.router.routes += [Route("/floor/home", ok), Route("/floor/dashboard", ok)]
    assert recruit.get("/").headers["location"] == "/floor/home"
    assert trainer.get("/").headers["location"] == "/floor/dashboard"
    nav = recruit.get("/practice").text
    assert 'href="/floor/home"' in nav and 'href="/floor/dashboard"' not in nav
