"""Several browser calls at once: seats, admission control, the shared recogniser, the driver.

One server hosts a room of recruits. Each browser call is its own `LiveSession` on its own
thread (`BrowserCall`), with its own session folder; all of them share one loaded Whisper model.
The model is safe to call from several threads (CTranslate2 queues the calls on its
``num_workers`` replicas); captions, which only decorate the live view, pass through a gate
so that at most `caption_slots` of them decode at once and a turn's final text (what the caller
answers) never queues behind other seats' captions.

Admission: a new call is refused, with a message saying why, when all seats are taken
(`SeatPolicy.limit`, by default measured capacity per core times the cores) or when a call in
progress already answers slower than the reply budget (the machine is saturated: one more call
would make every call slower).
"""

from __future__ import annotations

import collections
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.config import Settings
from voicetrainer.errors import VoiceTrainerError
from voicetrainer.session.browser_headset import BrowserHeadset

log = get_logger(__name__)

# Measured by scripts/bench_seats.py on the 2-core development machine (README, "Practice from the browser"):
# 24 simultaneous calls kept the pooled reply p95 at 1.08 s; at 32 the calls in progress went over
# the budget after 23 had started and the rest were refused (the reply rule below).
SEATS_PER_CORE = 12.0
REPLY_BUDGET_S = 1.2  # the reply p95 a call must keep (the project's latency target)
RECENT_REPLIES = 4  # a call in progress is judged on its last few replies


class SeatsFull(VoiceTrainerError):
    """A new call would break the latency of the calls in progress."""


@dataclass(frozen=True)
class SeatPolicy:
    """How many calls the server takes at once.

    Attributes:
        seats: the limit; None = `SEATS_PER_CORE` x the cores this process may use (at least 1).
        reply_budget_s: refuse new calls while a call in progress answers slower than this.
        caption_slots: captions decoding at once across all calls (None = cores // 2, at least 1).
    """

    seats: int | None = None
    reply_budget_s: float = REPLY_BUDGET_S
    caption_slots: int | None = None

    @property
    def limit(self) -> int:
        if self.seats is not None:
            return max(1, int(self.seats))
        return max(1, int(SEATS_PER_CORE * _cores()))

    @property
    def captions(self) -> int:
        return max(1, int(self.caption_slots if self.caption_slots is not None else _cores() // 2))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class GatedRecogniser:
    """A recogniser whose calls wait for one of a few shared slots (captions across seats)."""

    def __init__(self, inner, slots: threading.BoundedSemaphore):
        self.inner = inner
        self.cfg = getattr(inner, "cfg", None)
        self._slots = slots

    def transcribe(self, audio: np.ndarray, *, offset_s: float = 0.0):
        with self._slots:
            return self.inner.transcribe(audio, offset_s=offset_s)


@dataclass
class Seat:
    """One call in progress."""

    id: str
    user: str
    persona: str
    started: float = field(default_factory=time.monotonic)
    replies: Callable[[], list[float]] = lambda: []

    def recent_p95(self) -> float | None:
        recent = list(self.replies())[-RECENT_REPLIES:]
        return float(np.percentile(recent, 95)) if recent else None


class Seats:
    """The calls in progress and the rule that admits a new one (thread-safe)."""

    def __init__(self, policy: SeatPolicy = SeatPolicy()):
        self.policy = policy
        self._lock = threading.Lock()
        self._seats: dict[str, Seat] = {}
        self.caption_slots = threading.BoundedSemaphore(policy.captions)
        self.refused = 0
        self.finished: collections.deque = collections.deque(maxlen=200)  # (user, persona, reply latencies)

    def take(self, user: str, persona: str) -> Seat:
        """A seat for `user`'s call, or `SeatsFull` with the reason in words."""
        with self._lock:
            limit = self.policy.limit
            if len(self._seats) >= limit:
                self.refused += 1
                raise SeatsFull(f"all {limit} practice seats are in use; this server keeps every call's replies "
                                f"within {self.policy.reply_budget_s:g} s, so please try again when a call ends")
            if any(s.user == user for s in self._seats.values()):
                self.refused += 1
                raise SeatsFull(f"{user} already has a practice call in progress (another tab or window?); "
                                "end it before starting another")
            slow = [(s, p) for s in self._seats.values() if (p := s.recent_p95()) is not None
                    and p > self.policy.reply_budget_s]
            if slow:
                self.refused += 1
                worst = max(p for _, p in slow)
                raise SeatsFull(f"the server is at capacity: calls in progress already answer in {worst:.2f} s "
                                f"(budget {self.policy.reply_budget_s:g} s); please try again in a few minutes")
            seat = Seat(uuid.uuid4().hex[:12], user, persona)
            self._seats[seat.id] = seat
            log.info("seat %s taken by %s (%d/%d)", seat.id, user, len(self._seats), limit)
            return seat

    def release(self, seat: Seat) -> None:
        with self._lock:
            if self._seats.pop(seat.id, None) is not None:
                self.finished.append((seat.user, seat.persona, list(seat.replies())))

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._seats)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [{"id": s.id, "user": s.user, "persona": s.persona, "reply_p95_s": s.recent_p95(),
                     "running_s": round(time.monotonic() - s.started, 1)} for s in self._seats.values()]


@dataclass
class CallRequest:
    """What a browser call needs besides its headset."""

    persona: str  # id or path
    trainee: str  # the logged-in user's name
    settings: Settings = field(default_factory=Settings)
    sessions_root: Path | None = None
    assignment: str | None = None
    tts_backend: object = None
    db: str | None = ""
    seed: int = 0
    max_call_s: float | None = None
    first_line_delay_s: float | None = None


class BrowserCall:
    """One browser call on its own thread: `run_call` with the browser as the headset.

    `on_done(report, session_dir, error)` runs on that thread when the call is over; the page
    is told through the headset (``ended`` or ``error``).
    """

    def __init__(self, request: CallRequest, headset: BrowserHeadset, *, seat: Seat, seats: Seats,
                 transcriber, prepared=None, on_done: Callable | None = None):
        self.request = request
        self.headset = headset
        self.seat = seat
        self.seats = seats
        self.transcriber = transcriber
        self.caption = GatedRecogniser(transcriber, seats.caption_slots) if transcriber is not None else None
        self.prepared = prepared
        self.on_done = on_done
        self.session = None
        self.session_dir: Path | None = None
        self.report = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"call-{seat.id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _on_session(self, session) -> None:
        self.session = session
        self.headset.attach(session._emit)
        self.seat.replies = lambda: session.caller.reply_latencies
        if self.request.assignment:
            session._emit({"type": "assignment", "t_s": 0.0, "assignment": self.request.assignment})

    def _on_update(self, update) -> None:
        u = update
        self.headset.send({"type": "update", "t_s": round(u.t_s, 2), "mood": u.mood, "caller_speaking": u.caller_speaking,
                           "trainee_speaking": u.trainee_speaking, "level_dbfs": round(u.trainee_level_dbfs, 1),
                           "wpm": u.wpm, "captions": u.captions, "nudge": u.nudge, "ended": u.ended})

    def _run(self) -> None:
        from voicetrainer.session.live_types import LiveOptions
        from voicetrainer.session.practice import CallSetup, new_session_dir, run_call, sessions_root

        req = self.request
        try:
            if self.prepared is None:  # the persona and its voice before the page opens the microphone
                from voicetrainer.session.practice import prepare

                self.prepared = prepare(CallSetup(persona=req.persona, trainee=req.trainee, seed=req.seed),
                                        req.settings, tts_backend=req.tts_backend)
            self.headset.send({"type": "ready", "persona": self.prepared[0].id, "persona_name": self.prepared[0].name})
            options = LiveOptions(realtime=True)
            if req.max_call_s is not None:
                options.max_call_s = req.max_call_s
            if req.first_line_delay_s is not None:
                options.first_line_delay_s = req.first_line_delay_s
            root = req.sessions_root or sessions_root(req.settings)
            persona_id = Path(req.persona).stem
            self.session_dir = new_session_dir(persona_id, root)
            setup = CallSetup(persona=req.persona, trainee=req.trainee, seed=req.seed, session_dir=self.session_dir,
                              db=req.db)
            headset = self.headset
            self.report, self.session_dir = run_call(
                setup, req.settings, frames=headset.frames(), player=headset, transcriber=self.transcriber,
                realtime=True, now_s=lambda index: headset.now_s, on_update=self._on_update,
                tts_backend=req.tts_backend, options=options, prepared=self.prepared, on_session=self._on_session,
                caption_transcriber=self.caption, extra_meta=self._meta(),
                device_stats=lambda: {**headset.stats.to_dict()},
            )
            headset.send({"type": "ended", "session": self.session_dir.name, "outcome": self.report.outcome,
                          "outcome_reason": self.report.outcome_reason,
                          "reply_p95_s": (self.report.latency or {}).get("reply_p95_s")})
        except Exception as e:  # the recording is kept; the page says what happened
            self.error = e
            log.warning("browser call %s failed: %s", self.seat.id, e)
            headset_msg = str(e) if isinstance(e, VoiceTrainerError) else f"the call failed: {e}"
            self.headset.send({"type": "error", "message": headset_msg,
                               "session": self.session_dir.name if self.session_dir else None})
            if self.session_dir is not None and self.session_dir.is_dir() and not any(self.session_dir.iterdir()):
                self.session_dir.rmdir()  # reserved, nothing recorded
        finally:
            self.seats.release(self.seat)
            self.headset.send({"type": "closed"})
            if self.on_done:
                self.on_done(self)

    def _meta(self) -> dict:
        meta = {"headset": "browser", "seat": self.seat.id}
        if self.request.assignment:
            meta["assignment"] = self.request.assignment
        return meta

    def end(self) -> None:
        """The trainee pressed End call: the frames received are analysed, then the call ends."""
        self.headset.end()
