"""Live practice: the caller plays on the headset while the microphone streams through the
same analysis pipeline the offline grader uses. The only module family with threads and queues.

`LiveSession` is wiring. Per 20 ms microphone frame, on the consumer thread:

    caller track frame + mic frame -> recorder (durable) -> CallAnalyzer (VAD, turns, voice)
      trainee speaks / pauses -> TurnRecognizer on the one AsrStage (incremental policy):
                                 captions, and a speculative decode of the whole turn at a pause
      trainee's turn ends     -> the whole turn's text -> caller's mind -> CallerVoice -> player
      trainee barges in while the caller speaks -> persona reaction (stop, or talk on)
      long trainee silence    -> the persona's silence line
      a few times a second    -> Nudges + LiveUpdate for the view

Session time is the microphone's sample clock. "Now" is how much audio the microphone has
captured (injected `now_s`), so work that blocks the loop (waiting for a turn's text) shows up
in the measured reply latency instead of hiding in it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from voicetrainer import get_logger
from voicetrainer.asr.stage import AsrStage, IncrementalPolicy
from voicetrainer.asr.turn import TurnRecognizer
from voicetrainer.asr.whisper import Transcriber
from voicetrainer.audio.frames import Frame
from voicetrainer.audio.playback import CallerTrack
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, Settings
from voicetrainer.rules import RULES, Rules
from voicetrainer.session.analyzer import CallAnalyzer
from voicetrainer.session.caller_voice import CallerVoice
from voicetrainer.session.live_types import CallerMind, LiveLatency, LiveOptions, LiveResult, LiveUpdate
from voicetrainer.session.nudges import Nudges
from voicetrainer.session.observe import observation, turn_rising_end, turn_voice, words_per_minute
from voicetrainer.stream.turns import EventKind, VoiceState
from voicetrainer.types import VoiceStats, Word

__all__ = ["CallerMind", "LiveOptions", "LiveResult", "LiveSession", "LiveUpdate"]

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s
REPLY_PAUSE_S = 0.05  # extra breath before the caller answers
BARGE_IN_CHECK_FRAMES = 25  # every 0.5 s the caller may cut into a long trainee answer
VIEW_EVERY_FRAMES = 10  # the live view is updated every 0.2 s


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class LiveSession:
    """One practice call. Build it, then ``run(frames)``; returns a `LiveResult`.

    Args:
        mind: the caller's dialog engine.
        voice: ``f(line) -> np.ndarray`` 16 kHz mono audio of a caller line (from the TTS cache).
        player: plays caller audio (`Player`, or `NullPlayer` for accelerated simulation).
        recorder: durable session recorder (`SessionRecorder`) or None.
        transcriber: ASR backend for the trainee: decides each turn's text.
        caption_transcriber: ASR backend for the running captions while the trainee speaks
            (default: `transcriber`). A recogniser on fewer threads leaves the other core free,
            so a pause that comes while a caption update runs is still decoded at once.
        now_s: ``f(frame_index) -> session seconds now`` (real-time: audio captured so far).
        on_update: called with a `LiveUpdate` a few times per second.
        baseline: the trainee's stored voice baseline (for the live band and the mood).
        rules: the shared thresholds (nudges).
    """

    def __init__(
        self, *, mind: CallerMind, voice: Callable[[Any], np.ndarray], player, recorder,
        transcriber: Transcriber | None, settings: Settings = Settings(), options: LiveOptions = LiveOptions(),
        now_s: Callable[[int], float] | None = None, on_update: Callable[[LiveUpdate], None] | None = None,
        baseline: VoiceStats | None = None, caption_transcriber: Transcriber | None = None,
        rules: Rules = RULES,
    ):
        self.mind = mind
        self.player = player
        self.recorder = recorder
        self.settings = settings
        self.options = options
        self._now = now_s or (lambda index: (index + 1) * FRAME_S)
        self.on_update = on_update
        self.baseline = baseline
        self.track = CallerTrack()
        self.analyzer = CallAnalyzer(settings, {"caller": 0, "trainee": 1}, transcriber=None)
        self.events: list[dict] = []
        self.captions: list[dict] = []
        self.caller = CallerVoice(voice=voice, player=player, track=self.track, emit=self._emit, caption=self._caption)
        self.nudges = Nudges(rules, baseline)
        self.asr: AsrStage | None = None
        self.turn_asr: TurnRecognizer | None = None
        if transcriber is not None:  # the one ASR stage, on the incremental policy
            self.asr = AsrStage(transcriber, IncrementalPolicy(wait=not options.realtime),
                                caption_transcriber=caption_transcriber)
            self.turn_asr = TurnRecognizer(self.asr, self.analyzer.channels["trainee"].ring)
        self.trainee_words: list[Word] = []
        self.barge_in_latencies: list[float] = []
        self.aborted: str | None = None
        self._stop_requested = threading.Event()  # set from another thread (web "End call")
        self._stop_reason = "ended by the trainee"
        # the trainee's turn and the conversation state around it
        self._turn_start_s: float | None = None
        self._turn_end_candidate: float | None = None
        self._interrupted_in_turn = False
        self._awaiting_reply_since: float | None = None  # trainee turn ended, caller not yet answered
        self._pending_obs = None  # a finished turn waiting for the caller line it talked over
        self._last_activity_s = 0.0
        self._silence_from_s = 0.0  # when the current dead air began
        self._compute_s = 0.0  # simulated clock: turn text + reply compute of the last reply

    # ------------------------------------------------------------------ the loop
    def run(self, frames: Iterable[Frame]) -> LiveResult:
        """Drive the call until it ends; returns what the report needs."""
        self.caller.say(self.mind.opening(), at_s=self.options.first_line_delay_s)
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

    @property
    def mood(self) -> float | None:
        return self.caller.mood

    @property
    def caller_lines(self) -> list[dict]:
        return self.caller.lines

    @property
    def reply_latencies(self) -> list[float]:
        """Seconds from when the caller could answer to the start of each answer (scripts/bench.py)."""
        return self.caller.reply_latencies

    def _now_s(self, index: int) -> float:
        """Session time now. Real time: audio captured so far. Accelerated: the frame's end
        (compute time never moves the simulated clock, so replays are deterministic)."""
        return self._now(index) if self.options.realtime else (index + 1) * FRAME_S

    def _step(self, frame: Frame) -> bool:
        k, t = frame.index, frame.start_s
        if self._stop_requested.is_set():
            self.aborted = self._stop_reason
            self._emit({"type": "end", "t_s": round(t, 3), "reason": self._stop_reason})
            return True
        self.caller.release(self._now_s(k), (k + 1) * FRAME_S, end_grace_s=self.options.end_grace_s,
                            extra_latency_s=0.0 if self.options.realtime else self._compute_s)
        both = np.empty((FRAME_SAMPLES, 2), dtype=np.float32)
        both[:, 0] = self.track.read(k)
        both[:, 1] = frame.channel(0)
        if self.recorder is not None:
            self.recorder.write(both)
        ch = self.analyzer.channels["trainee"]
        for ev in self.analyzer.push(Frame(both, t, k)):
            if ev.speaker == "trainee":
                self._on_trainee_event(ev, k)
        speaking = ch.tracker.speaking
        if (self._turn_end_candidate is not None and not speaking
                and t + FRAME_S >= self._turn_end_candidate + self.options.turn_end_silence_s):
            end_s, self._turn_end_candidate = self._turn_end_candidate, None
            self._end_of_turn(end_s, k)
        if self.turn_asr is not None:
            state = ch.tracker.state
            self.turn_asr.step((k + 1) * FRAME_S, speaking=state is VoiceState.SPEAKING or state is VoiceState.STARTING)
        caller_active = self.track.active(t)
        if caller_active or speaking:
            self._last_activity_s = self._silence_from_s = t
        # a finished trainee turn waits until the caller line it talked over has ended
        if self._pending_obs is not None and not caller_active and not speaking:
            obs, self._pending_obs = self._pending_obs, None
            if self._awaiting_reply_since is not None:  # the caller could answer from now on
                self._awaiting_reply_since = max(self._awaiting_reply_since, t)
            self._reply(obs, k)
        if (not caller_active and not speaking and self._pending_obs is None and not self.caller.finished
                and self._turn_start_s is None and not self.caller.pending
                and t - self._last_activity_s >= self.options.silence_check_s):
            self._last_activity_s = t
            self._on_silence(t - self._silence_from_s, t, k)
        if k % BARGE_IN_CHECK_FRAMES == 0 and self._turn_start_s is not None and speaking and not caller_active:
            self._caller_barges_in(t - self._turn_start_s, k)
        if k % VIEW_EVERY_FRAMES == 0:
            self._update(k, ch)
        if self.caller.end_at_s is not None and t >= self.caller.end_at_s:
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

    def _caption(self, speaker: str, t_s: float, text: str) -> None:
        self.captions.append({"speaker": speaker, "t_s": round(t_s, 2), "text": text})

    # ------------------------------------------------------------------ trainee
    def _on_trainee_event(self, ev, k: int) -> None:
        if ev.kind is EventKind.SPEECH_START:
            self._last_activity_s = ev.t_s
            self._turn_end_candidate = None  # a pause, not the end of the turn
            if self._turn_start_s is None:
                self._turn_start_s = ev.t_s
                if self.turn_asr is not None:
                    self.turn_asr.begin(ev.t_s)
            if self.track.active(ev.t_s) or self.track.active(self._now_s(k)):
                self._barge_in(ev, k)
        elif ev.kind is EventKind.SPEECH_END:
            self._last_activity_s = ev.t_s
            self._turn_end_candidate = ev.t_s

    def _end_of_turn(self, end_s: float, k: int) -> None:
        """The trainee's turn ended: its whole text (decoded over the whole turn), then reply."""
        start_s = self._turn_start_s if self._turn_start_s is not None else end_s
        words, text, wait_s, asr = [], "", 0.0, {}
        if self.turn_asr is not None:
            turn = self.turn_asr.end(end_s)
            words, text, wait_s = turn.words, turn.text, turn.wait_s
            # how the text was decided: at the pause (speculative) or after it; seconds waited
            asr = {"speculative": turn.speculative, "asr_wait_s": round(wait_s, 3),
                   "decided_s": round(self._now_s(k), 3)}
            self._asr_errors()
        self.trainee_words.extend(words)
        ch = self.analyzer.channels["trainee"]
        obs = observation(text=text, words=words, t_s=end_s, voice=turn_voice(ch.segments, start_s),
                          baseline=self.baseline, interrupted=self._interrupted_in_turn,
                          rising=turn_rising_end(ch.tracks, start_s, end_s))
        self._interrupted_in_turn = False
        self._caption("trainee", start_s, text)
        self._emit({"type": "trainee_turn", "start_s": round(start_s, 3), "end_s": round(end_s, 3), "text": text, **asr})
        self._turn_start_s = None
        self._awaiting_reply_since = end_s
        self._compute_s = wait_s
        if self.track.active(self._now_s(k)):
            self._pending_obs = obs  # the caller talked on: answer when the line is over
        else:
            self._reply(obs, k)

    def _asr_errors(self) -> None:
        for res in self.turn_asr.errors:
            log.warning("speech recognition failed on a live chunk: %s", res.error)
            self._emit({"type": "asr_error", "t_s": round(res.start_s, 3), "error": res.error})
        self.turn_asr.errors.clear()

    # ------------------------------------------------------------------ caller
    def _barge_in(self, ev, k: int) -> None:
        detected = self._now_s(k)
        self.barge_in_latencies.append(max(0.0, detected - ev.t_s))
        self._interrupted_in_turn = True
        self._emit({"type": "barge_in", "t_s": round(ev.t_s, 3), "detected_s": round(detected, 3)})
        self.nudges.set("let them finish", detected)
        if self.caller.finished:
            return
        line = self.mind.on_interrupted(ev.t_s)
        if line is None:
            self._emit({"type": "caller_talks_on", "t_s": round(detected, 3)})
            return
        self.caller.stop_for_barge_in(detected)
        self.caller.say(line, at_s=detected + 0.15)

    def _on_silence(self, silence_s: float, t_s: float, k: int) -> None:
        if self.caller.finished:
            return
        react = getattr(self.mind, "on_silence", None)
        if react is None:
            line = self.mind.respond(observation(silence_s=silence_s, t_s=t_s))
        else:
            line = react(silence_s, t_s)
        if line is not None:
            self._emit({"type": "silence", "t_s": round(t_s, 3), "silence_s": round(silence_s, 2)})
            self.caller.say(line, at_s=self._now_s(k) + REPLY_PAUSE_S)

    def _caller_barges_in(self, talk_s: float, k: int) -> None:
        if self.caller.finished or not hasattr(self.mind, "maybe_barge_in"):
            return
        line = self.mind.maybe_barge_in(talk_s, self._now_s(k))
        if line is not None:
            self._emit({"type": "caller_barge_in", "t_s": round(self._now_s(k), 3)})
            self.caller.say(line, at_s=self._now_s(k) + REPLY_PAUSE_S)

    def _reply(self, obs, k: int) -> None:
        if self.caller.finished:
            return  # the caller has said their last line
        t0 = time.perf_counter()
        line = self.mind.respond(obs)
        self._compute_s += time.perf_counter() - t0
        reply_to = self._awaiting_reply_since if obs.text else None
        self.caller.say(line, at_s=self._now_s(k) + REPLY_PAUSE_S, reply_to_s=reply_to)
        self._awaiting_reply_since = None

    # ------------------------------------------------------------------ view
    def _update(self, k: int, ch) -> None:
        now = self._now_s(k)
        level = ch.last_level_dbfs
        pitch = ch.last_pitch_hz if ch.last_pitch_hz == ch.last_pitch_hz else None  # NaN -> None
        if ch.tracker.speaking:
            self.nudges.voice(now, pitch_hz=pitch, level_dbfs=level)
        words = self.turn_asr.words if self.turn_asr is not None and self.turn_asr.active else []
        wpm = words_per_minute([w for w in words if w.end_s >= now - 10], min_words=4)
        self.nudges.pace(now, wpm)
        if self.on_update:
            self.on_update(LiveUpdate(
                t_s=now, mood=self.mood, caller_speaking=self.track.active(k * FRAME_S),
                trainee_speaking=ch.tracker.speaking, trainee_level_dbfs=level, trainee_pitch_hz=pitch,
                baseline=self.baseline.to_dict() if self.baseline else None, wpm=wpm,
                captions=self.captions[-6:], nudge=self.nudges.current(now),
            ))

    # ------------------------------------------------------------------ end
    def finish(self) -> LiveResult:
        if self.turn_asr is not None:
            if self._turn_start_s is not None:  # a turn cut off by the end of the call
                self.trainee_words.extend(self.turn_asr.abort())
            self.asr.close()
        result = self.analyzer.finish()
        result.words["trainee"] = sorted(self.trainee_words, key=lambda w: w.start_s)
        replies = self.caller.reply_latencies
        latency = LiveLatency(
            reply_p50_s=_pct(replies, 50), reply_p95_s=_pct(replies, 95),
            barge_in_p50_s=_pct(self.barge_in_latencies, 50), barge_in_p95_s=_pct(self.barge_in_latencies, 95),
            replies=len(replies), barge_ins=len(self.barge_in_latencies),
            clock="real time" if self.options.realtime else "simulated clock + measured transcription compute",
        )
        if self.on_update:
            self.on_update(LiveUpdate(self._now_s(self.analyzer.frames), self.mood, False, False, -120.0, None,
                                      None, None, self.captions[-6:], None, ended=True))
        return LiveResult(result=result, latency=latency, events=self.events, caller_lines=self.caller.lines,
                          aborted=self.aborted)
