"""Helpers for the web tests: a running server, a cookie-keeping client with the page's CSRF token,
and Starlette's TestClient on the same app."""

from __future__ import annotations

import http.cookiejar
import json
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def serve(app, host: str = "127.0.0.1"):
    """A real server (uvicorn on a free port) in a thread; call `.shutdown()` and `.server_close()`."""
    from voicetrainer.web.server import make_server

    server = make_server(app, host, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import time

    deadline = time.monotonic() + 10
    while not server.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class WebSession:
    """One browser-like visitor: keeps cookies, fetches the page's CSRF token on first use."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self._csrf: str | None = None

    def request(self, path: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
        """(status, headers, body) without following redirects."""
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=20) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            for page in ("/login", "/practice"):
                status, _, body = self.request(page)
                m = CSRF_META.search(body.decode("utf-8", "replace"))
                if status == 200 and m and m.group(1):
                    self._csrf = m.group(1)
                    break
        return self._csrf or ""

    def post_json(self, path: str, obj: dict, *, csrf: bool = True, **headers):
        token = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.request(path, method="POST", data=json.dumps(obj).encode(),
                            headers={"Content-Type": "application/json", **token, **headers})

    def login(self, name: str, password: str) -> int:
        from urllib.parse import urlencode

        status, _, body = self.request("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', body.decode()).group(1)
        status, _, _ = self.request("/login", method="POST", data=urlencode(
            {"username": name, "password": password, "csrf": token, "next": "/"}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self._csrf = None
        return status


def make_client(app):
    """Starlette's TestClient for `app` (a create_app result), addressed as 127.0.0.1."""
    from starlette.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def client_csrf(client) -> str:
    for page in ("/login", "/practice"):
        r = client.get(page)
        m = CSRF_META.search(r.text)
        if r.status_code == 200 and m and m.group(1):
            return m.group(1)
    return ""


def web_app(tmp_path: Path, monkeypatch, **kwargs):
    """A `WebApp` with its own data folder and a copy of the shipped personas under `tmp_path`."""
    from voicetrainer.web.services import WebApp

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    personas = tmp_path / "personas"
    shutil.copytree(REPO / "personas", personas)
    return WebApp(personas_dir=personas, **kwargs)
