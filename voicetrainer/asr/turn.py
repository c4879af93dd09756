"""The incremental policy for one live speaker: captions while they speak, a speculative decode
of the whole turn at every pause, and at the end of the turn the whole turn's text, decoded over
the whole turn.

Captions may be partial; decisions may not. The text the caller's mind receives is always one
recogniser pass over the turn's audio from its first word (Whisper sees every word with its
context, as the offline grader does), never words stitched from chunks cut mid-turn. A pause
starts that pass 0.12 s in (`SPECULATE_AFTER_S`): when the pause turns out to end the turn
(0.6 s of silence), the text is nearly always ready, so the caller answers at once. Only turns
longer than `LONG_TURN_S` are cut: the words before one of their pauses are decided at that
pause, so a decode never grows past Whisper's 30 s window or the audio ring.

    speech start -> begin(t)    each frame -> step(t_end, speaking)    turn end -> end(end_s)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from voicetrainer import get_logger
from voicetrainer.asr.stage import CAPTION, FINAL, AsrJob, AsrSpanResult, AsrStage
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.stream.ring import AudioRing
from voicetrainer.types import Word

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s
SPECULATE_AFTER_S = 0.12  # decode the turn 120 ms into a pause: the turn may be over
# a decode whose audio stops this close to the end of speech has heard the turn: a VAD blip
# after the pause began (a breath, a click) moves the end by a frame or two, not the words
TAIL_TOLERANCE_S = 0.05
UPDATE_S = 1.0  # captions: re-decode the growing turn this often while the trainee speaks
CAPTION_WINDOW_S = 4.0  # captions decode at most the last this many seconds of the turn (CPU for decisions)
PRE_ROLL_S = 0.2  # a turn's audio starts this long before its detected speech start
POST_ROLL_S = 0.25  # and the end-of-turn decode runs this long past the end of speech
LONG_TURN_S = 15.0  # a turn longer than this decides the words before each of its pauses
MAX_BUFFER_S = 24.0  # no pause for this long: decide the words up to EDGE_S before now
EDGE_S = 0.4  # words ending this close to the audio's growing edge are never decided


@dataclass
class TurnText:
    """The decided text of a finished turn.

    Attributes:
        words: timed words on the session clock.
        text: the words joined.
        wait_s: wall-clock seconds the end of the turn waited for recognition (0 when the
            speculative decode at the pause had heard the whole turn).
        speculative: the text came from the decode started at the pause.
    """

    words: list[Word]
    text: str
    wait_s: float = 0.0
    speculative: bool = False


@dataclass
class _Decode:
    """The newest FINAL result: words of [start_s, end_s) of the undecided part of the turn."""

    end_s: float = 0.0
    words: list[Word] = field(default_factory=list)


class TurnRecognizer:
    """Drives an `AsrStage` on the `IncrementalPolicy` for one speaker (see the module doc).

    Args:
        stage: the ASR stage (its FINAL lane decides, its CAPTION lane shows).
        ring: the speaker's audio ring (session clock).
        speaker: the speaker's name on the jobs.
    """

    def __init__(self, stage: AsrStage, ring: AudioRing, *, speaker: str = "trainee"):
        self.stage = stage
        self.ring = ring
        self.speaker = speaker
        self.active = False
        self._clear(0.0)
        self.errors: list[AsrSpanResult] = []  # failed jobs (the caller marks them in the events)

    def _clear(self, buf_start_s: float) -> None:
        self.buf_start_s = buf_start_s  # undecided audio starts here
        self.committed: list[Word] = []  # words decided before a pause of a long turn
        self._best = _Decode()
        self._caption = _Decode()
        self._kinds: dict[int, str] = {}  # FINAL job end (samples) -> "speculative" | "commit" | "final"
        self._pause_from_s: float | None = None
        self._speculated_pause_s: float | None = None
        self._last_caption_s = buf_start_s

    # ------------------------------------------------------------------ the turn
    def begin(self, t_s: float) -> None:
        """The speaker started a new turn at `t_s` (speech start)."""
        self.stage.reset()
        self._clear(max(0.0, t_s - PRE_ROLL_S))
        self._last_caption_s = t_s  # first caption a second into the turn, not at its first syllable
        self.active = True

    def step(self, t_end_s: float, *, speaking: bool) -> None:
        """Once per frame while the turn is open: apply finished decodes, start new ones."""
        if not self.active:
            return
        self._apply(self.stage.poll())
        if speaking:
            self._pause_from_s = None
        elif self._pause_from_s is None:
            self._pause_from_s = t_end_s - FRAME_S
        held_s = t_end_s - self.buf_start_s
        pause = self._pause_from_s
        if (pause is not None and self._speculated_pause_s != pause
                and t_end_s - pause >= SPECULATE_AFTER_S - FRAME_S / 2 and held_s >= 0.5):
            self._speculated_pause_s = pause
            self._submit(FINAL, self.buf_start_s, t_end_s, "speculative")
        elif speaking and held_s >= MAX_BUFFER_S and not self.stage.busy(FINAL):
            self._submit(FINAL, self.buf_start_s, t_end_s, "commit")
        elif (speaking and t_end_s - self._last_caption_s >= UPDATE_S and held_s >= 0.5
              and not self.stage.busy(CAPTION) and not self.stage.busy(FINAL)):
            self._last_caption_s = t_end_s
            self._submit(CAPTION, max(self.buf_start_s, t_end_s - CAPTION_WINDOW_S), t_end_s, "caption")

    def end(self, end_s: float) -> TurnText:
        """The turn ended (its speech ended at `end_s`): its whole text, decoded over the whole
        turn. Waits only when the decode started at the pause has not heard the end."""
        t0 = time.perf_counter()
        self._apply(self.stage.poll())
        speculative = self._covers(end_s)
        if not speculative and self.stage.busy(FINAL):
            self._apply(self.stage.poll(wait=True, lane=FINAL))
            speculative = self._covers(end_s)
        if not self._covers(end_s):
            self._submit(FINAL, self.buf_start_s, min(end_s + POST_ROLL_S, self.ring.end_s), "final")
            self._apply(self.stage.poll(wait=True, lane=FINAL))
        words = self.committed + self._best.words
        self.active = False
        self.stage.reset()
        return TurnText(words, " ".join(w.word for w in words), time.perf_counter() - t0, speculative)

    def abort(self) -> list[Word]:
        """The call ended inside the turn: every word heard so far (decided or not)."""
        if not self.active:
            return []
        self._apply(self.stage.flush())
        self.active = False
        return self.words

    @property
    def words(self) -> list[Word]:
        """The turn so far, for captions and the live pace: decided words, then the newest of
        the last decode and the last caption."""
        newest = self._best if self._best.end_s >= self._caption.end_s else self._caption
        return self.committed + newest.words

    # ------------------------------------------------------------------ internals
    def _covers(self, end_s: float) -> bool:
        return self._best.end_s >= end_s - TAIL_TOLERANCE_S

    def _submit(self, lane: str, start_s: float, end_s: float, kind: str) -> None:
        start = max(start_s - 0.1, self.ring.start_s)
        end = min(end_s, self.ring.end_s)
        if end - start < 0.2:
            return
        audio = self.ring.read(start, end)
        start = end - len(audio) / SAMPLE_RATE  # the job's own times, to the sample
        if lane == FINAL:
            self.stage.drop_queued(FINAL)  # a decode still waiting for an older pause is stale now
            self._kinds[_samples(end)] = kind
        self.stage.push(AsrJob(self.speaker, start, audio, lane=lane))

    def _apply(self, results: list[AsrSpanResult]) -> None:
        for res in results:
            if res.transcript is None:
                self.errors.append(res)
                continue
            cut = self.buf_start_s
            words = [w for w in res.transcript.words if (w.start_s + w.end_s) / 2 >= cut]
            if res.lane == CAPTION:
                if res.end_s > self._caption.end_s:
                    self._caption = _Decode(res.end_s, words)
                continue
            kind = self._kinds.pop(_samples(res.end_s), "final")
            if kind == "commit" or (kind == "speculative" and res.end_s - cut >= LONG_TURN_S):
                edge = EDGE_S if kind == "commit" else 0.0
                decided = [w for w in words if w.end_s <= res.end_s - edge]
                if decided:
                    rest = words[len(decided):]
                    self.committed.extend(decided)
                    nxt = rest[0].start_s if rest else min(decided[-1].end_s + 0.1, res.end_s)
                    self.buf_start_s = (decided[-1].end_s + nxt) / 2
                    self._best = _Decode(res.end_s, rest)
                    self._caption = _Decode()
                    continue
            if res.end_s >= self._best.end_s:
                self._best = _Decode(res.end_s, words)


def _samples(t_s: float) -> int:
    return int(round(t_s * SAMPLE_RATE))
