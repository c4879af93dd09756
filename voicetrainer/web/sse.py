"""Server-sent events: the live call, the microphone check and the baseline recording.

`EventsMixin` is mixed into the request handler (`routes.Handler`); each stream holds its
request thread until it ends (the call ends, the mic check's seconds pass, or the server closes).
"""

from __future__ import annotations

import json
from typing import Any

from voicetrainer.errors import VoiceTrainerError

SSE_KEEPALIVE_S = 15.0


class EventsMixin:
    """The event streams of `routes.Handler` (needs its `app`, `wfile`, `send_response`...)."""

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

