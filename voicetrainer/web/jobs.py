"""Background work the web server starts: one practice call, one batch of recordings to grade.

Each job runs in its own thread and publishes numbered snapshots; request threads (server-sent
events, status polls) wait on the job's condition for a snapshot newer than the one they sent.
The call goes through the same functions as the CLI (`simulate` for a recording as the
microphone, `practice` for the headset), so there is one implementation of practice.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.errors import VoiceTrainerError, printable

log = get_logger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class CallRequest:
    """What the recruit chose on the start page.

    Attributes:
        persona: persona id or path to its YAML file.
        trainee: the recruit's name (history and voice baseline).
        simulate: a recording of spoken answers used as the microphone (None = the headset).
        accelerated: with `simulate`, run on an accelerated clock instead of real time.
        device_in, device_out: sounddevice names or indexes (None = the system default).
        seed: caller choices seed.
    """

    persona: str
    trainee: str = "trainee"
    simulate: str | None = None
    accelerated: bool = False
    device_in: int | str | None = None
    device_out: int | str | None = None
    seed: int = 0


class _Published:
    """A numbered snapshot and a condition to wait for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seq = 0

    def _publish(self) -> None:
        with self._cond:
            self.seq += 1
            self._cond.notify_all()

    def wait_newer(self, seq: int, timeout_s: float) -> bool:
        """True when a snapshot newer than `seq` exists (waits up to `timeout_s`)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.seq > seq, timeout=timeout_s)


def _finite(v: Any, digits: int = 1) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


class CallJob(_Published):
    """One practice call running in a thread.

    States: ``preparing`` (voice cache, model) -> ``running`` -> ``finishing`` (report) -> ``done``,
    or ``failed`` with `error`. `stop()` may come at any time, from any thread.
    """

    def __init__(self, request: CallRequest, *, session_dir: Path, settings: Settings, transcriber_factory,
                 tts_backend=None, persona_name: str = "", persona_id: str = "", baseline=None):
        super().__init__()
        self.request = request
        self.session_dir = session_dir
        self.settings = settings
        self.persona_id = persona_id or request.persona
        self.persona_name = persona_name or self.persona_id
        self._transcriber_factory = transcriber_factory
        self._tts_backend = tts_backend
        self._baseline = baseline
        self.state = "preparing"
        self.status = "getting the caller's voice ready"
        self.error: str | None = None
        self.update: dict | None = None
        self.captions: list[dict] = []
        self.overall: float | None = None
        self._session = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.started_monotonic = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="web-call", daemon=True)

    @property
    def active(self) -> bool:
        with self._lock:
            return self.state in ("preparing", "running", "finishing")

    def _set(self, state: str | None = None, status: str | None = None, *, error: str | None = None,
             only_from: tuple[str, ...] = ()) -> bool:
        """Change state/status/error together under the lock; with `only_from`, only when the
        state is one of those (check and change are one step). True when changed."""
        with self._lock:
            if only_from and self.state not in only_from:
                return False
            if state is not None:
                self.state = state
            if status is not None:
                self.status = status
            if error is not None:
                self.error = error
            return True

    def start(self) -> "CallJob":
        self.thread.start()
        return self

    def stop(self) -> None:
        """End the call cleanly: the session stops at its next frame and is graded as usual."""
        with self._lock:
            self._stop.set()
            session = self._session
        if session is not None:
            session.request_stop("ended by the trainee (End call)")
        if self._set(status="ending the call", only_from=("running",)):
            self._publish()

    # ------------------------------------------------------------------ the thread
    def _on_session(self, session) -> None:
        with self._lock:
            self._session = session
            stop = self._stop.is_set()
        if stop:
            session.request_stop("ended by the trainee (End call)")
        self._set("running", "call in progress", only_from=("preparing",))
        self._publish()

    def _on_update(self, u) -> None:
        d = dataclasses.asdict(u)
        base = d.get("baseline") or {}
        d["baseline"] = {k: _finite(base.get(k)) for k in ("pitch_median_hz", "loudness_dbfs")} if base else None
        for key in ("t_s", "mood", "trainee_level_dbfs", "trainee_pitch_hz", "wpm"):
            d[key] = _finite(d.get(key))
        seen = {(c["speaker"], c["t_s"]) for c in self.captions}
        new = [dict(c) for c in u.captions if (c["speaker"], c["t_s"]) not in seen]
        d.pop("captions", None)
        with self._lock:
            self.captions.extend(new)
            self.captions.sort(key=lambda c: c["t_s"])
            self.update = d
        if u.ended:
            self._set("finishing", "writing your report", only_from=("running",))
        self._publish()

    def _on_prepare(self, done: int, total: int) -> None:
        """The caller's voice is being rendered before the call: show how far, and stop at once on End call."""
        if self._stop.is_set():
            raise _Cancelled()
        if self._set(status=f"preparing the caller's voice ({done}/{total} lines)", only_from=("preparing",)):
            self._publish()

    def _run(self) -> None:
        from voicetrainer.session.practice import CallSetup, practice, simulate

        req = self.request
        try:
            transcriber = self._transcriber_factory()
            if self._stop.is_set():
                raise _Cancelled()
            if req.simulate:
                report = simulate(
                    req.persona, req.simulate, self.session_dir, settings=self.settings,
                    realtime=not req.accelerated, seed=req.seed, on_update=self._on_update, transcriber=transcriber,
                    tts_backend=self._tts_backend, trainee=req.trainee, on_session=self._on_session,
                    baseline=self._baseline, progress=self._on_prepare,
                )
            else:
                setup = CallSetup(persona=req.persona, trainee=req.trainee, seed=req.seed,
                                  session_dir=self.session_dir)
                from voicetrainer.session.practice import prepare

                prepared = prepare(setup, self.settings, tts_backend=self._tts_backend, progress=self._on_prepare)
                if self._stop.is_set():
                    raise _Cancelled()
                report, _ = practice(setup, self.settings, device_in=req.device_in, device_out=req.device_out,
                                     transcriber=transcriber, baseline=self._baseline, prepared=prepared,
                                     on_update=self._on_update, on_session=self._on_session)
            from voicetrainer.report.schema import OUTCOME_LABELS

            with self._lock:
                self.overall = report.overall
            ended = OUTCOME_LABELS.get(report.outcome or "", "")
            self._set("done", f"report ready ({ended})" if ended else "report ready")
        except _Cancelled:
            self._set("failed", "cancelled", error="the call was ended before it started")
        except VoiceTrainerError as e:
            log.warning("web call failed: %s", e)
            self._set("failed", "failed", error=str(e))
        except Exception as e:  # the thread must always leave a state the page can show
            log.exception("web call failed")
            self._set("failed", "failed", error=f"internal error: {type(e).__name__}: {e}")
        finally:
            self._publish()

    # ------------------------------------------------------------------ the view
    @property
    def has_report(self) -> bool:
        return (self.session_dir / "report.html").is_file()

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "seq": self.seq, "state": self.state, "status": self.status, "error": self.error,
                "persona": self.persona_id, "persona_name": self.persona_name,
                "simulated": bool(self.request.simulate), "session": self.session_dir.name,
                "update": self.update, "captions": list(self.captions), "overall": self.overall,
                "report_url": f"/sessions/{self.session_dir.name}/report.html" if self.has_report else None,
            }


class _Cancelled(Exception):
    pass


# ----------------------------------------------------------------------------- batch grading

def find_recordings(folder: Path) -> list[Path]:
    """Gradable inputs directly in `folder`: audio files and session folders, sorted by name."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
            out.append(p)
        elif p.is_dir() and (p / "session.json").is_file():
            out.append(p)
    return out


@dataclass
class BatchItem:
    name: str
    input: str
    status: str = "waiting"  # waiting | done | failed
    error: str | None = None
    overall: float | None = None
    href: str | None = None  # the row's report.html, relative to the batch folder


@dataclass
class BatchJob(_Published):
    """Grade every recording in a folder with `grade_many`, then write index.html."""

    folder: Path
    out_dir: Path
    settings: Settings
    record_history: bool = False
    inside: tuple[Path, ...] = ()  # when set: only inputs that resolve inside one of these folders
    items: list[BatchItem] = field(default_factory=list)
    state: str = "running"  # running | done | failed
    error: str | None = None

    def __post_init__(self) -> None:
        _Published.__init__(self)
        self._lock = threading.Lock()
        found = find_recordings(self.folder)
        if self.inside:  # a symlink in the folder must not lead the batch elsewhere
            found = [p for p in found if any(p.resolve().is_relative_to(r) for r in self.inside)]
        self.items = [BatchItem(printable(p.name), str(p)) for p in found]  # a name need not be UTF-8
        self.thread = threading.Thread(target=self._run, name="web-batch", daemon=True)

    @property
    def active(self) -> bool:
        with self._lock:
            return self.state == "running"

    def start(self) -> "BatchJob":
        self.thread.start()
        return self

    def _on_prepare(self, done: int, total: int) -> None:
        """The caller's voice is being rendered before the call: show how far, and stop at once on End call."""
        if self._stop.is_set():
            raise _Cancelled()
        if self._set(status=f"preparing the caller's voice ({done}/{total} lines)", only_from=("preparing",)):
            self._publish()

    def _run(self) -> None:
        from voicetrainer.session.batch import GradeTask, grade_many, report_dirs

        try:
            dirs = report_dirs([it.input for it in self.items], self.out_dir)  # call.wav, call.flac: two folders
            tasks = [GradeTask(input=it.input, out_dir=str(d), db="" if self.record_history else None)
                     for it, d in zip(self.items, dirs)]
            for res in grade_many(tasks, self.settings, jobs=1):
                it = self.items[res.index]
                with self._lock:
                    if res.error:
                        it.status, it.error = "failed", res.error
                    else:
                        it.status, it.overall = "done", res.summary.get("overall")
                        page = res.html_path or res.report_path
                        it.href = printable(os.path.relpath(page, self.out_dir)) if page else None
                self._publish()
            self._write_index(tasks)
            with self._lock:
                self.state = "done"
        except Exception as e:  # noqa: BLE001 - shown on the page; grade_many already isolates files
            log.exception("batch grading failed")
            with self._lock:
                self.state, self.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self._publish()

    def _write_index(self, tasks) -> None:
        import json

        from voicetrainer.report.html import IndexEntry, write_index_html
        from voicetrainer.report.schema import Report

        entries = []
        for it, task in zip(self.items, tasks):
            report = None
            rp = Path(task.out_dir) / "report.json"
            if it.status == "done" and rp.is_file():
                try:
                    report = Report.from_dict(json.loads(rp.read_text()))
                except (OSError, ValueError, KeyError, TypeError):
                    report = None
            entries.append(IndexEntry(name=it.name, href=it.href, report=report, error=it.error))
        write_index_html(entries, self.out_dir / "index.html", title=f"Graded calls — {self.folder.name}")

    def snapshot(self) -> dict:
        with self._lock:
            done = sum(1 for it in self.items if it.status != "waiting")
            return {
                "seq": self.seq, "state": self.state, "error": self.error, "folder": str(self.folder),
                "total": len(self.items), "done": done, "items": [dataclasses.asdict(it) for it in self.items],
                "index_url": f"/batches/{self.out_dir.name}/index.html" if (self.out_dir / "index.html").is_file() else None,
            }
