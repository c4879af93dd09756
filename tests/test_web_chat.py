"""The practice page's typed chat: POST /api/chat runs the same caller engine as `personas chat`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web_helpers import WebSession, serve, web_app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def server(tmp_path, monkeypatch):
    srv = serve(web_app(tmp_path, monkeypatch))
    yield WebSession(srv.url)  # the account that started the server, with its page's CSRF token
    srv.shutdown()
    srv.server_close()


def post(me: WebSession, obj: dict, **headers):
    status, _, body = me.post_json("/api/chat", obj, Accept="application/json", **headers)
    return status, json.loads(body or b"{}")


def test_chat_on_the_practice_page(server):
    page = server.request("/practice")[2].decode()
    assert 'id="chat-start"' in page and "/static/chat.js" in page
    status, start = post(server, {"action": "start", "persona": "billing-double-charge"})
    assert status == 200 and start["opening"] and start["name"] == "Sandra Okafor"
    status, turn = post(server, {"action": "say", "id": start["id"], "text": "Can I have the last four digits of the account?"})
    assert status == 200 and turn["situation"] == "answer" and "4471" in turn["caller"] and turn["reason"]


def test_chat_refuses_bad_input_and_other_sites(server):
    assert post(server, {"action": "say", "id": "nope", "text": "hi"})[0] == 400
    assert post(server, {"action": "start", "persona": "../etc/passwd"})[0] == 400
    assert post(server, {"action": "start", "persona": "billing-double-charge"}, Origin="http://evil.example")[0] == 403
