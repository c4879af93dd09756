"""The caller's voice in a live session: lines from the caller's mind are queued to start at a
session time, released to the player when due, and placed on the caller track where the trainee
hears them (now + the output latency), so the recording and the turn analysis stay aligned."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.playback import CallerTrack
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s


@dataclasses.dataclass
class _Queued:
    at_s: float
    line: Any
    audio: np.ndarray
    reply_to_s: float | None  # the trainee turn end this line answers (reply latency), or None


class CallerVoice:
    """Schedules caller lines (see the module doc).

    Args:
        voice: ``f(line) -> np.ndarray`` 16 kHz mono audio of a caller line (the TTS cache).
        player: plays caller audio (`Player`, or `NullPlayer`).
        track: where caller audio is on the session clock.
        emit: keeps an event (and writes it to the session's events log).
        caption: ``f(speaker, t_s, text)`` adds a caption line.
    """

    def __init__(self, *, voice: Callable[[Any], np.ndarray], player, track: CallerTrack,
                 emit: Callable[[dict], None], caption: Callable[[str, float, str], None]):
        self.voice = voice
        self.player = player
        self.track = track
        self.emit = emit
        self.caption = caption
        self.lines: list[dict] = []  # caller_line events, as played (cut lines shortened)
        self.reply_latencies: list[float] = []
        self.mood: float | None = None
        self.end_at_s: float | None = None  # inf once the last line is queued; its end + grace once played
        self._queued: list[_Queued] = []

    @property
    def pending(self) -> bool:
        return bool(self._queued)

    @property
    def finished(self) -> bool:
        """The caller said (or queued) their last line: no more reactions."""
        return self.end_at_s is not None

    def say(self, line, *, at_s: float, reply_to_s: float | None = None) -> None:
        """Queue `line` to start at session time `at_s`; its decisions go to the events now."""
        if line is None:
            return
        for entry in getattr(line, "decisions", None) or []:
            if dataclasses.is_dataclass(entry):
                entry = dataclasses.asdict(entry)
            elif not isinstance(entry, dict):
                entry = {"reason": str(entry)}
            self.emit({"type": "decision", **entry})
            if entry.get("mood_after") is not None and entry.get("mood_after") != entry.get("mood_before"):
                self.emit({"type": "mood", "t_s": entry.get("t_s"), "mood": entry["mood_after"],
                           "reason": entry.get("reason", "")})
        self.mood = getattr(line, "mood", self.mood)
        text = getattr(line, "text", "")
        audio = self.voice(line) if text else np.zeros(0, dtype=np.float32)
        if text and not len(audio):  # synthesis failed (already retried): the call goes on
            self.emit({"type": "tts_skipped", "t_s": round(at_s, 3), "text": text})
        self._queued.append(_Queued(at_s, line, audio, reply_to_s))
        if getattr(line, "ends_call", False):
            self.end_at_s = math.inf  # no more reactions; the real end is set on release

    def release(self, now_s: float, frame_end_s: float, *, end_grace_s: float, extra_latency_s: float = 0.0) -> None:
        """Start queued lines whose time has come. `frame_end_s`: the end of the frame being
        processed (a line never starts before it); `extra_latency_s`: compute time added to the
        reply latency on a simulated clock."""
        due = [q for q in self._queued if q.at_s <= now_s + FRAME_S / 2]
        if not due:
            return
        self._queued = [q for q in self._queued if q.at_s > now_s + FRAME_S / 2]
        for q in due:
            text = getattr(q.line, "text", "")
            start_s = max(now_s, frame_end_s) + getattr(self.player, "latency_s", 0.0)
            start, end = self.track.add(q.audio, start_s, {"text": text})
            if len(q.audio):
                play_at = getattr(self.player, "play_at", None)
                if play_at is not None:  # a remote headset (the browser) schedules the clip itself
                    play_at(q.audio, start, text)
                else:
                    self.player.play(q.audio)
            entry = {"type": "caller_line", "start_s": round(start, 3), "end_s": round(end, 3), "text": text,
                     "situation": getattr(q.line, "situation", None), "mood": getattr(q.line, "mood", None)}
            self.lines.append(entry)
            self.emit(entry)
            self.caption("caller", start, text)
            if q.reply_to_s is not None:
                self.reply_latencies.append(start - q.reply_to_s + extra_latency_s)
            if getattr(q.line, "ends_call", False):
                self.end_at_s = end + end_grace_s
                self.emit({"type": "end", "t_s": round(end, 3), "reason": getattr(q.line, "situation", "end")})

    def stop_for_barge_in(self, detected_s: float) -> None:
        """The trainee talked over the caller and the caller stops: cut the playing line."""
        stop_at = getattr(self.player, "stop_at", None)
        if stop_at is not None:  # a remote headset: the cut is heard when the command can reach it
            detected_s += self.player.latency_s
            stop_at(detected_s)
        else:
            self.player.stop()
        cut = self.track.cut(detected_s)
        for ln in self.lines:
            if ln["end_s"] > detected_s:
                ln["end_s"] = round(cut if cut is not None else detected_s, 3)
                ln["cut"] = True
                self.emit({"type": "caller_line_cut", "start_s": ln["start_s"], "end_s": ln["end_s"]})
