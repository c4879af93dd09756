"""Who may use the web app: the token (header, cookie or ``?token=`` link), the ``Host`` check on
loopback (no DNS rebinding) and the same-origin check on state-changing requests.

`AccessMixin` is mixed into the request handler (`routes.Handler`); it answers the refusal itself
and returns False, so a handler only runs for an allowed request.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN_HEADER = "X-Voicetrainer-Token"
TOKEN_COOKIE = "vt_token"
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# report pages carry their own inline style and script (they also work from disk)
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
              "media-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False



def _cookie(header: str | None, name: str) -> str:
    if not header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is simply no token
        return ""
    return jar[name].value if name in jar else ""



def new_token() -> str:
    return secrets.token_urlsafe(24)



class AccessMixin:
    """The access checks of `routes.Handler` (needs its `app`, `headers`, `command`, `_error`, `_redirect`)."""

    def _allowed(self, url) -> bool:
        app = self.app
        host = (self.headers.get("Host") or "").lower()
        if app.token is None:
            hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if not is_loopback(hostname):
                self._error(421, "this server only answers requests addressed to 127.0.0.1 or localhost")
                return False
        else:
            q = parse_qs(url.query)
            given = (self.headers.get(TOKEN_HEADER) or "") or _cookie(self.headers.get("Cookie"), TOKEN_COOKIE)
            link = (q.get("token") or [""])[-1]
            if link and hmac.compare_digest(link.encode(), app.token.encode()) and self.command == "GET":
                rest = urlencode([(k, v) for k, vs in q.items() if k != "token" for v in vs])
                cookie = f"{TOKEN_COOKIE}={app.token}; Path=/; HttpOnly; SameSite=Strict"
                self._redirect(url.path + (f"?{rest}" if rest else ""), headers={"Set-Cookie": cookie})
                return False
            if not given or not hmac.compare_digest(given.encode(), app.token.encode()):
                self._error(401, "a token is required: open the link the server printed (it ends in ?token=...)")
                return False
        if self.command == "POST":
            origin = self.headers.get("Origin")
            site = self.headers.get("Sec-Fetch-Site")
            if (origin and origin != "null" and urlsplit(origin).netloc.lower() != host) or site == "cross-site":
                self._error(403, "requests from other web sites are refused")
                return False
        return True

