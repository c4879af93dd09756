"""A headless stand-in for the practice page: speaks the browser headset's protocol.

`HeadlessBrowser` does what ``voicetrainer/web/static/practice.js`` does, without a browser:
it sends 20 ms microphone frames stamped with its own audio clock (real time), plays the
caller's clips at the session second the server asks for (on that clock), honours ``stop``,
and reports each clip's start and end. The microphone is a `ScriptedTrainee`, a recording of
real spoken answers that waits for the caller to finish (or barges in), so calls have real
turn-taking. Transport-agnostic: `send(message)` is given, `receive(message)` is called.

Used by tests/test_browser_headset.py (in-process) and scripts/bench_seats.py (WebSocket).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

import numpy as np

from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.session.browser_headset import CLIP_HEADER, MIC_HEADER
from voicetrainer.session.simulate import ScriptedTrainee, load_script

T0_CTX = 3.5  # the page's AudioContext had run a while before the call started


class HeadlessBrowser:
    """One simulated browser in a call (see the module doc).

    Args:
        send: ``f(bytes | str)`` to the server.
        trainee_wav: recording of answers with its JSON script beside it.
        talk_s: after this much call time with every answer said, the trainee ends the call.
        output_latency_s: the simulated speaker delay (reported, and honoured when scheduling).
    """

    def __init__(self, send, trainee_wav: str | Path, *, talk_s: float = 60.0, output_latency_s: float = 0.02,
                 seed: int = 0, end_after_answers_s: float = 4.0):
        self._send = send
        audio, self.answers = load_script(trainee_wav)
        self.trainee = ScriptedTrainee(audio, self.answers, self.caller_active, seed=seed)
        self.talk_s = talk_s
        self.output_latency_s = output_latency_s
        self.end_after_answers_s = end_after_answers_s
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.samples = 0  # microphone samples sent: the page's audio clock
        self._lock = threading.Lock()
        self.clips: list[dict] = []  # {id, start_s, end_s, cut, reported}
        self.ended: dict | None = None
        self.error: str | None = None
        self.closed = threading.Event()
        self.ready = threading.Event()
        self.messages: list[dict] = []

    # the page's audio clock, in session seconds (ctx - t0)
    @property
    def now_s(self) -> float:
        return self.samples / SAMPLE_RATE

    def caller_active(self, t_s: float) -> bool:
        with self._lock:
            return any(c["start_s"] <= t_s < c["end_s"] for c in self.clips)

    def receive(self, message: bytes | str) -> None:
        self.inbox.put(message)

    def _handle(self, message: bytes | str) -> None:
        if isinstance(message, bytes):
            line_id, at_s = CLIP_HEADER.unpack_from(message)
            n = (len(message) - CLIP_HEADER.size) // 2
            received = self.now_s
            # heard at at_s: start output_latency earlier; never before the clip arrived
            start_ctx = max(at_s - self.output_latency_s, received)
            with self._lock:
                self.clips.append({"id": line_id, "start_s": start_ctx + self.output_latency_s,
                                   "end_s": start_ctx + self.output_latency_s + n / SAMPLE_RATE,
                                   "start_ctx": start_ctx, "received": received, "cut": False, "reported": False})
            return
        msg = json.loads(message)
        self.messages.append(msg)
        kind = msg.get("type")
        if kind == "stop":
            at = max(float(msg["at_s"]), self.now_s + self.output_latency_s)
            with self._lock:
                for c in self.clips:
                    if c["start_s"] < at < c["end_s"]:
                        c["end_s"], c["cut"] = at, True
                    elif c["start_s"] >= at and not c["reported"]:
                        c["end_s"] = c["start_s"]
                        c["cut"] = True
        elif kind == "ready":
            self.ready.set()
        elif kind == "ended":
            self.ended = msg
        elif kind in ("error", "refused"):
            self.error = msg.get("message")
        elif kind == "closed":
            self.closed.set()

    def _report_finished(self) -> None:
        now = self.now_s
        with self._lock:
            done = [c for c in self.clips if not c["reported"] and c["end_s"] <= now]
            for c in done:
                c["reported"] = True
        for c in done:
            self._send(json.dumps({
                "type": "played", "id": c["id"], "start_ctx": T0_CTX + c["start_ctx"],
                "end_ctx": T0_CTX + c["end_s"] - self.output_latency_s, "received_ctx": T0_CTX + c["received"],
                "output_latency": self.output_latency_s, "cut": c["cut"]}))

    def run(self, *, speed: float = 1.0, timeout_s: float = 240.0) -> None:
        """Stream the microphone in real time (/ `speed`) until the server ends the call (the
        page opens the microphone when the server says the caller is ready)."""
        t_start = time.monotonic()
        while not self.ready.is_set() and time.monotonic() - t_start < timeout_s:
            try:
                self._handle(self.inbox.get(timeout=0.1))
            except queue.Empty:
                pass
            if self.error is not None or self.closed.is_set():
                return
        self._send(json.dumps({"type": "start", "sample_rate": SAMPLE_RATE, "input_latency": 0.0,
                               "output_latency": self.output_latency_s, "base_latency": 0.0}))
        t_start = time.monotonic()
        answers_done_at = None
        sent_end = False
        while not self.closed.is_set() and time.monotonic() - t_start < timeout_s:
            while True:
                try:
                    self._handle(self.inbox.get_nowait())
                except queue.Empty:
                    break
            if self.ended is not None or self.error is not None:
                if self.closed.wait(0.05):
                    break
                continue
            block = self.trainee.block(FRAME_SAMPLES)
            pcm = (np.clip(block, -1, 1) * 32767).astype("<i2")
            self._send(MIC_HEADER.pack(T0_CTX + self.now_s) + pcm.tobytes())
            self.samples += FRAME_SAMPLES
            self._report_finished()
            if self.trainee.done and answers_done_at is None:
                answers_done_at = self.now_s
            if not sent_end and (self.now_s >= self.talk_s or (
                    answers_done_at is not None and self.now_s >= answers_done_at + self.end_after_answers_s
                    and not self.caller_active(self.now_s))):
                self._send(json.dumps({"type": "end"}))
                sent_end = True
            due = t_start + self.samples / SAMPLE_RATE / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def call_over_websocket(base_url: str, persona: str, trainee_wav: str | Path, *, cookie: str = "",
                        assignment: str | None = None, timeout_s: float = 240.0, **kw) -> HeadlessBrowser:
    """One whole call through the server's WebSocket (``websocket-client``); returns the page
    after the call closed (its `ended`, `error`, `clips`, `messages`)."""
    import websocket  # websocket-client

    origin = base_url.rstrip("/")
    url = origin.replace("http", "ws", 1) + f"/practice/{persona}/ws" + (f"?assignment={assignment}" if assignment else "")
    conn = websocket.create_connection(url, origin=origin, cookie=cookie or None, timeout=timeout_s)
    lock = threading.Lock()

    def send(message):
        with lock:
            if isinstance(message, bytes):
                conn.send_binary(message)
            else:
                conn.send(message)

    page = HeadlessBrowser(send, trainee_wav, **kw)

    def pump():
        try:
            while True:
                opcode, data = conn.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                page.receive(data if opcode == websocket.ABNF.OPCODE_BINARY else data.decode())
        except Exception:  # closed
            pass
        finally:
            page.receive(json.dumps({"type": "closed"}))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        page.run(timeout_s=timeout_s)
    finally:
        try:
            conn.close()
        except Exception:
            pass
        reader.join(timeout=5)
    return page
