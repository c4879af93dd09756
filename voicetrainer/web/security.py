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
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
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


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class AccessMixin:
    """The access checks of `routes.Handler` (needs its `app`, `headers`, `command`, `_error`, `_redirect`).

    Who gets in:
    - the account that started the server, on a loopback connection (its uid is read from
      ``/proc/net/tcp``), unless the server was started with an explicit ``--token``;
    - anyone else only with the token (``X-Voicetrainer-Token`` header, or the cookie the printed
      ``?token=`` link sets).
    On a loopback bind the ``Host`` header must name loopback (no DNS rebinding). A request that
    changes something (any method but GET/HEAD) must come from the app's own pages: no foreign or
    ``null`` Origin, no cross-site fetch, and the page's CSRF token (`_csrf_ok`).
    """

    _owner: bool | None = None  # per connection: is the peer the account that started the server?

    def _is_owner(self) -> bool:
        if self._owner is None:
            from .peer import peer_uid

            uid = peer_uid(self.client_address, self.connection.getsockname())
            self._owner = is_loopback(str(self.client_address[0])) and uid is not None and uid == self.app.owner_uid
        return self._owner

    def _allowed(self, url) -> bool:
        app = self.app
        host = (self.headers.get("Host") or "").lower()
        if app.loopback_only:
            hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if not is_loopback(hostname):
                self._error(421, "this server only answers requests addressed to 127.0.0.1 or localhost")
                return False
        if app.token_required or not self._is_owner():
            q = parse_qs(url.query)
            given = (self.headers.get(TOKEN_HEADER) or "") or _cookie(self.headers.get("Cookie"), TOKEN_COOKIE)
            link = (q.get("token") or [""])[-1]
            if _same(link, app.token) and self.command == "GET":
                rest = urlencode([(k, v) for k, vs in q.items() if k != "token" for v in vs])
                cookie = f"{TOKEN_COOKIE}={app.token}; Path=/; HttpOnly; SameSite=Strict"
                self._redirect(url.path + (f"?{rest}" if rest else ""), headers={"Set-Cookie": cookie})
                return False
            if not _same(given, app.token):
                self._error(401, "a token is required: open the link the server printed (it ends in ?token=...)")
                return False
        if self.command not in ("GET", "HEAD"):
            origin = self.headers.get("Origin")
            site = (self.headers.get("Sec-Fetch-Site") or "same-origin").lower()
            if (origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host)) \
                    or site not in ("same-origin", "none"):
                self._error(403, "requests from other web sites are refused")
                return False
        return True

    def _csrf_ok(self, form: dict) -> bool:
        """The page's CSRF token came back (``X-CSRF-Token`` header or the form's ``csrf`` field)."""
        given = self.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD) or "")
        if _same(given, self.app.csrf_token):
            return True
        self._error(403, "this form has expired or did not come from this app: reload the page and try again")
        return False
