"""The recruit's browser as the headset of a live practice call.

The browser captures the microphone in an AudioWorklet (16 kHz mono, 20 ms frames) and plays
the caller; both travel over one WebSocket. `BrowserHeadset` turns that into what a local call
uses: an iterator of microphone `Frame`s (the session clock) and a player (`play_at`/`stop_at`,
`latency_s`, `stats`), so `LiveSession` and `run_call` run unchanged.

Clocks. Every microphone message carries the AudioContext time of its first sample. The first
one is ``t0``; session time is the microphone's sample count, so session second ``s`` is
AudioContext time ``t0 + s`` (a gap the browser reports, e.g. a throttled tab, is filled with
silence so that this stays true). The capture itself happened ``input_latency`` earlier and the
speaker sounds ``output_latency`` after a buffer starts, so the browser starts a caller clip
meant to be heard at session second ``S`` at AudioContext time ``t0 + S - input_latency -
output_latency`` and reports when it actually started and ended (and when it received the
clip). The server maps those back (``heard_s = ctx - t0 + input_latency + output_latency``),
writes a ``caller_playback`` event per line (planned vs heard, the transport time) and keeps
its lead (`latency_s`, the time between deciding a line and hearing it) just above the
transport time it measured, so lines are heard exactly when the recording says.

Threads: `feed_*` run on the web server's thread or event loop and only copy into a ring
(under a lock) or enqueue; the session thread reads frames and turns reports into events.
"""

from __future__ import annotations

import collections
import json
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.frames import Frame
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.errors import DeviceError
from voicetrainer.stream.ring import AudioRing

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
MIC_HEADER = struct.Struct("<d")  # browser -> server: AudioContext time of the first sample, then int16 LE
CLIP_HEADER = struct.Struct("<Id")  # server -> browser: line id, session second to be heard at, then int16 LE
RING_S = 30.0  # microphone audio held for the session thread (it normally reads within 20 ms)
MAX_GAP_FILL_S = 5.0  # a larger jump in the browser's clock is a broken stream, not a gap
INITIAL_LEAD_S = 0.25  # before anything is measured: loopback and LAN transport is far below this
MIN_LEAD_S = 0.06
MAX_LEAD_S = 1.0
LEAD_MARGIN_S = 0.04  # kept above the worst recent transport time
LEAD_WINDOW = 12  # lines the lead is computed from
STALL_TIMEOUT_S = 5.0  # no microphone audio for this long: the browser is gone
FIRST_AUDIO_TIMEOUT_S = 60.0  # the page has this long to open the microphone (the permission prompt)


@dataclass
class HeadsetStats:
    """What the report's ``audio_faults`` says about the browser headset."""

    frames_in: int = 0
    gap_fill_s: float = 0.0  # silence inserted where the browser's clock jumped
    overflow_s: float = 0.0  # audio the session thread was too late to read (lost)
    late_lines: int = 0  # caller lines heard later than planned (more than one frame)
    underflows: int = 0  # Player interface
    samples_out: int = 0  # Player interface

    def to_dict(self) -> dict:
        return {"browser_frames_in": self.frames_in, "browser_gap_fill_s": round(self.gap_fill_s, 3),
                "browser_overflow_s": round(self.overflow_s, 3), "browser_late_lines": self.late_lines}


@dataclass
class BrowserClock:
    """The browser's AudioContext clock, as its ``start`` message describes it."""

    context_rate: float = SAMPLE_RATE
    input_latency_s: float = 0.0
    output_latency_s: float = 0.0
    base_latency_s: float = 0.0
    t0_ctx: float | None = None  # AudioContext time of the first microphone sample

    @property
    def playback_delay_s(self) -> float:
        return self.input_latency_s + self.output_latency_s

    def session_s(self, ctx_s: float) -> float:
        """The session second a sound started at AudioContext time `ctx_s` is heard at."""
        return ctx_s - (self.t0_ctx or 0.0) + self.playback_delay_s


@dataclass
class _Sent:
    line_id: int
    planned_s: float
    sent_now_s: float
    text: str = ""


@dataclass
class _Lead:
    """The playback lead, kept just above the transport time measured on recent lines."""

    value: float = INITIAL_LEAD_S
    needed: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LEAD_WINDOW))

    def observe(self, needed_s: float) -> None:
        self.needed.append(max(0.0, needed_s))
        self.value = min(MAX_LEAD_S, max(MIN_LEAD_S, max(self.needed) + LEAD_MARGIN_S))


class BrowserHeadset:
    """Microphone frames in and caller clips out for one browser (see the module doc).

    Args:
        send: ``f(message)`` hands a message to the WebSocket (``bytes`` or a JSON-able
            ``dict``); called on the session thread, must not block.
        stall_timeout_s: no microphone audio for this long raises `DeviceError` (the session
            keeps everything recorded).
    """

    def __init__(self, send: Callable[[bytes | dict], None], *, stall_timeout_s: float = STALL_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        self._send = send
        self.stall_timeout_s = stall_timeout_s
        self._clock = clock
        self.clock_info = BrowserClock()
        self.stats = HeadsetStats()
        self.lead = _Lead()
        self._ring = AudioRing(RING_S)
        self._cond = threading.Condition()
        self._received = 0  # samples in the ring (the session clock), under _cond
        self._ended = False  # the browser said the call is over (or went away)
        self._gone: str | None = None  # why the browser vanished
        self._last_in = clock()
        self._reports: queue.SimpleQueue = queue.SimpleQueue()  # browser reports -> session thread
        self._sent: dict[int, _Sent] = {}
        self._next_id = 1
        self._emit: Callable[[dict], None] | None = None
        self.playback: list[dict] = []  # caller_playback events
        self.sample_rate = SAMPLE_RATE

    # ------------------------------------------------------------------ web side (any thread)
    def feed_start(self, msg: dict) -> None:
        """The browser's ``start`` message: its AudioContext rate and latencies."""
        c = self.clock_info
        c.context_rate = float(msg.get("sample_rate") or SAMPLE_RATE)
        c.input_latency_s = _seconds(msg.get("input_latency"))
        c.output_latency_s = _seconds(msg.get("output_latency"))
        c.base_latency_s = _seconds(msg.get("base_latency"))

    def feed_mic(self, data: bytes) -> None:
        """One microphone message: AudioContext time of its first sample, then int16 samples."""
        if len(data) <= MIC_HEADER.size:
            return
        (ctx_s,) = MIC_HEADER.unpack_from(data)
        samples = np.frombuffer(data, dtype="<i2", offset=MIC_HEADER.size).astype(np.float32) * (1 / 32768)
        with self._cond:
            if self._ended:
                return
            if self.clock_info.t0_ctx is None:
                self.clock_info.t0_ctx = ctx_s
            gap = ctx_s - (self.clock_info.t0_ctx + self._received / SAMPLE_RATE)
            if FRAME_S < gap <= MAX_GAP_FILL_S:  # the browser lost audio: keep session = ctx - t0
                n = int(round(gap * SAMPLE_RATE))
                self._ring.write(np.zeros(n, dtype=np.float32))
                self._received += n
                self.stats.gap_fill_s += n / SAMPLE_RATE
            self._ring.write(samples)
            self._received += len(samples)
            self.stats.frames_in += 1
            self._last_in = self._clock()
            self._cond.notify_all()

    def feed_report(self, msg: dict) -> None:
        """A ``played`` report from the browser (handled on the session thread)."""
        self._reports.put(msg)

    def end(self, reason: str | None = None) -> None:
        """The call is over from the browser's side: `reason` None = the trainee ended it (the
        frames already received are still analysed), else the browser went away."""
        with self._cond:
            self._ended = True
            if reason is not None:
                self._gone = reason
            self._cond.notify_all()

    # ------------------------------------------------------------------ session side
    def attach(self, emit: Callable[[dict], None]) -> None:
        """Events go to the session's events log through `emit` (the session thread). The wait
        for the page's first audio starts now (after the caller was prepared)."""
        self._emit = emit
        with self._cond:
            if not self.stats.frames_in:
                self._last_in = self._clock()

    @property
    def now_s(self) -> float:
        """Session seconds of microphone audio received so far."""
        with self._cond:
            return self._received / SAMPLE_RATE

    def frames(self) -> Iterator[Frame]:
        """Microphone frames on the session clock, until the browser ends the call."""
        k = 0
        first = True
        while True:
            with self._cond:
                while self._received < (k + 1) * FRAME_SAMPLES and not self._ended:
                    self._cond.wait(0.1)
                    limit = FIRST_AUDIO_TIMEOUT_S if first else self.stall_timeout_s
                    if self._clock() - self._last_in > limit:
                        raise DeviceError(f"the browser sent no microphone audio for {limit:.0f} s "
                                          "(connection lost, or the microphone was not allowed)"
                                          + ("" if first else "; the session so far has been saved"))
                if self._received < (k + 1) * FRAME_SAMPLES:  # ended, nothing more to read
                    if self._gone:
                        raise DeviceError(f"{self._gone}; the session so far has been saved")
                    return
                oldest = self._received - self._ring.capacity
                if k * FRAME_SAMPLES < oldest:  # fell a whole ring behind: count the loss, skip ahead
                    skip = -(-oldest // FRAME_SAMPLES)
                    self.stats.overflow_s += (skip - k) * FRAME_S
                    k = skip
                samples = self._ring.read(k * FRAME_S, (k + 1) * FRAME_S)
            if first:
                first = False
                self._clock_event()
            self._drain_reports()
            yield Frame(samples[:, None], k * FRAME_S, k)
            k += 1

    # the Player interface (CallerVoice calls these on the session thread)
    @property
    def latency_s(self) -> float:
        """Seconds between deciding a caller line and the trainee hearing it (measured)."""
        return self.lead.value

    playing = False  # the browser knows; nothing on the server waits for it

    def play_at(self, audio_16k: np.ndarray, at_s: float, text: str = "") -> None:
        """Send a clip to be heard at session second `at_s`."""
        line_id, self._next_id = self._next_id, self._next_id + 1
        self._sent[line_id] = _Sent(line_id, at_s, self.now_s, text)
        pcm = (np.clip(audio_16k, -1.0, 1.0) * 32767).astype("<i2")
        self._send(CLIP_HEADER.pack(line_id, at_s) + pcm.tobytes())
        self.stats.samples_out += len(audio_16k)

    def play(self, audio_16k: np.ndarray) -> None:
        self.play_at(audio_16k, self.now_s + self.lead.value)

    def stop_at(self, at_s: float) -> None:
        """Cut whatever plays at session second `at_s` (a short fade, as the local player)."""
        self._send({"type": "stop", "at_s": round(at_s, 4)})

    def stop(self) -> None:
        self.stop_at(self.now_s + self.lead.value)

    def send(self, message: dict) -> None:
        """Anything else for the page (live view, the end of the call)."""
        self._send(message)

    # ------------------------------------------------------------------ reports -> events
    def _clock_event(self) -> None:
        c = self.clock_info
        self._event({"type": "browser_clock", "t_s": 0.0, "t0_ctx_s": c.t0_ctx, "context_rate_hz": c.context_rate,
                     "input_latency_s": c.input_latency_s, "output_latency_s": c.output_latency_s,
                     "base_latency_s": c.base_latency_s,
                     "mapping": "session_s = ctx_s - t0_ctx_s; heard_s = played_ctx_s - t0_ctx_s + input + output latency"})

    def _drain_reports(self) -> None:
        while True:
            try:
                msg = self._reports.get_nowait()
            except queue.Empty:
                return
            self._on_report(msg)

    def _on_report(self, msg: dict) -> None:
        sent = self._sent.pop(_int(msg.get("id")), None)
        c = self.clock_info
        if sent is None or c.t0_ctx is None:
            return
        out_lat = _seconds(msg.get("output_latency"), c.output_latency_s)
        c.output_latency_s = out_lat  # it can change while the page runs (a new output device)
        start_s = c.session_s(float(msg.get("start_ctx", 0.0)))
        end_s = c.session_s(float(msg.get("end_ctx", 0.0)))
        received_s = float(msg.get("received_ctx", 0.0)) - c.t0_ctx
        # the lead that would just have been enough: transport to the browser + the device delays
        needed = received_s - sent.sent_now_s + c.playback_delay_s
        self.lead.observe(needed)
        late = start_s - sent.planned_s
        if late > FRAME_S:
            self.stats.late_lines += 1
            log.warning("caller line %d heard %.0f ms late (lead %.0f ms too short)", sent.line_id, late * 1000,
                        (needed - (sent.planned_s - sent.sent_now_s)) * 1000)
        self._event({"type": "caller_playback", "id": sent.line_id, "planned_start_s": round(sent.planned_s, 3),
                     "heard_start_s": round(start_s, 3), "heard_end_s": round(end_s, 3),
                     "error_s": round(late, 4), "cut": bool(msg.get("cut")),
                     "transport_s": round(received_s - sent.sent_now_s, 4), "lead_s": round(self.lead.value, 3)})

    def _event(self, event: dict) -> None:
        if event["type"] == "caller_playback":
            self.playback.append(event)
        if self._emit is not None:
            self._emit(event)

    # context manager / Player lifecycle
    def open(self) -> None:
        pass

    def close(self) -> None:
        self.end("the call was closed")

    def __enter__(self) -> "BrowserHeadset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _seconds(value, default: float = 0.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if 0.0 <= v < 5.0 else default


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def parse_text(data: str) -> dict:
    """A text message from the page as a dict ({} when it is not a JSON object)."""
    try:
        msg = json.loads(data)
    except (json.JSONDecodeError, ValueError):
        return {}
    return msg if isinstance(msg, dict) else {}
