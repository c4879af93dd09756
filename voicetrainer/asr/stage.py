"""The ASR stage: one object between the streaming pipeline and the recogniser, used by the
offline grader and the live session alike.

    AsrJob (audio of speech, session times) --push--> AsrStage --poll/flush--> AsrSpanResult

It owns the worker threads, maps packed jobs back to the session clock, retries a failed packed
job piece by piece, and follows one of two policies:

- `PackedPolicy` (offline throughput): the pipeline packs finished speech into jobs of up to
  ~28 s (fuller Whisper windows); up to `workers` run at once and `push` waits for the oldest
  when more than `max_pending` are queued (bounded memory on a file read faster than it is
  transcribed).
- `IncrementalPolicy` (live): two lanes, each its own single worker, so the decision text of
  a turn never queues behind a caption update: FINAL jobs (speculative decodes at pauses, the
  whole turn at its end) and CAPTION jobs (the growing turn while the trainee speaks, on a
  recogniser with fewer threads). `voicetrainer.asr.turn.TurnRecognizer` drives it.

Protocol (as every streaming stage): ``push(job)``, ``poll()``, ``flush()``, ``reset()``.
"""

from __future__ import annotations

import bisect
import concurrent.futures as cf
import dataclasses
from dataclasses import dataclass

import numpy as np

from voicetrainer import get_logger
from voicetrainer.asr.whisper import Transcriber, Transcript
from voicetrainer.config import SAMPLE_RATE
from voicetrainer.types import Word

log = get_logger(__name__)

FINAL = "final"
RETRY_MIN_SPEECH_S = 0.5  # a stretch of packed speech this long is expected to carry a word
MAX_WORD_S = 0.6  # a recognised word counts as no longer than this (the coverage test)
RETRY_EDGE_S = 1.0  # ... and no more than this at its start or end without one (0.25 s of it is padding)
CAPTION = "caption"


@dataclass
class AsrJob:
    """Audio of finished speech for the ASR worker.

    A packed job (offline grading) holds several stretches of speech cut out of the call and
    joined with short silences, so one 30 s Whisper window carries up to ~28 s of speech instead
    of one short turn; `pieces` maps job time back to session time.

    Attributes:
        start_s: session time of audio[0] (of the first piece when packed).
        pieces: packed only: (offset in `audio` in seconds, session start in seconds, duration
            in seconds) per piece, in order; empty for a contiguous job.
        lane: which recogniser lane runs it (incremental policy); packed jobs are all FINAL.
    """

    speaker: str
    start_s: float  # session time of audio[0]
    audio: np.ndarray
    lane: str = FINAL  # incremental policy: FINAL (decisions) or CAPTION (running captions)
    pieces: tuple[tuple[float, float, float], ...] = ()

    @property
    def end_s(self) -> float:
        """Session time of the end of the (last piece of) audio."""
        if self.pieces:
            _, start, dur = self.pieces[-1]
            return start + dur
        return self.start_s + len(self.audio) / SAMPLE_RATE

    def to_session(self, words: list[Word]) -> list[Word]:
        """Words timed on a packed job's audio (offset 0) -> the same words on the session clock.

        Each word goes to the piece nearest its midpoint and is clamped into it.
        """
        if not self.pieces:
            return words
        offsets = [off for off, _, _ in self.pieces]
        out = []
        for w in words:
            mid = (w.start_s + w.end_s) / 2
            i = max(0, bisect.bisect_right(offsets, mid) - 1)
            off, start, dur = self.pieces[i]
            if i + 1 < len(self.pieces) and mid - (off + dur) > offsets[i + 1] - mid:
                off, start, dur = self.pieces[i + 1]
            a = start + min(max(w.start_s - off, 0.0), dur)
            b = start + min(max(w.end_s - off, 0.0), dur)
            out.append(Word(w.word, round(a, 3), round(max(a, b), 3), w.probability))
        return out


def pieces_missing_words(pieces, words: list[Word], *, min_s: float = RETRY_MIN_SPEECH_S,
                         edge_s: float = RETRY_EDGE_S) -> list[tuple[float, float, float]]:
    """The pieces (offset in the job, session start, duration; seconds) of a packed job that
    came back short: at least `min_s` long and without a word, or with more than `edge_s` of
    their start or end not covered by any word (`words` on the session clock)."""
    words = sorted(words, key=lambda w: w.start_s + w.end_s)
    mids = [(w.start_s + w.end_s) / 2 for w in words]
    out = []
    for piece in pieces:
        _, start, dur = piece
        i, j = bisect.bisect_left(mids, start - 0.05), bisect.bisect_right(mids, start + dur + 0.05)
        if i >= j:
            if dur >= min_s:
                out.append(piece)
            continue
        # a word's time stretches over speech Whisper did not decode ("be" 19.66-21.56 s when
        # the rest of the sentence was lost): no word counts as longer than MAX_WORD_S
        first, last = words[i], words[j - 1]
        head = max(first.start_s, first.end_s - MAX_WORD_S) - start
        tail = start + dur - min(last.end_s, last.start_s + MAX_WORD_S)
        if head > edge_s or tail > edge_s:
            out.append(piece)
    return out


@dataclass
class AsrSpanResult:
    """A finished job: its words on the session clock, or the error that stopped it."""

    speaker: str
    start_s: float
    end_s: float
    transcript: Transcript | None
    error: str | None = None
    lane: str = FINAL


@dataclass(frozen=True)
class PackedPolicy:
    """Offline throughput.

    Attributes:
        workers: jobs recognised at once (2: one per channel, each on ``cpu_threads`` threads;
            scripts/bench.py measured this as the fastest on 2 cores).
        max_pending: when more jobs than this are queued or running, `push` waits for the
            oldest; 0 = never wait.
    """

    workers: int = 2
    max_pending: int = 4


@dataclass(frozen=True)
class IncrementalPolicy:
    """Live captions and speculative decoding: a FINAL and a CAPTION lane, one worker each.

    Attributes:
        wait: accelerated replay (simulated clock): every job is waited for as soon as it is
            pushed, so a replay is deterministic and compute never moves the clock.
    """

    wait: bool = False


class AsrStage:
    """The ASR stage (see the module doc).

    Args:
        transcriber: the recogniser (FINAL lane, and every packed job).
        policy: `PackedPolicy` or `IncrementalPolicy`.
        caption_transcriber: incremental only: the recogniser of the CAPTION lane (default:
            `transcriber`).
    """

    def __init__(self, transcriber: Transcriber, policy: PackedPolicy | IncrementalPolicy = PackedPolicy(), *,
                 caption_transcriber: Transcriber | None = None):
        self.transcriber = transcriber
        self.policy = policy
        self._recognisers = {FINAL: transcriber, CAPTION: caption_transcriber or transcriber}
        if isinstance(policy, PackedPolicy):
            self._pools = {FINAL: cf.ThreadPoolExecutor(max_workers=max(1, policy.workers), thread_name_prefix="asr")}
        else:
            self._pools = {lane: cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"asr-{lane}")
                           for lane in (FINAL, CAPTION)}
        self._futures: list[tuple[AsrJob, cf.Future]] = []  # in push order
        self._done: list[AsrSpanResult] = []  # finished, not yet handed out

    # ------------------------------------------------------------------ protocol
    def push(self, job: AsrJob) -> None:
        """Start recognising `job` (packed policy: after waiting for the oldest jobs when more
        than `max_pending` are in flight)."""
        lane = job.lane if job.lane in self._pools else FINAL
        offset_s = 0.0 if job.pieces else job.start_s  # packed: words are mapped back in _result
        fut = self._pools[lane].submit(self._recognisers[lane].transcribe, job.audio, offset_s=offset_s)
        self._futures.append((job, fut))
        policy = self.policy
        if isinstance(policy, IncrementalPolicy):
            if policy.wait:
                fut.exception()  # wait, without raising: the error is reported by _result
            return
        if policy.max_pending > 0:
            self._collect(wait_for=None)  # finished jobs become results (their audio is freed)
            while len(self._futures) > policy.max_pending:
                job, fut = self._futures.pop(0)
                self._done.extend(self._result(job, fut))

    def drop_queued(self, lane: str = FINAL) -> int:
        """Cancel the jobs of `lane` that have not started (a newer job makes them stale);
        returns how many. A running job cannot be stopped and finishes."""
        keep, dropped = [], 0
        for job, fut in self._futures:
            if job.lane == lane and fut.cancel():
                dropped += 1
            else:
                keep.append((job, fut))
        self._futures = keep
        return dropped

    def busy(self, lane: str = FINAL) -> bool:
        """A job of `lane` is queued or running."""
        return any(j.lane == lane and not f.done() for j, f in self._futures)

    def poll(self, *, wait: bool = False, lane: str | None = None) -> list[AsrSpanResult]:
        """Results finished since the last poll, oldest audio first; `wait`: first wait for
        every job (of `lane`, when given)."""
        self._collect(wait_for=(lane or "*") if wait else None)
        out, self._done = self._done, []
        return sorted(out, key=lambda r: r.end_s)

    def flush(self) -> list[AsrSpanResult]:
        """Wait for every job; every result not yet handed out."""
        return self.poll(wait=True)

    def reset(self) -> None:
        """Forget queued jobs and unread results (a running job finishes; its result is dropped)."""
        for _, fut in self._futures:
            fut.cancel()
        self._futures, self._done = [], []

    def close(self, *, cancel: bool = False) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def __enter__(self) -> "AsrStage":
        return self

    def __exit__(self, *exc) -> None:
        self.close(cancel=exc[0] is not None)

    # ------------------------------------------------------------------ internals
    def _collect(self, *, wait_for: str | None) -> None:
        keep = []
        for job, fut in self._futures:
            if fut.done() or (wait_for is not None and wait_for in ("*", job.lane)):
                self._done.extend(self._result(job, fut))
            else:
                keep.append((job, fut))
        self._futures = keep

    def _result(self, job: AsrJob, fut: cf.Future) -> list[AsrSpanResult]:
        """The finished job as spans; a failed packed job is retried piece by piece, so one bad
        stretch of speech marks only its own turn."""
        try:
            transcript = fut.result()
        except cf.CancelledError:
            return []
        except Exception as e:  # one failed chunk marks its turn, never the session
            log.warning("speech recognition failed for %s %.1f-%.1f s: %s", job.speaker, job.start_s, job.end_s, e)
            if not job.pieces:
                return [AsrSpanResult(job.speaker, job.start_s, job.end_s, None, f"{type(e).__name__}: {e}", job.lane)]
            return [self._transcribe_piece(job, piece) for piece in job.pieces]
        if job.pieces and dataclasses.is_dataclass(transcript):
            transcript = dataclasses.replace(transcript, words=job.to_session(transcript.words))
            # no silent loss: Whisper may stop decoding a packed window early (a clean 10-minute
            # call lost three trainee turns that way); a stretch that came back short is retried
            # alone, and the retry's words replace the packed ones when there are more of them
            retried = []
            for piece in pieces_missing_words(job.pieces, transcript.words):
                again = self._transcribe_piece(job, piece)
                _, start, dur = piece
                inside = [w for w in transcript.words if start - 0.05 <= (w.start_s + w.end_s) / 2 <= start + dur + 0.05]
                if again.transcript is not None and len(again.transcript.words) > len(inside):
                    gone = {id(w) for w in inside}
                    transcript.words = [w for w in transcript.words if id(w) not in gone]
                    retried.append(again)
                elif again.error and not inside:
                    retried.append(again)
            if retried:
                log.info("%s %.1f-%.1f s: %d stretch(es) of speech came back short from a packed job; "
                         "recognised again alone", job.speaker, job.start_s, job.end_s, len(retried))
            return [AsrSpanResult(job.speaker, job.start_s, job.end_s, transcript, lane=job.lane), *retried]
        return [AsrSpanResult(job.speaker, job.start_s, job.end_s, transcript, lane=job.lane)]

    def _transcribe_piece(self, job: AsrJob, piece: tuple[float, float, float]) -> AsrSpanResult:
        offset, start, dur = piece
        a = int(round(offset * SAMPLE_RATE))
        audio = job.audio[a : a + int(round(dur * SAMPLE_RATE))]
        try:
            return AsrSpanResult(job.speaker, start, start + dur, self.transcriber.transcribe(audio, offset_s=start))
        except Exception as e:
            log.warning("speech recognition failed for %s %.1f-%.1f s: %s", job.speaker, start, start + dur, e)
            return AsrSpanResult(job.speaker, start, start + dur, None, f"{type(e).__name__}: {e}")
