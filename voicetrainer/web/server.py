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

import hmac
import ipaddress
import json
import mimetypes
import os
import re
import secrets
import socket
import tempfile
import threading
from datetime import datetime
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from voicetrainer import get_logger
from voicetrainer.config import Settings, user_data_dir
from voicetrainer.errors import InputError, PersonaError, VoiceTrainerError

from . import pages
from .jobs import BatchJob, CallJob, CallRequest

log = get_logger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8765
DEFAULT_PERSONA = "billing-double-charge"
TOKEN_HEADER = "X-Voicetrainer-Token"
TOKEN_COOKIE = "vt_token"
MAX_BODY_BYTES = 1_000_000  # a persona is a few kB; nothing the pages send comes near this
SSE_KEEPALIVE_S = 15.0
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# report pages carry their own inline style and script (they also work from disk)
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
              "media-src 'self'; frame-ancestors 'none'; base-uri 'none'")
PERSONA_FILE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}\.ya?ml$")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def repo_fixture(name: str) -> Path:
    here = Path(__file__).resolve().parents[2] / "audio_fixtures" / name
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / "data" / name


class WebApp:
    """Everything the server knows: settings, folders, the one call, the one batch, the token.

    Args:
        settings: analysis settings (and the data folder).
        token: required on every request when set (mandatory for a non-loopback bind).
        tts_backend: the caller's voice engine (None = pyttsx3; tests pass `FakeTTS`).
        transcriber: a loaded ASR backend to share (None = load the Whisper model on first call).
        personas_dir: the personas folder (default: `voicetrainer.persona.loader.personas_dir()`).
        mic_stream_factory: for the mic check (tests pass a fake input stream).
    """

    def __init__(self, *, settings: Settings = Settings(), token: str | None = None, tts_backend=None,
                 transcriber=None, personas_dir: Path | None = None, mic_stream_factory=None):
        from voicetrainer.persona.loader import personas_dir as default_personas_dir

        self.settings = settings
        self.token = token
        self.tts_backend = tts_backend
        self.personas_dir = Path(personas_dir) if personas_dir else default_personas_dir()
        self.data_dir = user_data_dir(settings)
        self.mic_stream_factory = mic_stream_factory
        self.demo_wav = repo_fixture("demo_trainee.wav")
        self._transcriber = transcriber
        self._lock = threading.Lock()
        self.call: CallJob | None = None
        self.batch: BatchJob | None = None
        self.previews: dict[str, Path] = {}  # preview key -> rendered WAV (only these are served)
        self.closing = threading.Event()

    # -------------------------------------------------------------- folders
    @property
    def sessions_root(self) -> Path:
        from voicetrainer.session.practice import sessions_root

        return sessions_root(self.settings)

    @property
    def batches_root(self) -> Path:
        return self.data_dir / "batches"

    def transcriber(self):
        with self._lock:
            if self._transcriber is None:
                from voicetrainer.asr import live_recogniser

                self._transcriber = live_recogniser(self.settings.asr)
            return self._transcriber

    # -------------------------------------------------------------- calls
    def start_call(self, req: CallRequest) -> CallJob:
        """Start a call; InputError if one is running or the request is bad."""
        import dataclasses

        from voicetrainer.persona.loader import load_persona, resolve_persona_path
        from voicetrainer.session.practice import load_baseline, new_session_dir

        path = resolve_persona_path(req.persona, self.personas_dir)  # this app's folder, not the default
        persona = load_persona(path)
        req = dataclasses.replace(req, persona=str(path))
        if req.simulate and not Path(req.simulate).is_file():
            raise InputError("recording not found", path=req.simulate)
        if not req.simulate:
            found = devices()
            if not found["inputs"] or not found["outputs"]:
                raise InputError("no audio devices are visible on this machine (no sound card, or PulseAudio/"
                                 "PipeWire is not running): plug in a headset, or practise with a simulated call")
        with self._lock:
            if self.call is not None and self.call.active:
                raise CallBusy(f"a call with {self.call.persona_name} is already running; end it before starting another")
            job = CallJob(
                req, session_dir=new_session_dir(persona.id, self.sessions_root), settings=self.settings,
                transcriber_factory=self.transcriber, tts_backend=self.tts_backend, persona_name=persona.name,
                persona_id=persona.id,
                baseline=load_baseline(req.trainee, self.settings),
            )
            self.call = job
        log.info("web: starting a call with %s (%s)", persona.id, "simulated" if req.simulate else "headset")
        return job.start()

    def stop_call(self) -> bool:
        job = self.call
        if job is None or not job.active:
            return False
        job.stop()
        return True

    # -------------------------------------------------------------- personas
    def persona_rows(self) -> list[dict]:
        from voicetrainer.persona.loader import check_file, persona_files

        rows = []
        for f in persona_files(self.personas_dir):
            persona, issues = check_file(f)
            rows.append({
                "file": f.name, "id": persona.id if persona else f.stem, "name": persona.name if persona else "",
                "difficulty": persona.difficulty if persona else "", "issues": issues,
                "summary": persona.scenario.summary if persona else (str(issues[0].message) if issues else ""),
            })
        return rows

    def persona_path(self, file: str, *, must_exist: bool) -> Path:
        """`file` inside the personas folder (a plain persona file name; no folders, no escapes)."""
        from voicetrainer.persona.paths import resolve_inside

        if not PERSONA_FILE.match(file or ""):
            raise PersonaError("a persona file name is the persona id (lowercase letters, digits, dashes) "
                               "followed by .yaml", path=file)
        if must_exist or (self.personas_dir / file).exists() or (self.personas_dir / file).is_symlink():
            return resolve_inside(file, self.personas_dir)
        target = (self.personas_dir / file).resolve()
        if target.parent != self.personas_dir.resolve():
            raise PersonaError("is outside the personas folder", path=file)
        return target

    def check_text(self, file: str, text: str) -> tuple[Any, list[dict]]:
        """Validate persona YAML as if it were saved as `file`: (persona or None, issues)."""
        from voicetrainer.persona.loader import check_file

        if not PERSONA_FILE.match(file or ""):
            return None, [{"field": "", "line": None, "message": "the file name must be the persona id followed by "
                           ".yaml (lowercase letters, digits and dashes)"}]
        with tempfile.TemporaryDirectory(prefix="vt-persona-") as tmp:
            path = Path(tmp) / file
            path.write_text(text, encoding="utf-8")
            persona, issues = check_file(path)
        return persona, [{"field": i.field, "line": i.line, "message": i.message} for i in issues]

    def save_persona(self, file: str, text: str) -> tuple[bool, list[dict]]:
        persona, issues = self.check_text(file, text)
        if persona is None:
            return False, issues
        target = self.persona_path(file, must_exist=False)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".edit-", suffix=".yaml", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, target)  # atomic: the old file stays whole until the new one is complete
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as e:
            raise PersonaError(f"cannot write the personas folder ({e.strerror or e}); set $VOICETRAINER_PERSONAS "
                               "to a folder you can write", path=target) from e
        log.info("web: saved persona %s", target)
        return True, []

    def preview_lines(self, persona) -> list[dict]:
        """Every line rendered in the caller's starting voice; URLs the page can play."""
        from voicetrainer.errors import TTSError
        from voicetrainer.persona.cache import RenderCache
        from voicetrainer.persona.schema import SITUATIONS
        from voicetrainer.persona.tts import voice_for_mood

        voice = voice_for_mood(persona.voice, persona.temperament.start_anger)
        cache = RenderCache(self.data_dir / "tts-cache", backend=self.tts_backend)
        out = []
        for situation in SITUATIONS:
            for i, text in enumerate(persona.lines.of(situation)):
                item = {"situation": situation, "index": i, "text": text, "url": None, "error": None}
                try:
                    path = cache.get(text, voice)
                    key = path.stem
                    self.previews[key] = path
                    item["url"] = f"/api/tts/{key}.wav"
                except TTSError as e:
                    item["error"] = str(e)
                out.append(item)
        return out

    # -------------------------------------------------------------- batch
    def start_batch(self, folder: str, *, record_history: bool) -> BatchJob:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise InputError("not a folder", path=folder)
        with self._lock:
            if self.batch is not None and self.batch.active:
                raise CallBusy("a batch is already being graded; wait for it to finish")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = self.batches_root / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', path.name or 'batch')}"
            n = 1
            while out.exists():
                n += 1
                out = out.with_name(f"{out.name}-{n}")
            job = BatchJob(path, out, self.settings, record_history=record_history)
            if not job.items:
                raise InputError("no recordings (.wav, .flac, .ogg) or session folders in this folder", path=folder)
            self.batch = job
        return job.start()


class CallBusy(InputError):
    """Something is already running (one call at a time, one batch at a time)."""


def devices() -> dict:
    from voicetrainer.audio.sources import list_devices

    try:
        devs = list_devices()
    except VoiceTrainerError:
        devs = []
    return {
        "inputs": [d for d in devs if d.get("max_input_channels", 0) > 0],
        "outputs": [d for d in devs if d.get("max_output_channels", 0) > 0],
    }


def calm_page_data() -> tuple[list[dict], list[tuple[str, str, str]]]:
    """Breathing patterns (voicetrainer.calm.breathe, when installed) and the headset calm tools."""
    try:
        from voicetrainer.calm.breathe import PATTERNS
    except ImportError:
        return [{"name": "slow", "description": "slow breathing: in 4, out 6 (6 breaths/min)",
                 "phases": [{"name": "inhale", "label": "Breathe in", "duration_s": 4.0},
                            {"name": "exhale", "label": "Breathe out", "duration_s": 6.0}]}], []
    from voicetrainer.calm.breathe import PHASE_LABELS

    patterns = [{"name": p.name, "description": p.description,
                 "phases": [{"name": ph.name, "label": PHASE_LABELS.get(ph.name, ph.name), "duration_s": ph.duration_s}
                            for ph in p.phases]} for p in PATTERNS.values()]
    tools = [("Breathing pacer with sound cues on the headset", "in a terminal", "voicetrainer calm breathe")]
    try:
        import voicetrainer.calm.drill  # noqa: F401

        tools.append(("Calm drill", "answer provocations in one sentence; your vocal calm is scored against "
                      "your baseline", "voicetrainer calm drill"))
    except ImportError:
        pass
    return patterns, tools


# ----------------------------------------------------------------------------- the handler

class Handler(BaseHTTPRequestHandler):
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
        self.send_header("Referrer-Policy", "no-referrer")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, page: str, status: int = 200, **kw) -> None:
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
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY_BYTES:
            raise InputError(f"request body too large ({n} bytes)")
        return self.rfile.read(n) if n else b""

    def _form(self) -> dict[str, str]:
        raw = self._body()
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            try:
                doc = json.loads(raw or b"{}")
            except ValueError as e:
                raise InputError(f"request is not JSON ({e})") from e
            return {k: v for k, v in doc.items()} if isinstance(doc, dict) else {}
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}

    # -------------------------------------------------------------- access control
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

    # -------------------------------------------------------------- dispatch
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self._allowed(url):
            return
        try:
            self._get(url.path, parse_qs(url.query))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except VoiceTrainerError as e:
            self._error(400, str(e))
        except Exception as e:  # noqa: BLE001 - one page failing must not kill the server
            log.exception("web: GET %s failed", url.path)
            self._error(500, f"internal error: {type(e).__name__}: {e}")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if not self._allowed(url):
            return
        try:
            self._post(url.path)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except CallBusy as e:
            self._refused(url.path, str(e), 409)
        except VoiceTrainerError as e:
            self._refused(url.path, str(e), 400)
        except Exception as e:  # noqa: BLE001
            log.exception("web: POST %s failed", url.path)
            self._error(500, f"internal error: {type(e).__name__}: {e}")

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
            self._html(pages.batch_page(app.batch.snapshot() if app.batch else None, str(Path.cwd())))
        elif path == "/api/call/status":
            self._json(app.call.snapshot() if app.call else {"state": "none"})
        elif path == "/api/call/events":
            self._call_events()
        elif path == "/api/mic/events":
            self._mic_events(arg("device"), float(arg("seconds") or 6))
        elif path == "/api/baseline/events":
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

    def _post(self, path: str) -> None:
        app = self.app
        form = self._form()
        if path == "/api/call/start":
            device = lambda v: None if not v else int(v) if str(v).isdigit() else str(v)  # noqa: E731
            persona = str(form.get("persona") or "")
            if not persona:
                raise InputError("choose a caller first")
            req = CallRequest(
                persona=persona, trainee=(str(form.get("trainee") or "trainee").strip() or "trainee")[:60],
                simulate=str(form.get("recording") or app.demo_wav) if form.get("simulate") else None,
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
            app.start_batch(str(form.get("folder") or ""), record_history=bool(form.get("history")))
            self._redirect("/batch") if not self._wants_json() else self._json({"ok": True})
        else:
            self._error(404, f"nothing to POST to at {path}")

    def _refused(self, path: str, message: str, status: int) -> None:
        """A start that cannot happen: the form's page again, with the reason on top."""
        if self._wants_json():
            self._json({"error": message}, status)
        elif path == "/api/batch/start":
            job = self.app.batch.snapshot() if self.app.batch else None
            self._html(pages.batch_page(job, str(Path.cwd()), notice=pages.esc(message)), status)
        elif path == "/api/call/start":
            running = ' <a href="/call">Go to the running call</a>.' if status == 409 else ""
            self._html(self._home(notice=pages.esc(message) + running), status)
        else:
            self._error(status, message)

    # -------------------------------------------------------------- pages with data
    def _home(self, notice: str | None = None) -> str:
        app = self.app
        personas = [r for r in app.persona_rows() if not r["issues"]]
        return pages.home(personas, devices(), default_persona=DEFAULT_PERSONA, demo_wav=str(app.demo_wav),
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
            if r.folder and (Path(r.folder) / "report.html").is_file():
                href = f"/h/{r.id}/report.html"
            rows.append({"date": r.date, "trainee": r.trainee, "persona": r.persona, "overall": r.overall,
                         "scores": r.scores, "href": href})
        drills = [{"date": d.date, "trainee": d.trainee, "persona": d.persona, "rounds": d.rounds,
                   "mean": d.mean_score, "min": d.min_score, "level": d.max_level} for d in self._drills(trainee)]
        self._html(pages.history_page(rows, trainees, trainee, list(SKILLS), drills))

    def _trend(self, trainee: str | None) -> None:
        from voicetrainer.report.history import trend_rows
        from voicetrainer.report.plots import trend_png
        from voicetrainer.report.schema import SKILLS

        records, _ = self._records(trainee)
        with tempfile.TemporaryDirectory(prefix="vt-trend-") as tmp:
            png = trend_png(trend_rows(records), Path(tmp) / "trend.png", skills=SKILLS,
                            title="Skill scores over time" + (f" — {trainee}" if trainee else ""))
            self._send(200, png.read_bytes(), "image/png")

    def _history_file(self, rid: int, name: str) -> None:
        records, _ = self._records(None)
        rec = next((r for r in records if r.id == rid), None)
        if rec is None or not rec.folder:
            return self._error(404, "no such session in the history")
        self._file(Path(rec.folder), name, report=True)

    def _file(self, root: Path, rel: str, *, report: bool = False) -> None:
        from urllib.parse import unquote

        rel = unquote(rel)
        try:
            base = root.resolve(strict=True)
            target = (base / rel).resolve(strict=True)
        except (OSError, RuntimeError):
            return self._error(404, "not found")
        if not target.is_relative_to(base) or not target.is_file() or "\0" in rel:
            return self._error(404, "not found")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        if report and target.suffix == ".html":
            return self._html(pages.with_nav(target.read_text(encoding="utf-8")), csp=REPORT_CSP)
        self._send(200, target.read_bytes(), ctype, csp=CSP if root == STATIC_DIR else REPORT_CSP)

    # -------------------------------------------------------------- server-sent events
    def _start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, obj: Any, name: str | None = None) -> None:
        data = json.dumps(obj)
        self.wfile.write(((f"event: {name}\n" if name else "") + f"data: {data}\n\n").encode("utf-8"))
        self.wfile.flush()

    def _call_events(self) -> None:
        """The call's snapshots as they change (coalesced: a slow page gets the newest only)."""
        job = self.app.call
        self._start_events()
        if job is None:
            self._event({"state": "none"})
            return
        seq = -1
        while not self.app.closing.is_set():
            if job.wait_newer(seq, SSE_KEEPALIVE_S):
                snap = job.snapshot()
                seq = snap["seq"]
                self._event(snap)
                if snap["state"] in ("done", "failed"):
                    return
            else:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()

    def _mic_events(self, device: str, seconds: float) -> None:
        """Microphone level (dBFS) about 10 times a second for `seconds`, then a verdict."""
        from voicetrainer.audio.frames import rms_dbfs
        from voicetrainer.audio.sources import MicSource
        from voicetrainer.stream.vad import EnergyVad

        self._start_events()
        app = self.app
        if app.call is not None and app.call.active:
            self._event({"error": "a call is running and is using the microphone"}, "error")
            return
        dev = None if not device else int(device) if device.isdigit() else device
        seconds = min(max(seconds, 1.0), 30.0)
        vad = EnergyVad()
        peak = -120.0
        try:
            with MicSource(device=dev, stream_factory=app.mic_stream_factory) as mic:
                for frame in mic:
                    level = rms_dbfs(frame.channel(0))
                    vad.is_speech(level)
                    peak = max(peak, level)
                    t = (frame.index + 1) * 0.02
                    if frame.index % 5 == 4:
                        self._event({"t_s": round(t, 2), "level_dbfs": round(level, 1), "floor_dbfs": round(vad.floor_dbfs, 1)})
                    if t >= seconds or app.closing.is_set():
                        break
        except VoiceTrainerError as e:
            self._event({"error": str(e)}, "error")
            return
        floor = vad.floor_dbfs
        if peak - floor < 15:
            verdict = "Your voice is barely above the room noise: move the microphone closer."
        else:
            verdict = "Good: your voice is well above the room noise."
        self._event({"peak_dbfs": round(peak, 1), "floor_dbfs": round(floor, 1), "verdict": verdict}, "done")


    def _baseline_events(self, device: str, trainee: str) -> None:
        """Record the trainee's calm-voice baseline (they read a sentence); levels while listening."""
        from voicetrainer.audio.sources import MicSource
        from voicetrainer.session.practice import record_baseline

        self._start_events()
        app = self.app
        trainee = (trainee or "").strip()[:60]
        if not trainee:
            self._event({"error": "type your name first: the baseline is kept under it"}, "error")
            return
        if app.call is not None and app.call.active:
            self._event({"error": "a call is running and is using the microphone"}, "error")
            return
        dev = None if not device else int(device) if device.isdigit() else device

        def level(t_s: float, level_dbfs: float) -> None:
            if int(round(t_s / 0.02)) % 5 == 0:
                self._event({"t_s": round(t_s, 2), "level_dbfs": round(level_dbfs, 1)})

        try:
            with MicSource(device=dev, stream_factory=app.mic_stream_factory) as mic:
                stats = record_baseline(trainee, mic, app.settings, on_level=level)
        except VoiceTrainerError as e:
            self._event({"error": str(e)}, "error")
            return
        if stats is None:
            self._event({"error": "I could not hear enough speech: read the whole sentence, a little closer to "
                                  "the microphone"}, "error")
            return
        self._event({"trainee": trainee, "pitch_median_hz": round(stats.pitch_median_hz, 1),
                     "loudness_dbfs": round(stats.loudness_dbfs, 1)}, "done")


def _cookie(header: str | None, name: str) -> str:
    if not header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is simply no token
        return ""
    return jar[name].value if name in jar else ""


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


def new_token() -> str:
    return secrets.token_urlsafe(24)

