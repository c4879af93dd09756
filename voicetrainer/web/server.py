"""The web server: uvicorn serving `app.create_app(ctx)` on one socket bound here.

Load and hostile clients (the limits are defined once, below, and in `auth`/`app`):
- the listen backlog is `LISTEN_BACKLOG`, so a burst of connections queues;
- at most `MAX_CONNECTIONS` connections and tasks at once: beyond that uvicorn answers 503 at once;
- an idle keep-alive connection is closed after `KEEP_ALIVE_S`; a request head must be complete
  within `protocol.HEAD_DEADLINE_S` of connecting (no idle or trickling sockets held) and is at
  most `MAX_HEAD_BYTES`; a body chunk that does not arrive within
  `auth.BODY_CHUNK_TIMEOUT_S` ends the request; bodies are bounded (`auth.MAX_BODY_BYTES`);
- blocking work runs on `app.WORKERS` threads (sync handlers, event-stream waits), not one per request;
- WebSocket messages are at most `WS_MAX_BYTES`, and a peer that stops answering pings is dropped.

Who may connect lives in `auth`, the routes in `views`/`api`/`events`, the state in `services.WebApp`.
"""

from __future__ import annotations

import socket
import threading

from voicetrainer import get_logger
from voicetrainer.errors import InputError

from .auth import is_loopback, new_token
from .services import WebApp

__all__ = ["DEFAULT_PORT", "WebApp", "WebServer", "is_loopback", "make_server", "new_token"]

log = get_logger(__name__)

DEFAULT_PORT = 8765
LISTEN_BACKLOG = 512  # connections the kernel queues before accept (capped by net.core.somaxconn)
MAX_CONNECTIONS = 400  # open connections + running tasks; more get 503 (each is a file descriptor)
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_HEAD_BYTES = 64 * 1024  # an incomplete request head larger than this is refused
WS_MAX_BYTES = 1024 * 1024  # one WebSocket message (an audio frame is a few kB)
GRACEFUL_S = 5  # on stop: wait this long for open requests, then close them


class WebServer:
    """uvicorn on a socket bound by `make_server`; `serve_forever` blocks, `shutdown` stops it from another thread.

    Args:
        head_deadline_s: a request head must be complete this long after connecting or after the
            previous response (`protocol.HEAD_DEADLINE_S`); tests shorten it.
        max_connections, keep_alive_s: see the module constants.
    """

    def __init__(self, sock: socket.socket, app: WebApp, *, head_deadline_s: float | None = None,
                 max_connections: int = MAX_CONNECTIONS, keep_alive_s: int = KEEP_ALIVE_S):
        import uvicorn

        from .app import create_app
        from .protocol import DeadlineH11Protocol

        self.app = app
        self.socket = sock
        self.asgi = create_app(app)
        protocol = DeadlineH11Protocol
        if head_deadline_s is not None:
            protocol = type("DeadlineH11", (DeadlineH11Protocol,), {"head_deadline_s": head_deadline_s})
        config = uvicorn.Config(
            self.asgi, http=protocol, ws="wsproto", lifespan="on", log_config=None, access_log=False,
            server_header=False, limit_concurrency=max_connections, timeout_keep_alive=keep_alive_s,
            backlog=LISTEN_BACKLOG, h11_max_incomplete_event_size=MAX_HEAD_BYTES, ws_max_size=WS_MAX_BYTES,
            timeout_graceful_shutdown=GRACEFUL_S,
        )
        self.server = uvicorn.Server(config)
        self._done = threading.Event()

    @property
    def server_address(self) -> tuple:
        return self.socket.getsockname()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until `shutdown` (or Ctrl-C on the main thread). `poll_interval`: ignored (kept for callers)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self._done.set()

    def shutdown(self) -> None:
        self.app.closing.set()
        if self.app.call is not None:
            self.app.call.stop()
        self.server.should_exit = True
        self._done.wait(timeout=GRACEFUL_S + 5)

    def server_close(self) -> None:
        try:
            self.socket.close()
        except OSError:
            pass


def make_server(app: WebApp, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **limits) -> WebServer:
    """Bind the server (port 0 = any free port). A non-loopback `host` needs an explicit token
    (`app.token_required`) or accounts (people log in); else InputError (exit 2): anyone on the
    network could otherwise start calls, read reports and write persona files. `limits`: `WebServer` keywords."""
    if not is_loopback(host) and not app.token_required and not app.accounts.has_accounts():
        raise InputError(
            f"refusing to listen on {host}: the app would be open to the network. Keep the default "
            "127.0.0.1, add accounts (voicetrainer users add NAME --role trainer), or give --token SECRET "
            "(or --token auto) so that every request must carry it",
            field="--host",
        )
    app.loopback_only = is_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as e:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port", field="--port") from e
    sock.set_inheritable(True)
    return WebServer(sock, app, **limits)
