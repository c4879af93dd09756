"""Web server under malformed requests and load (issue #17, item 5): 400 instead of 500, no thread
held forever, bounded threads, a real listen backlog. Loopback only, bounded in count and time."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from voicetrainer.web.server import LISTEN_BACKLOG, make_server
from web_helpers import WebSession, web_app

REPO = Path(__file__).resolve().parents[1]
WORKERS = 32  # app.WORKERS: the thread pool for blocking work


@pytest.fixture()
def server(tmp_path, monkeypatch):
    app = web_app(tmp_path, monkeypatch)
    app.body_timeout_s = 1.0
    srv = make_server(app, "127.0.0.1", 0, head_deadline_s=2.0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    while not srv.server.started:
        time.sleep(0.02)
    me = WebSession(srv.url)
    srv.csrf = me.csrf  # the visitor's CSRF token and session cookie, for the raw requests below
    srv.cookie = "; ".join(f"{c.name}={c.value}" for c in me.jar)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _raw(srv, request: bytes, *, timeout_s: float = 10.0) -> bytes:
    """Send `request` as is; everything the server answers until it closes the connection."""
    with socket.create_connection(srv.server_address[:2], timeout=timeout_s) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def _post(srv, body: bytes, length: str, ctype: str = "application/json") -> bytes:
    head = (f"POST /api/personas/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nConnection: close\r\n"
            f"X-CSRF-Token: {srv.csrf}\r\nCookie: {srv.cookie}\r\nContent-Length: {length}\r\n\r\n").encode()
    return _raw(srv, head + body)


def test_malformed_requests_get_400_not_500(server):
    for length in ("abc", "1e3", "-1", "0x10", " 12 12"):
        assert _status(_post(server, b'{"file": "a.yaml"}', length)) == 400, length
    deep = b"[" * 100_000 + b"]" * 100_000
    assert _status(_post(server, deep, str(len(deep)))) == 400
    assert _status(_post(server, b"[1, 2]", "6")) == 400  # JSON, but not an object
    assert _status(_post(server, b"\xff\xfe{", "3")) == 400
    csrf = server.csrf
    for path in (f"/api/mic/events?seconds=abc&csrf={csrf}", f"/api/mic/events?seconds=nan&csrf={csrf}",
                 "/sessions/s1/call.wav%00.html", "/history?trainee=%00"):
        reply = _raw(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {server.cookie}\r\nConnection: close\r\n\r\n".encode())
        assert _status(reply) == 400, (path, reply[:200])


def test_a_short_body_does_not_hold_a_thread(server):
    t0 = time.monotonic()
    reply = _post(server, b'{"file": ', "100")  # promises 100 bytes, sends 9, then waits
    assert time.monotonic() - t0 < 5.0  # the body timeout (1 s here) ends it
    assert _status(reply) in (0, 400, 408)
    reply = _raw(server, b"GET /api/call/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert _status(reply) == 200


def test_a_client_trickling_its_request_is_cut_off(server):
    stop = threading.Event()
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(b"GET /api/call/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        def trickle():  # a header byte every 0.25 s: no pause long enough for an idle timeout
            while not stop.wait(0.25):
                try:
                    s.sendall(b"X")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        t0 = time.monotonic()
        try:
            while s.recv(4096):  # the server answers what it got, or just closes
                pass
        finally:
            stop.set()
        assert time.monotonic() - t0 < 6.0  # the 2 s head deadline closed the connection


def test_idle_sockets_neither_block_requests_nor_stay_open(server):
    before = threading.active_count()
    idle = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(200)]
    try:
        t0 = time.monotonic()
        reply = _raw(server, b"GET /api/call/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout_s=5)
        assert _status(reply) == 200 and time.monotonic() - t0 < 5.0
        assert threading.active_count() <= before + WORKERS  # idle sockets cost no thread
        # after the head deadline (2 s here) the server has closed them
        time.sleep(3.0)
        idle[0].settimeout(5)
        assert idle[0].recv(10) == b""
    finally:
        for s in idle:
            s.close()


def test_200_concurrent_requests_are_all_answered_within_10_s(server):
    assert LISTEN_BACKLOG >= 128

    def get(_):
        try:
            reply = _raw(server, b"GET /api/call/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout_s=10)
            return _status(reply)
        except OSError as e:
            return repr(e)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(get, range(200)))
    elapsed = time.monotonic() - t0
    assert statuses == [200] * 200, [s for s in statuses if s != 200][:5]
    assert elapsed < 10.0


def test_an_event_stream_outlasting_the_body_timeout_is_not_cut(server):
    """The body timeout (1 s here) covers reading a request body, not a response that streams on."""
    from voicetrainer.audio.fakes import input_factory

    server.app.mic_stream_factory = input_factory(REPO / "audio_fixtures" / "demo_trainee.wav", speed=1.0)
    t0 = time.monotonic()
    reply = _raw(server, (f"GET /api/mic/events?seconds=3&csrf={server.csrf} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Cookie: {server.cookie}\r\nConnection: close\r\n\r\n").encode(), timeout_s=20)
    assert time.monotonic() - t0 >= 2.5
    assert _status(reply) == 200 and b"event: done" in reply and reply.endswith(b"\r\n0\r\n\r\n")  # the last chunk


def test_open_call_pages_hold_no_worker_thread(server):
    """More live-call pages than worker threads: the pages still get their events and other
    requests are answered at once (the call stream waits on the event loop)."""
    from types import SimpleNamespace

    from voicetrainer.web.app import WORKERS as POOL

    snap = {"seq": 1, "state": "running", "status": "in a call", "session": "s", "persona_name": "p", "simulated": True}
    server.app.call = SimpleNamespace(seq=1, snapshot=lambda: dict(snap), request=SimpleNamespace(trainee="trainee"),
                                      active=True, stop=lambda: None)
    streams = []
    try:
        for _ in range(POOL + 8):
            s = socket.create_connection(server.server_address[:2], timeout=10)
            s.sendall(f"GET /api/call/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {server.cookie}\r\n\r\n".encode())
            streams.append(s)
        for s in streams:
            got = b""
            while b"in a call" not in got:
                got += s.recv(4096)
        t0 = time.monotonic()
        reply = _raw(server, b"GET /api/call/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout_s=10)
        assert _status(reply) == 200 and time.monotonic() - t0 < 2.0
    finally:
        for s in streams:
            s.close()
        server.app.call = None
