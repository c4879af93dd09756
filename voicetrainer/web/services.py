"""What the web app does, behind the routes: `WebApp` (all server state: settings, folders, the one
call, the one batch, persona files) and the page data helpers. Handlers stay thin and call these,
which in turn call the same functions the CLI calls.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from voicetrainer import get_logger
from voicetrainer.config import Settings, user_data_dir
from voicetrainer.errors import InputError, PersonaError, VoiceTrainerError

from . import uploads
from .jobs import BatchJob, CallJob, CallRequest

log = get_logger(__name__)

DEFAULT_PERSONA = "billing-double-charge"
PERSONA_FILE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}\.ya?ml$")



def repo_fixture(name: str) -> Path:
    here = Path(__file__).resolve().parents[2] / "audio_fixtures" / name
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / "data" / name


class WebApp:
    """Everything the server knows: settings, folders, the one call, the one batch, the token.

    Args:
        settings: analysis settings (and the data folder).
        token: required on every request when set (mandatory for a non-loopback bind); when None
            a random one is made, and only the account that started the server gets in without it.
        tts_backend: the caller's voice engine (None = pyttsx3; tests pass `FakeTTS`).
        transcriber: a loaded ASR backend to share (None = load the Whisper model on first call).
        personas_dir: the personas folder (default: `voicetrainer.persona.loader.personas_dir()`).
        mic_stream_factory: for the mic check (tests pass a fake input stream).
        input_roots: folders the app may read recordings from (batch grading, a simulated call's
            microphone), besides ``<data>/recordings``, the demo recording's folder and the
            folders in ``$VOICETRAINER_INPUTS`` (separated by the path separator).
    """

    def __init__(self, *, settings: Settings = Settings(), token: str | None = None, tts_backend=None,
                 transcriber=None, personas_dir: Path | None = None, mic_stream_factory=None,
                 input_roots: tuple[Path, ...] | list[Path] = ()):
        from voicetrainer.persona.loader import personas_dir as default_personas_dir

        from .auth import new_token

        self.settings = settings
        self.token_required = token is not None  # an explicit token binds everyone, the owner too
        self.token = token or new_token()  # else: the owner gets in without it, other accounts need it
        self.owner_uid = os.getuid() if hasattr(os, "getuid") else None
        self.loopback_only = True  # make_server: False when bound to another address
        self.tts_backend = tts_backend
        self.personas_dir = Path(personas_dir) if personas_dir else default_personas_dir()
        self.data_dir = user_data_dir(settings)
        self.mic_stream_factory = mic_stream_factory
        self.demo_wav = repo_fixture("demo_trainee.wav")
        env_roots = [Path(x) for x in os.environ.get("VOICETRAINER_INPUTS", "").split(os.pathsep) if x.strip()]
        self.input_roots = tuple(Path(r).expanduser() for r in (
            self.data_dir / "recordings", self.demo_wav.parent, *env_roots, *input_roots))
        self._transcriber = transcriber
        self._lock = threading.Lock()
        self.call: CallJob | None = None
        self.batch: BatchJob | None = None
        self.previews: dict[str, Path] = {}  # preview key -> rendered WAV (only these are served)
        self.closing = threading.Event()
        from .accounts import default_store

        self.accounts = default_store(self.data_dir)  # no accounts = single-user mode (see auth.py)
        self.local_owner_check = None  # tests: a callable(scope) -> bool instead of the peer-uid lookup

    def is_local_owner(self, scope) -> bool:
        """True when the request comes over loopback from the account that started the server."""
        if self.local_owner_check is not None:
            return bool(self.local_owner_check(scope))
        from .auth import is_loopback
        from .peer import peer_uid

        client, server = scope.get("client"), scope.get("server")
        if not client or not server or not is_loopback(str(client[0])):
            return False
        uid = peer_uid(tuple(client), tuple(server))
        return uid is not None and uid == self.owner_uid

    # -------------------------------------------------------------- folders
    @property
    def sessions_root(self) -> Path:
        from voicetrainer.session.practice import sessions_root

        return sessions_root(self.settings)

    @property
    def batches_root(self) -> Path:
        return self.data_dir / "batches"

    def shutdown(self) -> None:
        """The server is stopping: end a running call (its recording is kept)."""
        self.closing.set()
        if self.call is not None and self.call.active:
            self.call.stop()
            self.call.thread.join(timeout=60)

    # -------------------------------------------------------------- history
    def history_records(self, trainee: str | None):
        """(session records, trainee names) from the history database; empty when there is none."""
        from voicetrainer.report.history import HistoryDB, default_db_path

        path = default_db_path()
        if not path.exists():
            return [], []
        with HistoryDB(path) as db:
            return db.sessions(trainee=trainee), db.trainees()

    def history_drills(self, trainee: str | None) -> list:
        from voicetrainer.report.history import HistoryDB, default_db_path

        path = default_db_path()
        if not path.exists():
            return []
        with HistoryDB(path) as db:
            return db.drills(trainee=trainee) if hasattr(db, "drills") else []

    def servable_folder(self, folder: str | None) -> bool:
        """True when a history record's folder is inside the app's session or batch folders: files
        are served only from the data folder, never from wherever `grade --out` once wrote."""
        if not folder:
            return False
        try:
            where = Path(folder).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return False
        roots = [r.resolve() for r in (self.sessions_root, self.batches_root)]
        return any(where.is_relative_to(r) and where != r for r in roots)

    def session_trainee(self, name: str) -> str | None:
        """Who recorded the session folder `name` (the running call's, or from the history)."""
        if self.call is not None and self.call.session_dir.name == name:
            return self.call.request.trainee
        records, _ = self.history_records(None)
        for r in records:
            if r.folder and Path(r.folder).name == name and Path(r.folder).parent.resolve() == self.sessions_root.resolve():
                return r.trainee
        return None

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

        from voicetrainer.persona.loader import load_persona_file
        from voicetrainer.session.practice import load_baseline, new_session_dir

        path = self.persona_by_id(req.persona)
        persona = load_persona_file(path)
        req = dataclasses.replace(req, persona=str(path))
        if req.simulate:
            req = dataclasses.replace(req, simulate=str(self.allowed_input(req.simulate, folder=False)))
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

    def persona_by_id(self, ident: str) -> Path:
        """The persona file for an id (or its file name) in the personas folder; never a path elsewhere."""
        names = [ident] if ident.endswith((".yaml", ".yml")) else [f"{ident}.yaml", f"{ident}.yml"]
        for name in names:
            if PERSONA_FILE.match(name) and ((self.personas_dir / name).exists() or (self.personas_dir / name).is_symlink()):
                return self.persona_path(name, must_exist=True)
        raise PersonaError("no such persona in the personas folder (choose one from the list)",
                           path=ident if PERSONA_FILE.match(names[0]) else "the chosen persona")

    def allowed_input(self, given: str, *, folder: bool) -> Path:
        """`given` resolved, if it is inside one of `input_roots`; InputError naming the roots otherwise.
        The message never quotes anything read from the file."""
        kind = "folder" if folder else "recording"
        try:  # containment first: whether a file outside the roots exists is none of the page's business
            where = Path(given).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            raise InputError(f"{kind} not found", path=given) from None
        roots = [r.resolve() for r in self.input_roots if r.exists()]
        if not given or not any(where.is_relative_to(r) for r in roots):
            shown = ", ".join(str(r) for r in self.input_roots)
            raise InputError(f"is outside the folders this app may read ({shown}); copy the {kind} into "
                             "one of them, or add its folder to $VOICETRAINER_INPUTS (or serve --allow-folder)",
                             path=given)
        if not where.exists():
            raise InputError(f"{kind} not found", path=given)
        if folder != where.is_dir() or (not folder and not where.is_file()):
            raise InputError(f"not a {kind}", path=given)
        return where

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
                os.fchmod(fd, _file_mode(target))  # mkstemp makes 0600; keep the file's own mode
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
    # -------------------------------------------------------------- recordings from the browser
    def new_upload_dir(self) -> Path:
        """A new folder for one request's recordings, inside ``<data>/recordings`` (an allowed input
        root; kept: they are the user's)."""
        return self.data_dir / "recordings" / f"upload-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"

    def start_batch_recordings(self, uploaded: list, fixtures: list[str], *, record_history: bool) -> BatchJob:
        """Grade what the browser uploaded plus the shipped recordings it picked, as one batch."""
        picked = [uploads.shipped_recording(name) for name in fixtures if name]
        if not uploaded and not picked:
            raise InputError("choose recordings to upload, or tick one of the shipped recordings")
        folder = uploaded[0].path.parent if uploaded else self.new_upload_dir()
        for src in picked:
            uploads.link_or_copy(src, uploads.unique_path(folder, src.name))
        return self.start_batch(str(folder), record_history=record_history)

    def start_batch(self, folder: str, *, record_history: bool) -> BatchJob:
        path = self.allowed_input(folder, folder=True)
        with self._lock:
            if self.batch is not None and self.batch.active:
                raise CallBusy("a batch is already being graded; wait for it to finish")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = self.batches_root / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', path.name or 'batch')}"
            n = 1
            while out.exists():
                n += 1
                out = out.with_name(f"{out.name}-{n}")
            job = BatchJob(path, out, self.settings, record_history=record_history,
                           inside=tuple(r.resolve() for r in self.input_roots if r.exists()))
            if not job.items:
                raise InputError("no recordings (.wav, .flac, .ogg) or session folders in this folder", path=folder)
            self.batch = job
        return job.start()


def _file_mode(target: Path) -> int:
    """The permission bits a saved file should have: the existing file's, else what a new file
    gets under the process umask (read from /proc: os.umask() would change it for every thread)."""
    import stat

    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        pass
    umask = 0o022
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


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
    """Breathing patterns (voicetrainer.calm.breathe) and the headset calm tools."""
    from voicetrainer.calm.breathe import PATTERNS, PHASE_LABELS

    patterns = [{"name": p.name, "description": p.description,
                 "phases": [{"name": ph.name, "label": PHASE_LABELS.get(ph.name, ph.name), "duration_s": ph.duration_s}
                            for ph in p.phases]} for p in PATTERNS.values()]
    tools = [("Breathing pacer with sound cues on the headset", "in a terminal", "voicetrainer calm breathe"),
             ("Calm drill", "answer provocations in one sentence; your vocal calm is scored against your baseline",
              "voicetrainer calm drill")]
    return patterns, tools
