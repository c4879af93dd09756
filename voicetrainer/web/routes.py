"""The request handler: plumbing (send, errors, body), dispatch of every page and API route, and
the pages that need data. Access checks live in `security`, event streams in `sse`, state in
`services.WebApp`.
"""

from __future__ import annotations

import json
import mimetypes
import re
import tempfile
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from voicetrainer import get_logger
from voicetrainer.errors import InputError, VoiceTrainerError

from . import pages, uploads
from .jobs import CallRequest
from .security import CSP, REPORT_CSP, AccessMixin
from .services import DEFAULT_PERSONA, PERSONA_FILE, CallBusy, WebApp, calm_page_data, devices
from .sse import EventsMixin

log = get_logger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 1_000_000  # a persona is a few kB; nothing the pages send comes near this (uploads: see uploads.py)
UPLOAD_PATHS = ("/api/call/start", "/api/batch/start")  # the only forms that take recordings


class Handler(AccessMixin, EventsMixin, BaseHTTPRequestHandler):
    server_version = "voicetrainer"
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> WebApp:
        return self.server.app  # type: ignore[attr-defined]

    def log_message(self, fmt: str, *args) -> None:  # the package logger, never stderr
        log.debug("%s %s", self.address_string(), fmt % args)

    # -------------------------------------------------------------- plumbing
    def _send(self, status: int, body: bytes, ctype: str, *, headers: dict | None = None, csp: str = CSP) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer a browser posts our own forms with "Origin: null"
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("Connection", "close")  # no idle keep-alive holding a request thread
        self.close_connection = True
        if csp:
            self.send_header("Content-Security-Policy", csp)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, page: str, status: int = 200, **kw) -> None:
        # the mark only ever stands inside quotes in the app's own markup (escaped text cannot hold '"')
        page = page.replace(f'"{pages.CSRF_MARK}"', f'"{self.app.csrf_token}"')
        self._send(status, page.encode("utf-8"), "text/html; charset=utf-8", **kw)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _redirect(self, location: str, headers: dict | None = None) -> None:
        self._send(303, b"", "text/plain", headers={"Location": location, **(headers or {})})

    def _error(self, status: int, message: str) -> None:
        if self._wants_json():
            self._json({"error": message}, status)
        else:
            self._html(pages.message_page(HTTPStatus(status).phrase, message), status)

    def _wants_json(self) -> bool:
        return self.path.startswith("/api/") and "text/html" not in (self.headers.get("Accept") or "")

    def _body(self) -> bytes:
        """The request body: a plain decimal Content-Length of at most MAX_BODY_BYTES, read in full
        (a client that sends less times out after the server's socket timeout)."""
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest("send the body with a Content-Length, not Transfer-Encoding")
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not re.fullmatch(r"\d{1,12}", raw):
            raise BadRequest("Content-Length must be a whole number of bytes")
        n = int(raw)
        if n > MAX_BODY_BYTES:
            raise BadRequest(f"request body too large ({n} bytes; at most {MAX_BODY_BYTES})")
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise BadRequest("the request body is shorter than its Content-Length")
        return data

    def _form(self) -> dict[str, str]:
        self.upload = None
        if uploads.is_multipart(self.headers.get("Content-Type")):
            if urlsplit(self.path).path not in UPLOAD_PATHS:
                raise BadRequest("this address takes no file uploads")
            # the CSRF token field comes first in the form: no file is kept before it is checked
            self.upload = uploads.read_upload_form(self.headers, self.rfile, self.app.new_upload_dir(),
                                                   expect={"csrf": self.app.csrf_token})
            return self.upload.fields
        raw = self._body()
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            try:
                doc = json.loads(raw or b"{}")
            except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than Python's stack
                raise BadRequest("request is not a JSON object" + (" (nested too deeply)" if isinstance(
                    e, RecursionError) else "")) from None
            if not isinstance(doc, dict):
                raise BadRequest("request is not a JSON object")
            return doc
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}

    # -------------------------------------------------------------- dispatch
    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        if "\0" in url.path or "%00" in url.path or "\0" in url.query or "%00" in url.query:
            return self._error(400, "the address contains a NUL byte")
        if not self._allowed(url):
            return
        try:
            if self.command == "POST":
                form = self._form()
                if self._csrf_ok(form):
                    self._post(url.path, form)
            else:
                self._get(url.path, parse_qs(url.query))
        except (ConnectionError, TimeoutError):  # BrokenPipe, ConnectionReset, ConnectionAborted
            self.close_connection = True  # the client went away or stalled: nothing to answer
        except BadRequest as e:
            self._error(400, str(e))
        except CallBusy as e:
            self._refused(url.path, str(e), 409)
        except VoiceTrainerError as e:
            self._refused(url.path, str(e), 400) if self.command == "POST" else self._error(400, str(e))
        except Exception as e:  # noqa: BLE001 - one request failing must not kill the server
            log.exception("web: %s %s failed", self.command, url.path)
            self._error(500, f"internal error ({type(e).__name__}); the server log has the details")

    def _get(self, path: str, q: dict) -> None:
        app = self.app
        arg = lambda name: (q.get(name) or [""])[-1]  # noqa: E731
        if path == "/":
            self._html(self._home())
        elif path == "/call":
            self._html(pages.call_page(app.call.snapshot() if app.call else None))
        elif path == "/mic":
            from voicetrainer.session.practice import BASELINE_SENTENCE

            self._html(pages.mic_page(devices(), BASELINE_SENTENCE))
        elif path == "/history":
            self._history(arg("trainee") or None)
        elif path == "/history/trend.png":
            self._trend(arg("trainee") or None)
        elif path == "/calm":
            self._html(pages.calm_page(*calm_page_data()))
        elif path == "/personas":
            self._html(pages.personas_page(app.persona_rows()))
        elif path == "/personas/edit":
            file = arg("file")
            from voicetrainer.persona.paths import read_text_inside

            app.persona_path(file, must_exist=True)
            self._html(pages.editor_page(file, read_text_inside(file, app.personas_dir), is_new=False))
        elif path == "/personas/new":
            from voicetrainer.persona.template import TEMPLATE

            pid = arg("id").strip().lower()
            if not PERSONA_FILE.match(f"{pid}.yaml"):
                pid = "new-caller"
            if (app.personas_dir / f"{pid}.yaml").exists():
                return self._redirect(f"/personas/edit?file={pid}.yaml")
            self._html(pages.editor_page(f"{pid}.yaml", TEMPLATE.format(id=pid), is_new=True))
        elif path == "/batch":
            self._html(pages.batch_page(app.batch.snapshot() if app.batch else None, list(uploads.shipped_recordings())))
        elif path == "/api/call/status":
            self._json(app.call.snapshot() if app.call else {"state": "none"})
        elif path == "/api/call/events":
            self._call_events()
        elif path in ("/api/mic/events", "/api/baseline/events"):
            # these open the microphone (and save a baseline): only for the app's own pages
            if not self._csrf_ok({"csrf": arg("csrf")}):
                return
            if path == "/api/mic/events":
                self._mic_events(arg("device"), _number(arg("seconds"), "seconds", default=6.0))
            else:
                self._baseline_events(arg("device"), arg("trainee"))
        elif path == "/api/batch/status":
            self._json(app.batch.snapshot() if app.batch else {"state": "none"})
        elif path.startswith("/api/tts/") and path.endswith(".wav"):
            key = path[len("/api/tts/"):-4]
            wav = app.previews.get(key)
            if wav is None or not wav.is_file():
                return self._error(404, "no such preview")
            self._send(200, wav.read_bytes(), "audio/wav")
        elif path.startswith("/static/"):
            self._file(STATIC_DIR, path[len("/static/"):])
        elif path.startswith("/sessions/"):
            self._file(app.sessions_root, path[len("/sessions/"):], report=True)
        elif path.startswith("/batches/"):
            self._file(app.batches_root, path[len("/batches/"):], report=True)
        elif m := re.fullmatch(r"/h/(\d+)/([^/]+)", path):
            self._history_file(int(m.group(1)), m.group(2))
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._error(404, f"no page at {path}")

    def _post(self, path: str, form: dict) -> None:
        app = self.app
        if path == "/api/call/start":
            device = lambda v: None if not v else int(v) if str(v).isdigit() else str(v)  # noqa: E731
            persona = str(form.get("persona") or "")
            if not persona:
                raise InputError("choose a caller first")
            simulate = None
            if form.get("simulate"):  # an uploaded recording, else a shipped one: never a path typed in
                files = self.upload.files if self.upload else []
                simulate = str(files[0].path if files else uploads.shipped_recording(form.get("fixture") or app.demo_wav.name))
            req = CallRequest(
                persona=persona, trainee=(str(form.get("trainee") or "trainee").strip() or "trainee")[:60],
                simulate=simulate,
                accelerated=bool(form.get("accelerated")), device_in=device(form.get("device_in")),
                device_out=device(form.get("device_out")),
            )
            app.start_call(req)
            if self._wants_json():
                self._json({"ok": True, "url": "/call"})
            else:
                self._redirect("/call")
        elif path == "/api/call/stop":
            stopped = app.stop_call()
            if self._wants_json():
                self._json({"ok": stopped, **({} if stopped else {"error": "no call is running"})})
            else:
                self._redirect("/call")
        elif path in ("/api/personas/validate", "/api/personas/save", "/api/personas/preview"):
            file, text = str(form.get("file") or ""), str(form.get("text") or "")
            if path.endswith("/save"):
                ok, issues = app.save_persona(file, text)
                self._json({"ok": ok, "issues": issues, "saved": file if ok else None})
                return
            persona, issues = app.check_text(file, text)
            out: dict = {"ok": persona is not None, "issues": issues}
            if path.endswith("/preview") and persona is not None:
                out["lines"] = app.preview_lines(persona)
            self._json(out)
        elif path == "/api/chat":  # typed chat with a caller (web/chat.py)
            from voicetrainer.web import chat

            self._json(chat.handle(app, form))
        elif path == "/api/batch/start":
            fixtures = self.upload.lists.get("fixture", []) if self.upload else [str(form.get("fixture") or "")]
            app.start_batch_recordings(self.upload.files if self.upload else [], fixtures,
                                       record_history=bool(form.get("history")))
            self._redirect("/batch") if not self._wants_json() else self._json({"ok": True})
        else:
            self._error(404, f"nothing to POST to at {path}")

    def _refused(self, path: str, message: str, status: int) -> None:
        """A start that cannot happen: the form's page again, with the reason on top."""
        if self._wants_json():
            self._json({"error": message}, status)
        elif path == "/api/batch/start":
            job = self.app.batch.snapshot() if self.app.batch else None
            self._html(pages.batch_page(job, list(uploads.shipped_recordings()), notice=pages.esc(message)), status)
        elif path == "/api/call/start":
            running = ' <a href="/call">Go to the running call</a>.' if status == 409 else ""
            self._html(self._home(notice=pages.esc(message) + running), status)
        else:
            self._error(status, message)

    # -------------------------------------------------------------- pages with data
    def _home(self, notice: str | None = None) -> str:
        app = self.app
        personas = [r for r in app.persona_rows() if not r["issues"]]
        return pages.home(personas, devices(), default_persona=DEFAULT_PERSONA, recordings=list(uploads.shipped_recordings()),
                          call=app.call.snapshot() if app.call else None, notice=notice)

    def _records(self, trainee: str | None):
        from voicetrainer.report.history import HistoryDB, default_db_path

        path = default_db_path()
        if not path.exists():
            return [], []
        with HistoryDB(path) as db:
            return db.sessions(trainee=trainee), db.trainees()

    def _drills(self, trainee: str | None) -> list:
        from voicetrainer.report.history import HistoryDB, default_db_path

        path = default_db_path()
        if not path.exists():
            return []
        with HistoryDB(path) as db:
            return db.drills(trainee=trainee) if hasattr(db, "drills") else []

    def _history(self, trainee: str | None) -> None:
        from voicetrainer.report.schema import SKILLS

        records, trainees = self._records(trainee)
        rows = []
        for r in records:
            href = None
            if self._servable_folder(r.folder) and (Path(r.folder) / "report.html").is_file():
                href = f"/h/{r.id}/report.html"
            rows.append({"date": r.date, "trainee": r.trainee, "persona": r.persona, "overall": r.overall,
                         "scores": r.scores, "href": href, "outcome": r.outcome})
        drills = [{"date": d.date, "trainee": d.trainee, "persona": d.persona, "rounds": d.rounds,
                   "mean": d.mean_score, "min": d.min_score, "level": d.max_level} for d in self._drills(trainee)]
        self._html(pages.history_page(rows, trainees, trainee, list(SKILLS), drills))

    def _trend(self, trainee: str | None) -> None:
        from voicetrainer.report.trend_chart import trend_png, trend_rows
        from voicetrainer.report.schema import SKILLS

        records, _ = self._records(trainee)
        with tempfile.TemporaryDirectory(prefix="vt-trend-") as tmp:
            png = trend_png(trend_rows(records), Path(tmp) / "trend.png", skills=SKILLS,
                            title="Skill scores over time" + (f" — {trainee}" if trainee else ""))
            self._send(200, png.read_bytes(), "image/png")

    def _servable_folder(self, folder: str | None) -> bool:
        """True when a history record's folder is inside the app's session or batch folders: files
        are served only from the data folder, never from wherever `grade --out` once wrote."""
        if not folder:
            return False
        try:
            where = Path(folder).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return False
        roots = (self.app.sessions_root, self.app.batches_root)
        return any(where.is_relative_to(r.resolve()) and where != r.resolve() for r in roots)

    def _history_file(self, rid: int, name: str) -> None:
        from urllib.parse import unquote

        name = unquote(name)
        records, _ = self._records(None)
        rec = next((r for r in records if r.id == rid), None)
        if rec is None or not self._servable_folder(rec.folder) or "/" in name or "\\" in name or name in (".", ".."):
            return self._error(404, "no such report in the history")
        self._file(Path(rec.folder), name, report=True)

    def _file(self, root: Path, rel: str, *, report: bool = False) -> None:
        from urllib.parse import unquote

        rel = unquote(rel)
        if "\0" in rel or "\\" in rel:
            return self._error(404, "not found")
        try:
            base = root.resolve(strict=True)
            target = (base / rel).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return self._error(404, "not found")
        if not target.is_relative_to(base) or not target.is_file():
            return self._error(404, "not found")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        if report and target.suffix == ".html":
            return self._html(pages.with_nav(target.read_text(encoding="utf-8")), csp=REPORT_CSP)
        self._send(200, target.read_bytes(), ctype, csp=CSP if root == STATIC_DIR else REPORT_CSP)


class BadRequest(InputError):
    """A malformed request (answered 400 before any route runs)."""


def _number(text: str, name: str, *, default: float) -> float:
    """A finite number from a query parameter; BadRequest naming the parameter otherwise."""
    import math

    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number")
    return value
