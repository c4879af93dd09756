"""Web server without a browser: who may connect (loopback, token, Host, Origin), persona saves
staying inside the personas folder, one call at a time, the CLI refusing an open bind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from voicetrainer.errors import InputError
from voicetrainer.web.server import WebApp, is_loopback, make_server
from web_helpers import WebSession, serve

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture()
def personas(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    d = tmp_path / "personas"
    shutil.copytree(REPO / "personas", d)
    return d


def _serve(app: WebApp, host: str = "127.0.0.1"):
    return serve(app, host)


def _request(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without following redirects, with no cookies (a stranger)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return WebSession(f"{u.scheme}://{u.netloc}").request(u.path + (f"?{u.query}" if u.query else ""), method=method,
                                                          data=data, headers=headers)


def test_loopback_names():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.com")


def test_non_loopback_bind_without_token_is_refused(personas):
    with pytest.raises(InputError) as e:
        make_server(WebApp(personas_dir=personas), "0.0.0.0", 0)
    assert e.value.exit_code == 2 and "--token" in str(e.value) and "0.0.0.0" in str(e.value)


def test_cli_refuses_non_loopback_bind_without_token(personas, capsys):
    from voicetrainer.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and "--token" in err


def test_non_loopback_bind_with_token_requires_it_on_every_request(personas):
    server = _serve(WebApp(personas_dir=personas, token=TOKEN), host="0.0.0.0")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        status, headers, _ = _request(base + "/personas")
        assert status == 303 and headers["Location"].startswith("/login")
        assert b"link the server printed" in _request(base + "/login")[2]
        assert _request(base + "/api/call/status")[0] == 401
        assert _request(base + "/personas", headers={"X-Voicetrainer-Token": "wrong-token-xxxxxxxx"})[0] == 303
        assert _request(base + "/personas", headers={"X-Voicetrainer-Token": TOKEN})[0] == 200
        # the printed link stores the token in the signed session cookie and drops it from the address
        visitor = WebSession(base)
        status, headers, _ = visitor.request(f"/personas?token={TOKEN}")
        assert status == 303 and headers["Location"] == "/personas"
        assert "httponly" in headers["Set-Cookie"].lower() and "samesite=lax" in headers["Set-Cookie"].lower()
        assert visitor.request("/personas")[0] == 200
        assert visitor.post_json("/api/call/stop", {})[0] == 200
        # a forged cookie (not signed with the server's key) is nobody
        forged = WebSession(base)
        assert forged.request("/personas", headers={"Cookie": "vt_session=eyJ0b2tlbiI6ICJ4In0=.x.y"})[0] == 303
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_server_refuses_foreign_host_and_cross_site_posts(personas):
    server = _serve(WebApp(personas_dir=personas))
    try:
        base = server.url.rstrip("/")
        me = WebSession(base)  # this test runs as the account that started the server: it gets in
        assert server.server_address[0] == "127.0.0.1"
        assert me.request("/")[0] == 303 and me.request("/practice")[0] == 200
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example
        assert me.request("/practice", headers={"Host": "evil.example:8765"})[0] == 421
        status, _, body = me.post_json("/api/call/stop", {}, Origin="http://evil.example")
        assert status == 403 and b"other web sites" in body
        assert me.post_json("/api/call/stop", {}, Origin="null")[0] == 403
        assert me.post_json("/api/call/stop", {}, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
        assert me.post_json("/api/call/stop", {}, csrf=False)[0] == 403
        assert me.post_json("/api/call/stop", {}, Origin=base)[0] == 200
        # every page and asset is served locally; pages forbid inline and foreign scripts
        status, headers, page = me.request("/practice")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert b"http://" not in page and b"https://" not in page
    finally:
        server.shutdown()
        server.server_close()


def test_persona_saves_stay_inside_the_personas_folder(personas, tmp_path):
    server = _serve(WebApp(personas_dir=personas))
    me = WebSession(server.url)
    text = (personas / "billing-double-charge.yaml").read_text()
    try:
        for bad in ("../evil.yaml", "/tmp/evil.yaml", "sub/evil.yaml", "evil.txt", "..yaml"):
            status, _, body = me.post_json("/api/personas/save", {"file": bad, "text": text})
            assert not json.loads(body).get("ok"), bad
        assert not (tmp_path / "evil.yaml").exists()
        # a symlink inside the folder pointing out is refused, and its target is untouched
        outside = tmp_path / "outside.yaml"
        outside.write_text("keep me")
        (personas / "linked.yaml").symlink_to(outside)
        status, _, body = me.post_json("/api/personas/save", {"file": "linked.yaml", "text": text.replace(
            "id: billing-double-charge", "id: linked")})
        assert status == 400 and "outside the personas folder" in json.loads(body)["error"]
        assert outside.read_text() == "keep me"
        (personas / "linked.yaml").unlink()
        # invalid text is not saved; valid text is
        bad_text = text.replace("start_anger: 7", "start_anger: 14")
        assert bad_text != text
        d = json.loads(me.post_json("/api/personas/save", {"file": "billing-double-charge.yaml", "text": bad_text})[2])
        assert d["ok"] is False and any(i["field"] == "temperament.start_anger" for i in d["issues"])
        assert (personas / "billing-double-charge.yaml").read_text() == text
        new = text.replace("id: billing-double-charge", "id: billing-copy")
        d = json.loads(me.post_json("/api/personas/save", {"file": "billing-copy.yaml", "text": new})[2])
        assert d == {"ok": True, "issues": [], "saved": "billing-copy.yaml"}
        assert (personas / "billing-copy.yaml").read_text() == new
    finally:
        server.shutdown()
        server.server_close()


def test_validation_issue_names_field_and_line(personas):
    app = WebApp(personas_dir=personas)
    text = (personas / "billing-double-charge.yaml").read_text().replace("start_anger: 7", "angr_level: 7")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "angr_level" in s)
    persona, issues = app.check_text("billing-double-charge.yaml", text)
    assert persona is None
    typo = next(i for i in issues if i["field"] == "temperament.angr_level")
    assert typo["line"] == line and "did you mean" in typo["message"]


def test_serve_command_prints_a_token_link_and_stops_on_ctrl_c(personas):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "VOICETRAINER_PERSONAS": str(personas)}
    proc = subprocess.Popen([sys.executable, "-m", "voicetrainer", "serve", "--port", "0", "--token", "auto"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("voicetrainer is running at http://127.0.0.1:"), line
        link = line.split()[-1]
        base, token = link.split("/?token=")
        assert len(token) >= 24
        assert _request(base + "/practice")[0] == 303  # to the login page: an explicit token binds everyone
        status, headers, _ = _request(link)
        assert status == 303 and "vt_session=" in headers["Set-Cookie"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_history_page_lists_calm_drills(personas, monkeypatch):
    from types import SimpleNamespace

    from voicetrainer.web.app import create_app
    from web_helpers import make_client

    app = WebApp(personas_dir=personas)
    app.local_owner_check = lambda scope: True
    drill = SimpleNamespace(date="2026-11-23T10:00:00", trainee="Alex", persona="p", rounds=5, mean_score=71.0,
                            min_score=40.0, max_level=3)
    monkeypatch.setattr(app, "history_drills", lambda trainee: [drill])
    html = make_client(create_app(app)).get("/history").text
    assert "Calm drills" in html and "furious" in html and ">71<" in html and "No calls recorded yet" in html


def test_non_loopback_bind_with_accounts_needs_a_login(personas):
    app = WebApp(personas_dir=personas)
    app.accounts.add("tess", "trainer-pass-1", "trainer")
    server = _serve(app, host="0.0.0.0")  # accounts instead of a token: allowed
    try:
        visitor = WebSession(f"http://127.0.0.1:{server.server_address[1]}")
        status, headers, _ = visitor.request("/practice")  # the owner too: accounts bind everyone
        assert status == 303 and headers["Location"].startswith("/login")
        assert visitor.post_json("/api/call/stop", {})[0] == 401
        assert visitor.login("tess", "trainer-pass-1") == 303
        assert visitor.request("/practice")[0] == 200 and visitor.post_json("/api/call/stop", {})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
