"""The web server: one process, one `WebApp` holding all state, `ThreadingHTTPServer` underneath.

Why the standard library: one person on their own machine, a handful of requests per second,
live updates one way (server -> page) which server-sent events do over plain HTTP. No framework
or WebSocket library would remove more code than it adds, and nothing needs building.

Safety:
- binds 127.0.0.1 by default; any other address needs a token (`make_server` refuses without);
- with a token every request must carry it (``X-Voicetrainer-Token`` header, or the cookie set
  by opening the ``?token=`` link once);
- on loopback the ``Host`` header must name loopback (a web page cannot reach the app through
  DNS rebinding) and a POST must come from the app's own pages (``Origin`` / ``Sec-Fetch-Site``);
- files are served only from the static folder, session folders, batch folders and history
  folders, each path resolved and contained; persona saves go through `resolve_inside`.
"""


from __future__ import annotations

import socket
from http.server import ThreadingHTTPServer

from voicetrainer.errors import InputError

from .routes import Handler
from .security import is_loopback, new_token
from .services import WebApp

__all__ = ["DEFAULT_PORT", "WebApp", "WebServer", "is_loopback", "make_server", "new_token"]

DEFAULT_PORT = 8765


class WebServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app: WebApp):
        self.app = app
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def shutdown(self) -> None:
        self.app.closing.set()
        if self.app.call is not None:
            self.app.call.stop()
        super().shutdown()


def make_server(app: WebApp, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> WebServer:
    """Bind the server (port 0 = any free port). A non-loopback `host` without `app.token` is
    refused with InputError (exit 2): anyone on the network could otherwise start calls, read
    reports and write persona files."""
    if not is_loopback(host) and not app.token:
        raise InputError(
            f"refusing to listen on {host}: the app would be open to the network. Keep the default "
            "127.0.0.1, or give --token SECRET (or --token auto) so that every request must carry it",
            field="--host",
        )
    try:
        return WebServer((host, port), app)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port", field="--port") from e

