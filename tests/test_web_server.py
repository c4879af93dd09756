"""Web server without a browser: who may connect (loopback, token, Host, Origin), persona saves
staying inside the personas folder, one call at a time, the CLI refusing an open bind."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from voicetrainer.errors import InputError
from voicetrainer.web.server import WebApp, is_loopback, make_server

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture()
def personas(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    d = tmp_path / "personas"
    shutil.copytree(REPO / "personas", d)
    return d


_CSRF: dict[str, str] = {}  # "127.0.0.1:port" -> that server's CSRF token (what its pages carry)


def _serve(app: WebApp, host: str = "127.0.0.1", **limits):
    server = make_server(app, host, 0, **limits)
    _CSRF[f"127.0.0.1:{server.server_address[1]}"] = app.csrf_token
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _request(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _post_json(url: str, obj: dict, *, csrf: bool = True, **headers):
    from urllib.parse import urlsplit

    token = {"X-CSRF-Token": _CSRF[urlsplit(url).netloc]} if csrf else {}
    return _request(url, method="POST", data=json.dumps(obj).encode(),
                    headers={"Content-Type": "application/json", **token, **headers})


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
        status, _, body = _request(base + "/")
        assert status == 401 and b"token" in body
        assert _request(base + "/personas", headers={"X-Voicetrainer-Token": "wrong-token-xxxxxxxx"})[0] == 401
        assert _request(base + "/personas", headers={"X-Voicetrainer-Token": TOKEN})[0] == 200
        # the printed link sets a cookie and drops the token from the address
        status, headers, _ = _request(base + f"/personas?token={TOKEN}")
        assert status == 303 and headers["Location"] == "/personas"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert _request(base + "/personas", headers={"Cookie": cookie})[0] == 200
        assert _request(base + "/static/app.css")[0] == 401  # assets too
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_server_refuses_foreign_host_and_cross_site_posts(personas):
    server = _serve(WebApp(personas_dir=personas))
    try:
        base = server.url.rstrip("/")
        assert server.server_address[0] == "127.0.0.1"
        assert _request(base + "/")[0] == 200
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example
        assert _request(base + "/", headers={"Host": "evil.example:8765"})[0] == 421
        status, _, body = _post_json(base + "/api/call/stop", {}, Origin="http://evil.example")
        assert status == 403 and b"other web sites" in body
        assert _post_json(base + "/api/call/stop", {}, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
        assert _post_json(base + "/api/call/stop", {}, Origin=base)[0] == 200
        # every page and asset is served locally; pages forbid inline and foreign scripts
        status, headers, page = _request(base + "/")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert b"http://" not in page and b"https://" not in page
    finally:
        server.shutdown()
        server.server_close()


def test_persona_saves_stay_inside_the_personas_folder(personas, tmp_path):
    server = _serve(WebApp(personas_dir=personas))
    base = server.url.rstrip("/")
    text = (personas / "billing-double-charge.yaml").read_text()
    try:
        for bad in ("../evil.yaml", "/tmp/evil.yaml", "sub/evil.yaml", "evil.txt", "..yaml"):
            status, _, body = _post_json(base + "/api/personas/save", {"file": bad, "text": text})
            assert not json.loads(body).get("ok"), bad
        assert not (tmp_path / "evil.yaml").exists()
        # a symlink inside the folder pointing out is refused, and its target is untouched
        outside = tmp_path / "outside.yaml"
        outside.write_text("keep me")
        (personas / "linked.yaml").symlink_to(outside)
        status, _, body = _post_json(base + "/api/personas/save", {"file": "linked.yaml", "text": text.replace(
            "id: billing-double-charge", "id: linked")})
        assert status == 400 and "outside the personas folder" in json.loads(body)["error"]
        assert outside.read_text() == "keep me"
        (personas / "linked.yaml").unlink()
        # invalid text is not saved; valid text is
        bad_text = text.replace("start_anger: 7", "start_anger: 14")
        assert bad_text != text
        d = json.loads(_post_json(base + "/api/personas/save", {"file": "billing-double-charge.yaml", "text": bad_text})[2])
        assert d["ok"] is False and any(i["field"] == "temperament.start_anger" for i in d["issues"])
        assert (personas / "billing-double-charge.yaml").read_text() == text
        new = text.replace("id: billing-double-charge", "id: billing-copy")
        d = json.loads(_post_json(base + "/api/personas/save", {"file": "billing-copy.yaml", "text": new})[2])
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
        assert _request(base + "/")[0] == 401
        status, headers, _ = _request(link)
        assert status == 303 and f"vt_token={token}" in headers["Set-Cookie"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_history_page_lists_calm_drills():
    from voicetrainer.web import pages

    html = pages.history_page([], [], None, ["calm"], [{"date": "2026-11-23T10:00:00", "trainee": "Alex", "persona": "p",
                                                         "rounds": 5, "mean": 71.0, "min": 40.0, "level": 3}])
    assert "Calm drills" in html and "furious" in html and ">71<" in html and "No calls recorded yet" in html
