"""Browser practice over the WebSocket on the real server (uvicorn): the practice page, a whole
call with a simulated page (real speech), seats refused with a message, and the handshake's guard."""

from __future__ import annotations

import json
import re

import pytest
import soundfile as sf

from test_browser_headset import DEMO_WAV, browser_client
from web_helpers import WebSession, make_client, serve, web_app


@pytest.fixture()
def site(tmp_path, monkeypatch, transcriber):
    from voicetrainer.persona.tts import FakeTTS

    ctx = web_app(tmp_path, monkeypatch, tts_backend=FakeTTS(), transcriber=transcriber)
    ctx.accounts.add("rick", "recruit-pass-1", "recruit", cohort="autumn")
    return ctx


def _cookie(session: WebSession) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.jar)


def test_practice_page_needs_a_login_and_names_the_persona(site):
    from voicetrainer.web.app import create_app

    client = make_client(create_app(site))
    r = client.get("/practice/billing-double-charge?assignment=a-1")
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "rick", "password": "recruit-pass-1", "csrf": token, "next": "/"})
    r = client.get("/practice/billing-double-charge?assignment=a-1")
    assert r.status_code == 200
    assert 'data-persona="billing-double-charge"' in r.text and 'data-assignment="a-1"' in r.text
    assert "/static/practice.js" in r.text
    assert client.get("/practice/no-such-persona").status_code == 400
    bad = client.get('/practice/billing-double-charge?assignment="><script>')
    assert "<script>" not in bad.text.split("</nav>")[-1] and "data-assignment" not in bad.text


def test_a_full_seat_limit_refuses_the_call_with_a_message(site):
    from voicetrainer.session.seats import SeatPolicy, Seats
    from voicetrainer.web.app import create_app

    app = create_app(site)
    app.state.seats = Seats(SeatPolicy(seats=1))
    app.state.seats.take("someone", "billing-double-charge")
    client = make_client(app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "rick", "password": "recruit-pass-1", "csrf": token, "next": "/"})
    with client.websocket_connect("ws://127.0.0.1/practice/billing-double-charge/ws", headers={"origin": "http://127.0.0.1"}) as ws:
        msg = ws.receive_json()
    assert msg["type"] == "refused" and "all 1 practice seats are in use" in msg["message"]
    assert app.state.seats.refused == 1


@pytest.mark.slow
def test_a_whole_call_over_the_websocket(site):
    server = serve(site)
    try:
        web = WebSession(server.url)
        assert web.login("rick", "recruit-pass-1") in (302, 303)
        page = browser_client().call_over_websocket(server.url, "billing-double-charge", DEMO_WAV,
                                                    cookie=_cookie(web), assignment="a-9", talk_s=40.0, timeout_s=120)
    finally:
        server.shutdown()
        server.server_close()
    assert page.error is None and page.ended, page.messages[-3:]
    folder = site.sessions_root / page.ended["session"]
    audio, rate = sf.read(folder / "call.wav")
    assert audio.shape[1] == 2
    meta = json.loads((folder / "session.json").read_text())
    assert (meta["trainee"], meta["assignment"], meta["headset"]) == ("rick", "a-9", "browser")
    report = json.loads((folder / "report.json").read_text())
    assert report["outcome"] == page.ended["outcome"]
    assert any(t["speaker"] == "trainee" and t["text"] for t in report["turns"])
    assert any(m["type"] == "update" for m in page.messages)
