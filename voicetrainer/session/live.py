"""Live practice: the caller plays on the headset while the microphone streams through the
same analysis pipeline the offline grader uses. The only module with threads and queues.

Per 20 ms microphone frame, on the consumer thread:

    caller track frame + mic frame -> recorder (durable) -> CallAnalyzer (VAD, turns, voice)
      trainee pauses   -> incremental ASR of the turn so far (speculative, at each pause)
      trainee stops    -> finish the tail -> dialog engine -> cached caller line -> player
      trainee barges in while the caller speaks -> persona reaction (stop, or talk on)
      long trainee silence -> the persona's silence line

Session time is the microphone's sample clock. "Now" is how much audio the microphone has
captured (injected `now_s`), so work that blocks the loop (waiting for the ASR tail) shows up
in the measured reply latency instead of hiding in it.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voicetrainer import get_logger
from voicetrainer.asr import Transcriber
from voicetrainer.audio.frames import Frame
from voicetrainer.audio.playback import CallerTrack
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, Settings
from voicetrainer.report.schema import Report, Word
from voicetrainer.session.analyzer import CallAnalyzer
from voicetrainer.session.pipeline import VoiceStats
from voicetrainer.stream.turns import EventKind, VoiceState

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
SPECULATE_AFTER_S = 0.12  # transcribe 120 ms into a pause: the turn may be over
# a hypothesis whose audio stops this close to the end of speech has heard the turn: a VAD
# blip after the pause began (a breath, a click) moves the end by a frame or two, not the words
TAIL_TOLERANCE_S = 0.05
UPDATE_S = 1.0  # while the trainee speaks, re-transcribe the growing buffer this often
EDGE_S = 0.4  # words ending this close to the buffer's growing edge are never committed
REPLY_PAUSE_S = 0.05  # extra breath before the caller answers


class CallerMind(Protocol):
    """What the live runner needs from the dialog engine (voicetrainer.persona.dialog)."""

    def opening(self) -> Any: ...
    def respond(self, obs: Any) -> Any: ...
    def on_interrupted(self, t_s: float) -> Any: ...


@dataclass
class LiveUpdate:
    """A snapshot for the live view (terminal or web), a few times per second."""

    t_s: float
    mood: float | None
    caller_speaking: bool
    trainee_speaking: bool
    trainee_level_dbfs: float
    trainee_pitch_hz: float | None
    baseline: dict | None
    wpm: float | None
    captions: list[dict]
    nudge: str | None
    ended: bool = False


@dataclass
class LiveOptions:
    """
    Attributes:
        silence_check_s: every this many seconds of dead air, the persona is asked whether it
            reacts (its patience sets how long it waits).
        turn_end_silence_s: silence that ends the trainee's turn (the speech segment itself ends
            after the shorter hysteresis of TurnConfig.min_silence_ms, as offline).
        max_call_s: hard stop.
        realtime: True when frames come from a real-time source (mic or paced simulation).
        end_grace_s: after the final caller line, how long to keep recording.
    """

    silence_check_s: float = 2.0  # how often dead air is offered to the persona (it has its own threshold)
    max_call_s: float = 300.0
    realtime: bool = True
    end_grace_s: float = 1.0
    first_line_delay_s: float = 0.5
    turn_end_silence_s: float = 0.6  # silence after speech that ends the trainee's turn


@dataclass
class _TurnAsr:
    """Incremental transcription of the trainee's current turn (local agreement).

    The buffer from `buf_start_s` is re-transcribed about every second while the trainee
    speaks; words on which two consecutive hypotheses agree, and that are not at the growing
    edge, are committed and the buffer is cut between words. When the turn ends only the
    uncommitted tail is left to transcribe.

    Two lanes, so the end of a turn never queues behind a caption update: `caption` jobs
    (while the trainee speaks) run on the caption recogniser, `final` jobs (speculative at a
    pause, or the tail at the end of the turn) on the main one. A result older than the
    hypothesis already held is dropped.
    """

    buf_start_s: float = 0.0
    committed: list[Word] = field(default_factory=list)
    hypothesis: list[Word] = field(default_factory=list)  # latest, uncommitted part
    hyp_end_s: float = 0.0  # audio end of the job that produced `hypothesis`
    final: tuple[float, float, cf.Future] | None = None  # (start_s, end_s, future)
    caption: tuple[float, float, cf.Future] | None = None
    last_submit_s: float = -1.0

    @property
    def words(self) -> list[Word]:
        return self.committed + self.hypothesis


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class LiveSession:
    """One practice call. Build it, then ``run(frames)``; returns the `Report`.

    Args:
        mind: the caller's dialog engine.
        voice: ``f(line) -> np.ndarray`` 16 kHz mono audio of a caller line (from the TTS cache).
        player: plays caller audio (`Player`, or `NullPlayer` for accelerated simulation).
        recorder: durable session recorder (`SessionRecorder`) or None.
        transcriber: ASR backend for the trainee: the end of each turn (speculative and tail).
        caption_transcriber: ASR backend for the running captions while the trainee speaks
            (default: `transcriber`). A recogniser on fewer threads leaves the other core free,
            so a pause that comes while a caption update runs is still transcribed at once.
        now_s: ``f(frame_index) -> session seconds now`` (real-time: audio captured so far).
        on_update: called with a `LiveUpdate` a few times per second.
        baseline: the trainee's stored voice baseline (for the live band and the mood).
    """

    def __init__(
        self, *, mind: CallerMind, voice: Callable[[Any], np.ndarray], player, recorder,
        transcriber: Transcriber | None, settings: Settings = Settings(), options: LiveOptions = LiveOptions(),
        now_s: Callable[[int], float] | None = None, on_update: Callable[[LiveUpdate], None] | None = None,
        baseline: VoiceStats | None = None, caption_transcriber: Transcriber | None = None,
    ):
        self.mind = mind
        self.voice = voice
        self.player = player
        self.recorder = recorder
        self.transcriber = transcriber
        self.caption_transcriber = caption_transcriber or transcriber
        self.settings = settings
        self.options = options
        self._now = now_s or (lambda index: (index + 1) * FRAME_S)
        self.on_update = on_update
        self.baseline = baseline
        self.track = CallerTrack()
        self.analyzer = CallAnalyzer(settings, {"caller": 0, "trainee": 1}, transcriber=None)
        self._asr_pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-asr") if transcriber else None
        self._caption_pool = (
            cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-captions") if transcriber else None
        )
        self._turn = _TurnAsr()
        self._pause_from_s: float | None = None  # the trainee went quiet here (this turn)
        self._speculated_pause_s: float | None = None  # the pause already transcribed speculatively
        self._queued: list[tuple[float, Any, np.ndarray, float | None]] = []  # (at_s, line, audio, reply_to_s)
        self.trainee_words: list[Word] = []
        self.reply_latencies: list[float] = []
        self.barge_in_latencies: list[float] = []
        self.caller_lines: list[dict] = []
        self.events: list[dict] = []
        self.captions: list[dict] = []
        self.mood: float | None = None
        self._awaiting_reply_since: float | None = None  # trainee turn ended, caller not yet answered
        self._pending_obs: dict | None = None
        self._last_activity_s = 0.0
        self._silence_from_s = 0.0  # when the current dead air began
        self._end_at_s: float | None = None
        self._nudge: str | None = None
        self._nudge_until = 0.0
        self._turn_start_s: float | None = None
        self._turn_end_candidate: float | None = None
        self._interrupted_in_turn = False
        self.aborted: str | None = None
        self._stop_requested = threading.Event()  # set from another thread (web "End call")
        self._stop_reason = "ended by the trainee"
        self._tail_compute_s = 0.0  # seconds spent finishing the last turn's transcript
        self._reply_compute_s = 0.0  # seconds the dialog engine took for the last reply

    # ------------------------------------------------------------------ the loop
    def run(self, frames: Iterable[Frame]) -> dict:
        """Drive the call until it ends; returns what the report needs (see `finish`)."""
        self._say(self.mind.opening(), at_s=self.options.first_line_delay_s)
        try:
            for frame in frames:
                if self._step(frame):
                    break
        except KeyboardInterrupt:
            self.aborted = "ended by the trainee (Ctrl-C)"
            log.info("call ended with Ctrl-C; keeping everything recorded")
        return self.finish()

    def request_stop(self, reason: str = "ended by the trainee") -> None:
        """Ask the call to end (thread-safe): the loop stops at its next frame and everything
        recorded so far is kept and graded, as with Ctrl-C."""
        self._stop_reason = reason
        self._stop_requested.set()

    def _now_s(self, index: int) -> float:
        """Session time now. Real time: audio captured so far. Accelerated: the frame's end
        (compute time never moves the simulated clock, so replays are deterministic)."""
        return self._now(index) if self.options.realtime else (index + 1) * FRAME_S

    def _step(self, frame: Frame) -> bool:
        k = frame.index
        if self._stop_requested.is_set():
            self.aborted = self._stop_reason
            self._emit({"type": "end", "t_s": round(frame.start_s, 3), "reason": self._stop_reason})
            return True
        t = frame.start_s
        self._release(k)
        caller = self.track.read(k)
        mic = frame.channel(0)
        both = np.empty((FRAME_SAMPLES, 2), dtype=np.float32)
        both[:, 0] = caller
        both[:, 1] = mic
        if self.recorder is not None:
            self.recorder.write(both)
        events = self.analyzer.push(Frame(both, t, k))
        trainee_ch = self.analyzer.channels["trainee"]
        for ev in events:
            if ev.speaker != "trainee":
                continue
            if ev.kind is EventKind.SPEECH_START:
                self._last_activity_s = ev.t_s
                self._turn_end_candidate = None  # a pause, not the end of the turn
                if self._turn_start_s is None:
                    self._turn_start_s = ev.t_s
                    # first caption update a second into the turn, not at its first syllable
                    self._turn = _TurnAsr(buf_start_s=max(0.0, ev.t_s - 0.2), last_submit_s=ev.t_s)
                if self.track.active(ev.t_s) or self.track.active(self._now_s(k)):
                    self._barge_in(ev, k)
            elif ev.kind is EventKind.SPEECH_END:
                self._last_activity_s = ev.t_s
                self._turn_end_candidate = ev.t_s
        if (
            self._turn_end_candidate is not None and not trainee_ch.tracker.speaking
            and t + FRAME_S >= self._turn_end_candidate + self.options.turn_end_silence_s
        ):
            end_s, self._turn_end_candidate = self._turn_end_candidate, None
            self._end_of_trainee_speech(end_s, k)
        self._incremental_asr(trainee_ch, k)
        caller_active = self.track.active(t)
        if caller_active or trainee_ch.tracker.speaking:
            self._last_activity_s = t
            self._silence_from_s = t
        # a finished trainee turn waits until the caller line it talked over has ended
        if self._pending_obs is not None and not caller_active and not trainee_ch.tracker.speaking:
            obs, self._pending_obs = self._pending_obs, None
            self._reply(obs, k)
        # dead air after the caller stopped
        if (
            not caller_active and not trainee_ch.tracker.speaking and self._pending_obs is None
            and self._end_at_s is None and self._turn_start_s is None and not self._queued
            and t - self._last_activity_s >= self.options.silence_check_s
        ):
            self._last_activity_s = t
            self._on_silence(t - self._silence_from_s, t, k)
        # an angry caller may cut into a long trainee answer
        if k % 25 == 0 and self._turn_start_s is not None and trainee_ch.tracker.speaking and not caller_active:
            self._caller_barges_in(t - self._turn_start_s, k)
        if k % 10 == 0:
            self._update(k, trainee_ch)
        if self._end_at_s is not None and t >= self._end_at_s:
            return True
        if t >= self.options.max_call_s:
            self._emit({"type": "end", "t_s": round(t, 3), "reason": "time limit"})
            return True
        return False

    def _emit(self, event: dict) -> None:
        """Keep an event and write it to the session's events log at once."""
        self.events.append(event)
        if self.recorder is not None:
            self.recorder.event(event)

    # ------------------------------------------------------------------ trainee speech
    def _incremental_asr(self, ch, k: int) -> None:
        if self._asr_pool is None or self._turn_start_s is None:
            return
        turn = self._turn
        self._poll(wait=not self.options.realtime)  # accelerated: each job finishes "instantly"
        t_end = (k + 1) * FRAME_S
        st = ch.tracker.state
        if st is VoiceState.SPEAKING or st is VoiceState.STARTING:
            self._pause_from_s = None
        elif self._pause_from_s is None:
            self._pause_from_s = t_end - FRAME_S
        # speculate once per pause, without waiting for a caption update that is running: when
        # the pause turns out to end the turn, its text is (nearly always) ready at once
        at_pause = (
            self._pause_from_s is not None and self._speculated_pause_s != self._pause_from_s
            and t_end - self._pause_from_s >= SPECULATE_AFTER_S - FRAME_S / 2
        )
        if at_pause and turn.final is None and t_end - turn.buf_start_s >= 0.5:
            self._submit(ch, t_end)
            self._speculated_pause_s = self._pause_from_s
            return
        due = st is VoiceState.SPEAKING and t_end - turn.last_submit_s >= UPDATE_S
        if due and turn.caption is None and turn.final is None and t_end - turn.buf_start_s >= 0.5:
            self._submit(ch, t_end, caption=True)

    def _submit(self, ch, end_s: float, *, caption: bool = False) -> None:
        turn = self._turn
        start = max(turn.buf_start_s - 0.1, ch.ring.start_s)
        end = min(end_s, ch.ring.end_s)
        if end - start < 0.2:
            return
        audio = ch.ring.read(start, end)
        if caption:
            fut = self._caption_pool.submit(self.caption_transcriber.transcribe, audio, offset_s=start)
            turn.caption = (start, end, fut)
        else:
            turn.final = (start, end, self._asr_pool.submit(self.transcriber.transcribe, audio, offset_s=start))
        turn.last_submit_s = end

    def _poll(self, *, wait: bool, captions: bool = True) -> None:
        """Apply finished jobs, oldest audio first. `wait`: block on the final lane (and on the
        caption lane too when `captions`)."""
        turn = self._turn
        done = []
        for lane in ("caption", "final"):
            job = getattr(turn, lane)
            if job is None:
                continue
            block = wait and (lane == "final" or captions)
            if not block and not job[2].done():
                continue
            setattr(turn, lane, None)
            done.append(job)
        for start, end, fut in sorted(done, key=lambda j: j[1]):
            self._apply(start, end, fut)

    def _apply(self, start: float, end: float, fut: cf.Future) -> None:
        turn = self._turn
        if end <= turn.hyp_end_s:
            return  # a caption update overtaken by a later (speculative) result
        try:
            tr = fut.result()
        except Exception as e:  # one failed chunk: mark it, go on
            log.warning("speech recognition failed on a live chunk: %s", e)
            self._emit({"type": "asr_error", "t_s": round(start, 3), "error": f"{type(e).__name__}: {e}"})
            return
        cut = turn.buf_start_s
        hyp = [w for w in tr.words if w.start_s >= cut - 0.08 and (w.start_s + w.end_s) / 2 >= cut]
        last = turn.committed[-1] if turn.committed else None
        if hyp and last is not None and _norm(hyp[0].word) and (
            _norm(last.word).endswith(_norm(hyp[0].word)) and hyp[0].start_s - last.end_s < 0.3
        ):
            hyp = hyp[1:]  # the tail of the last committed word, heard again after the cut
        prev = turn.hypothesis
        agree = 0
        while agree < min(len(prev), len(hyp)) and _norm(prev[agree].word) == _norm(hyp[agree].word):
            agree += 1
        commit = [w for w in hyp[:agree] if w.end_s <= end - EDGE_S]
        if commit:
            turn.committed.extend(commit)
            rest = hyp[len(commit):]
            nxt = rest[0].start_s if rest else commit[-1].end_s + 0.05
            turn.buf_start_s = (commit[-1].end_s + nxt) / 2
            hyp = rest
        turn.hypothesis = hyp
        turn.hyp_end_s = end

    def _end_of_trainee_speech(self, end_s: float, k: int) -> None:
        """A trainee speech segment ended (after the hysteresis); finish its text, then reply."""
        t0 = time.perf_counter()
        ch = self.analyzer.channels["trainee"]
        turn = self._turn
        if self._asr_pool is not None:
            # accelerated: wait for everything in order (deterministic). Real time: take what
            # is done, never wait for a caption update (captions run only while the trainee
            # speaks, so they cannot cover the end), wait for the speculative job only when the
            # text so far has not heard the end, and transcribe the tail only if it still has not
            self._poll(wait=not self.options.realtime)
            if turn.hyp_end_s < end_s - TAIL_TOLERANCE_S and turn.final is not None:
                self._poll(wait=True, captions=False)
            if turn.hyp_end_s < end_s - TAIL_TOLERANCE_S:
                self._submit(ch, min(end_s + 0.25, ch.ring.end_s))
                self._poll(wait=True, captions=False)
        self._tail_compute_s = time.perf_counter() - t0
        words = turn.words
        self.trainee_words.extend(words)
        text = " ".join(w.word for w in words)
        obs = self._observation(text=text, words=words, t_s=end_s)
        self.captions.append({"speaker": "trainee", "t_s": round(self._turn_start_s or end_s, 2), "text": text})
        self._emit({"type": "trainee_turn", "start_s": round(self._turn_start_s or end_s, 3),
                            "end_s": round(end_s, 3), "text": text})
        self._turn = _TurnAsr()
        self._turn_start_s = None
        self._awaiting_reply_since = end_s
        if self.track.active(self._now_s(k)):
            self._pending_obs = obs  # the caller talked on: answer when the line is over
        else:
            self._reply(obs, k)

    def _observation(self, *, text: str = "", words: list[Word] | None = None, t_s: float,
                     silence_s: float = 0.0) -> dict:
        ch = self.analyzer.channels["trainee"]
        interrupted = self._interrupted_in_turn
        self._interrupted_in_turn = False
        voice = None
        if ch.segments:
            voice = ch.segments[-1].voice.stats()
        pitch_rise = loud_rise = None
        if voice and self.baseline and voice.voiced_frames and self.baseline.voiced_frames:
            pitch_rise = 12 * math.log2(voice.pitch_median_hz / self.baseline.pitch_median_hz)
            loud_rise = voice.loudness_dbfs - self.baseline.loudness_dbfs
        wpm = None
        if words and len(words) >= 2 and words[-1].end_s > words[0].start_s:
            wpm = len(words) / (words[-1].end_s - words[0].start_s) * 60
        return {"text": text, "words": words or [], "t_s": t_s, "interrupted_caller": interrupted,
                "silence_s": silence_s, "pitch_rise_semitones": pitch_rise, "loudness_rise_db": loud_rise,
                "wpm": wpm}

    # ------------------------------------------------------------------ caller
    def _barge_in(self, ev, k: int) -> None:
        detected = self._now_s(k)
        self.barge_in_latencies.append(max(0.0, detected - ev.t_s))
        self._interrupted_in_turn = True
        self._emit({"type": "barge_in", "t_s": round(ev.t_s, 3), "detected_s": round(detected, 3)})
        self._set_nudge("let them finish", detected)
        if self._end_at_s is not None:
            return
        line = self.mind.on_interrupted(ev.t_s)
        if line is None:
            self._emit({"type": "caller_talks_on", "t_s": round(detected, 3)})
            return
        cut = self.track.cut(detected)
        self.player.stop()
        for ln in self.caller_lines:
            if ln["end_s"] > detected:
                ln["end_s"] = round(cut if cut is not None else detected, 3)
                ln["cut"] = True
                self._emit({"type": "caller_line_cut", "start_s": ln["start_s"], "end_s": ln["end_s"]})
        self._say(line, at_s=detected + 0.15, k=k)

    def _on_silence(self, silence_s: float, t_s: float, k: int) -> None:
        if self._end_at_s is not None:
            return
        react = getattr(self.mind, "on_silence", None)
        if react is None:
            line = self.mind.respond(_as_observation(self._observation(silence_s=silence_s, t_s=t_s)))
        else:
            line = react(silence_s, t_s)
        if line is not None:
            self._emit({"type": "silence", "t_s": round(t_s, 3), "silence_s": round(silence_s, 2)})
            self._say(line, at_s=self._now_s(k) + REPLY_PAUSE_S, k=k)

    def _caller_barges_in(self, talk_s: float, k: int) -> None:
        if self._end_at_s is not None or not hasattr(self.mind, "maybe_barge_in"):
            return
        line = self.mind.maybe_barge_in(talk_s, self._now_s(k))
        if line is not None:
            self._emit({"type": "caller_barge_in", "t_s": round(self._now_s(k), 3)})
            self._say(line, at_s=self._now_s(k) + REPLY_PAUSE_S, k=k)

    def _reply(self, obs: dict, k: int) -> None:
        t0 = time.perf_counter()
        if self._end_at_s is not None:
            return  # the caller has said their last line
        line = self.mind.respond(_as_observation(obs))
        self._reply_compute_s = time.perf_counter() - t0
        now = self._now_s(k)
        reply_to = self._awaiting_reply_since if obs.get("text") else None
        self._say(line, at_s=now + REPLY_PAUSE_S, k=k, reply_to_s=reply_to)
        self._awaiting_reply_since = None

    def _say(self, line, *, at_s: float, k: int | None = None, reply_to_s: float | None = None) -> None:
        """Queue a caller line to start at session time `at_s` (released by `_release`)."""
        if line is None:
            return
        for entry in getattr(line, "decisions", None) or []:
            if dataclasses.is_dataclass(entry):
                entry = dataclasses.asdict(entry)
            elif not isinstance(entry, dict):
                entry = {"reason": str(entry)}
            self._emit({"type": "decision", **entry})
            if entry.get("mood_after") is not None and entry.get("mood_after") != entry.get("mood_before"):
                self._emit({"type": "mood", "t_s": entry.get("t_s"), "mood": entry["mood_after"],
                            "reason": entry.get("reason", "")})
        self.mood = getattr(line, "mood", self.mood)
        text = getattr(line, "text", "")
        audio = self.voice(line) if text else np.zeros(0, dtype=np.float32)
        if text and not len(audio):  # synthesis failed (already retried): the call goes on
            self._emit({"type": "tts_skipped", "t_s": round(at_s, 3), "text": text})
        self._queued.append((at_s, line, audio, reply_to_s))
        if getattr(line, "ends_call", False):
            self._end_at_s = math.inf  # no more reactions; the real end is set on release

    def _release(self, k: int) -> None:
        """Start queued lines whose time has come: play now, and place them on the caller track
        where the trainee will hear them (now + output latency), so the recording is aligned."""
        now = self._now_s(k)
        due = [q for q in self._queued if q[0] <= now + FRAME_S / 2]
        if not due:
            return
        self._queued = [q for q in self._queued if q[0] > now + FRAME_S / 2]
        for _, line, audio, reply_to_s in due:
            start_s = max(now, (k + 1) * FRAME_S) + getattr(self.player, "latency_s", 0.0)
            start, end = self.track.add(audio, start_s, {"text": getattr(line, "text", "")})
            if len(audio):
                self.player.play(audio)
            text = getattr(line, "text", "")
            entry = {"type": "caller_line", "start_s": round(start, 3), "end_s": round(end, 3), "text": text,
                     "situation": getattr(line, "situation", None), "mood": getattr(line, "mood", None)}
            self.caller_lines.append(entry)
            self._emit(entry)
            self.captions.append({"speaker": "caller", "t_s": round(start, 2), "text": text})
            if reply_to_s is not None:
                extra = 0.0 if self.options.realtime else self._tail_compute_s + self._reply_compute_s
                self.reply_latencies.append(start - reply_to_s + extra)
            if getattr(line, "ends_call", False):
                self._end_at_s = end + self.options.end_grace_s
                self._emit({"type": "end", "t_s": round(end, 3), "reason": getattr(line, "situation", "end")})

    # ------------------------------------------------------------------ view
    def _set_nudge(self, text: str, now: float, hold_s: float = 4.0) -> None:
        if self._nudge is None or now >= self._nudge_until:
            self._nudge, self._nudge_until = text, now + hold_s

    def _update(self, k: int, ch) -> None:
        now = self._now_s(k)
        if self._nudge and now >= self._nudge_until:
            self._nudge = None
        level = ch.last_level_dbfs
        pitch = ch.last_pitch_hz if not math.isnan(ch.last_pitch_hz) else None
        if self.baseline and ch.tracker.speaking and self.baseline.voiced_frames:
            if pitch and pitch > self.baseline.pitch_median_hz * 2 ** (3 / 12):
                self._set_nudge("lower your voice, breathe", now)
            elif level > self.baseline.loudness_dbfs + 6:
                self._set_nudge("a little softer", now)
        recent = [w for w in self._turn.words if w.end_s >= now - 10]
        wpm = None
        if len(recent) >= 4 and recent[-1].end_s > recent[0].start_s:
            wpm = len(recent) / (recent[-1].end_s - recent[0].start_s) * 60
            if wpm > 175:
                self._set_nudge("slow down", now)
        if self.on_update:
            self.on_update(LiveUpdate(
                t_s=now, mood=self.mood, caller_speaking=self.track.active(k * FRAME_S),
                trainee_speaking=ch.tracker.speaking, trainee_level_dbfs=level, trainee_pitch_hz=pitch,
                baseline=self.baseline.to_dict() if self.baseline else None, wpm=wpm,
                captions=self.captions[-6:], nudge=self._nudge,
            ))

    # ------------------------------------------------------------------ end
    def finish(self) -> dict:
        if self._asr_pool is not None:
            self._poll(wait=True)
            self._asr_pool.shutdown(wait=True)
            self._caption_pool.shutdown(wait=True)
            if self._turn_start_s is not None:  # a turn cut off by the end of the call
                self.trainee_words.extend(self._turn.words)
        result = self.analyzer.finish()
        result.words["trainee"] = sorted(self.trainee_words, key=lambda w: w.start_s)
        latency = {
            "reply_p50_s": _pct(self.reply_latencies, 50),
            "reply_p95_s": _pct(self.reply_latencies, 95),
            "barge_in_p50_s": _pct(self.barge_in_latencies, 50),
            "barge_in_p95_s": _pct(self.barge_in_latencies, 95),
            "replies": len(self.reply_latencies),
            "barge_ins": len(self.barge_in_latencies),
            "clock": "real time" if self.options.realtime else "simulated clock + measured transcription compute",
        }
        if self.on_update:
            self.on_update(LiveUpdate(self._now_s(self.analyzer.frames), self.mood, False, False, -120.0, None,
                                      None, None, self.captions[-6:], None, ended=True))
        return {"result": result, "latency": latency, "events": self.events, "caller_lines": self.caller_lines,
                "aborted": self.aborted}


def _as_observation(obs: dict):
    """Convert the runner's observation dict into the dialog engine's observation type."""
    try:
        from voicetrainer.persona.dialog import TraineeObservation
    except ImportError:
        return obs
    import dataclasses

    names = {f.name for f in dataclasses.fields(TraineeObservation)}
    return TraineeObservation(**{k: v for k, v in obs.items() if k in names})
