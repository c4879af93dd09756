"""The practice page's typed chat: POST /api/chat runs the same caller engine as `personas chat`."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from voicetrainer.web.server import WebApp, make_server

REPO = Path(__file__).resolve().parents[1]
TOKEN: dict[str, str] = {}


@pytest.fixture()
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    d = tmp_path / "personas"
    shutil.copytree(REPO / "personas", d)
    app = WebApp(personas_dir=d)
    srv = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    TOKEN["csrf"] = app.csrf_token  # what the page's <meta name="csrf-token"> carries
    yield srv.url.rstrip("/")
    srv.shutdown()
    srv.server_close()


def post(url: str, obj: dict, **headers):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Accept": "application/json",
                                          "X-CSRF-Token": TOKEN.get("csrf", ""), **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_chat_on_the_practice_page(server):
    with urllib.request.urlopen(server + "/", timeout=10) as r:
        page = r.read().decode()
    assert 'id="chat-start"' in page and "/static/chat.js" in page
    status, start = post(server + "/api/chat", {"action": "start", "persona": "billing-double-charge"})
    assert status == 200 and start["opening"] and start["name"] == "Sandra Okafor"
    status, turn = post(server + "/api/chat", {"action": "say", "id": start["id"],
                                               "text": "Can I have the last four digits of the account?"})
    assert status == 200 and turn["situation"] == "answer" and "4471" in turn["caller"] and turn["reason"]


def test_chat_refuses_bad_input_and_other_sites(server):
    assert post(server + "/api/chat", {"action": "say", "id": "nope", "text": "hi"})[0] == 400
    assert post(server + "/api/chat", {"action": "start", "persona": "../etc/passwd"})[0] == 400
    assert post(server + "/api/chat", {"action": "start", "persona": "billing-double-charge"},
                Origin="http://evil.example")[0] == 403
