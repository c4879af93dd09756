"""The web server: `WebServer` answers HTTP on one socket with a bounded pool of request threads.

Why the standard library: one person on their own machine, a handful of requests per second,
live updates one way (server -> page) which server-sent events do over plain HTTP.

Load and hostile clients (the limits are defined once, below):
- the listen backlog is `LISTEN_BACKLOG`, not the default 5, so a burst of connections queues;
- an accepted connection waits in a selector, not in a thread, until its first bytes arrive:
  idle sockets cost no thread, and one idle longer than `IDLE_TIMEOUT_S` is closed
  (at most `MAX_WAITING` wait; beyond that the oldest is closed);
- a request runs on one of `WORKERS` threads; every socket read and write times out after
  `SOCKET_TIMEOUT_S` (a short body or a stalled client frees its thread), the whole request
  (head and body) must arrive within `READ_DEADLINE_S` (a client trickling a byte at a time is
  cut off), and the connection is closed after the response (no idle keep-alive holding a thread).

Access control lives in `security`, the routes in `routes`, the state in `services.WebApp`.
"""

from __future__ import annotations

import queue
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import HTTPServer

from voicetrainer import get_logger
from voicetrainer.errors import InputError

from .routes import Handler
from .security import is_loopback, new_token
from .services import WebApp

__all__ = ["DEFAULT_PORT", "WebApp", "WebServer", "is_loopback", "make_server", "new_token"]

log = get_logger(__name__)

DEFAULT_PORT = 8765
LISTEN_BACKLOG = 512  # connections the kernel queues before accept (capped by net.core.somaxconn)
WORKERS = 32  # request threads; server-sent event streams hold one each while open
SOCKET_TIMEOUT_S = 10.0  # every read/write on a request socket (a short body waits this, then 408-less close)
READ_DEADLINE_S = 30.0  # the whole request head and body (a persona save is a few kB)
IDLE_TIMEOUT_S = 20.0  # a connection that sends nothing for this long is closed
MAX_WAITING = 1000  # connections waiting for their first bytes (each is a file descriptor)


class WebServer(HTTPServer):
    """`HTTPServer` with a readiness selector in front of a bounded thread pool (see the module doc)."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, app: WebApp, *, workers: int = WORKERS, socket_timeout_s: float = SOCKET_TIMEOUT_S,
                 idle_timeout_s: float = IDLE_TIMEOUT_S, read_deadline_s: float = READ_DEADLINE_S):
        self.app = app
        self.socket_timeout_s = socket_timeout_s
        self.read_deadline_s = read_deadline_s
        self.idle_timeout_s = idle_timeout_s
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web-request")
        self._arrivals: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._closed = threading.Event()
        self._waiter = threading.Thread(target=self._wait_for_data, name="web-waiter", daemon=True)
        self._waiter.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    # -------------------------------------------------------------- connections
    def process_request(self, request, client_address) -> None:
        """Called on the accept thread: park the connection until it has something to read."""
        self._arrivals.put((request, client_address))
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _wait_for_data(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        waiting: dict = {}  # socket -> (client address, deadline on the monotonic clock)
        try:
            while not self._closed.is_set():
                for key, _ in sel.select(timeout=0.5):
                    if key.fileobj is self._wake_r:
                        try:
                            self._wake_r.recv(4096)
                        except OSError:
                            pass
                        continue
                    sel.unregister(key.fileobj)
                    addr, _ = waiting.pop(key.fileobj)
                    self._pool.submit(self._serve, key.fileobj, addr)
                now = time.monotonic()
                while True:
                    try:
                        request, addr = self._arrivals.get_nowait()
                    except queue.Empty:
                        break
                    if len(waiting) >= MAX_WAITING:
                        oldest = min(waiting, key=lambda s: waiting[s][1])
                        sel.unregister(oldest)
                        del waiting[oldest]
                        self.shutdown_request(oldest)
                    waiting[request] = (addr, now + self.idle_timeout_s)
                    sel.register(request, selectors.EVENT_READ)
                for sock in [s for s, (_, deadline) in waiting.items() if deadline <= now]:
                    sel.unregister(sock)
                    del waiting[sock]
                    self.shutdown_request(sock)
        finally:
            for sock in waiting:
                self.shutdown_request(sock)
            sel.close()

    def _serve(self, request, client_address) -> None:
        # past the deadline the socket stops reading (recv returns end-of-file); writing goes on,
        # so a server-sent event stream, which reads nothing after its request, is not affected
        deadline = threading.Timer(self.read_deadline_s, _stop_reading, args=(request,))
        deadline.daemon = True
        try:
            request.settimeout(self.socket_timeout_s)
            deadline.start()
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection failing must not kill the pool thread
            log.debug("web: connection from %s failed", client_address, exc_info=True)
        finally:
            deadline.cancel()
            self.shutdown_request(request)

    # -------------------------------------------------------------- stopping
    def shutdown(self) -> None:
        self.app.closing.set()
        if self.app.call is not None:
            self.app.call.stop()
        super().shutdown()

    def server_close(self) -> None:
        self._closed.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._waiter.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for s in (self._wake_r, self._wake_w):
            s.close()
        super().server_close()


def _stop_reading(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def make_server(app: WebApp, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **limits) -> WebServer:
    """Bind the server (port 0 = any free port). A non-loopback `host` without an explicit token
    (`app.token_required`) is refused with InputError (exit 2): anyone on the network could
    otherwise start calls, read reports and write persona files. `limits`: `WebServer` keywords."""
    if not is_loopback(host) and not app.token_required:
        raise InputError(
            f"refusing to listen on {host}: the app would be open to the network. Keep the default "
            "127.0.0.1, or give --token SECRET (or --token auto) so that every request must carry it",
            field="--host",
        )
    app.loopback_only = is_loopback(host)
    try:
        return WebServer((host, port), app, **limits)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port", field="--port") from e
