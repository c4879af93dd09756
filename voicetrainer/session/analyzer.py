"""CallAnalyzer: both channels of a call through the streaming pipeline, plus the ASR worker.

The live runner and the offline grader both feed it `Frame`s; only the source and the clock
differ. ASR runs on a worker thread (CTranslate2 releases the GIL) so recognition of finished
speech overlaps with the analysis of the audio that follows.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
from dataclasses import dataclass, field

from voicetrainer import get_logger
from voicetrainer.asr import Transcriber, Transcript
from voicetrainer.audio.frames import Frame
from voicetrainer.config import SAMPLE_RATE, Settings
from voicetrainer.report.schema import Word
from voicetrainer.session.pipeline import AsrJob, ChannelAnalyzer
from voicetrainer.stream.turns import EventKind, Segment, TurnEvent

log = get_logger(__name__)


@dataclass
class AsrSpanResult:
    speaker: str
    start_s: float
    end_s: float
    transcript: Transcript | None
    error: str | None = None


@dataclass
class CallResult:
    """What the streaming stages found in a whole call."""

    duration_s: float
    channels: dict[str, ChannelAnalyzer]
    segments: list[Segment]
    words: dict[str, list[Word]]
    asr_spans: list[AsrSpanResult]
    events: list[TurnEvent] = field(default_factory=list)


class CallAnalyzer:
    """Feed frames with ``push``; get confirmed turn events back; ``finish`` for the result.

    Args:
        speakers: speaker name -> column of the frame's samples.
        transcriber: ASR backend (None: no transcription).
        asr_speakers: speakers to transcribe (default: all in `speakers`).
        merge_asr_s: group segments this close into one ASR job (offline); 0 = each at once.
        asr_workers: ASR jobs run at once (offline: 2, one per channel, each model call on
            ``cpu_threads`` threads; see scripts/bench.py for the measurement).
        pack_asr_s: offline, pack finished speech into ASR jobs of up to this many seconds
            (`ChannelAnalyzer` ``pack_s``); 0 = one job per stretch of speech (live).
        max_pending_jobs: offline backpressure: when more ASR jobs than this are queued or
            running, `push` waits for the oldest one, so a file read far faster than it is
            transcribed does not queue its whole speech audio in memory (a 2-hour call did:
            ~0.9 GB); 0 = never wait (live). Results collected this way are not returned by
            `poll_transcripts`, only by `finish`.
    """

    def __init__(
        self, settings: Settings, speakers: dict[str, int], *, transcriber: Transcriber | None = None,
        asr_speakers: set[str] | None = None, merge_asr_s: float = 0.0, asr_workers: int = 1,
        pack_asr_s: float = 0.0, max_pending_jobs: int = 0,
    ):
        self.settings = settings
        self.speakers = speakers
        asr_speakers = set(speakers) if asr_speakers is None else asr_speakers
        self.transcriber = transcriber
        self.channels = {
            name: ChannelAnalyzer(name, settings, asr=transcriber is not None and name in asr_speakers,
                                  merge_asr_s=merge_asr_s, pack_s=pack_asr_s)
            for name in speakers
        }
        self._pool = cf.ThreadPoolExecutor(max_workers=asr_workers, thread_name_prefix="asr") if transcriber else None
        self._futures: list[tuple[AsrJob, cf.Future]] = []
        self.max_pending_jobs = max_pending_jobs
        self.events: list[TurnEvent] = []
        self.frames = 0
        self._done: list[AsrSpanResult] = []

    def push(self, frame: Frame, *, speech: dict[str, bool] | None = None) -> list[TurnEvent]:
        """One frame of every channel. `speech` overrides the VAD for speakers whose activity is
        known exactly (the caller's playback in a live session)."""
        new: list[TurnEvent] = []
        for name, col in self.speakers.items():
            ch = self.channels[name]
            override = speech.get(name) if speech else None
            out = ch.push(frame.channel(col), frame.index, is_speech=override)
            for ev in out.events:
                new.append(ev)
                if ev.kind is EventKind.SPEECH_START:
                    others = [o for o, c in self.channels.items() if o != name and c.tracker.speaking]
                    if others:
                        new.append(TurnEvent(EventKind.OVERLAP_START, name, ev.t_s, ev.detected_s, {"over": others[0]}))
            self._submit(out.jobs)
        self.frames += 1
        self.events.extend(new)
        return new

    def _submit(self, jobs: list[AsrJob]) -> None:
        if not jobs or self._pool is None:
            return
        for job in jobs:
            offset_s = 0.0 if job.pieces else job.start_s  # packed: words are mapped back in _result
            self._futures.append((job, self._pool.submit(self.transcriber.transcribe, job.audio, offset_s=offset_s)))
        if self.max_pending_jobs > 0:
            # finished jobs become results (their audio is freed); then wait for the oldest
            done = [(j, f) for j, f in self._futures if f.done()]
            if done:
                self._futures = [(j, f) for j, f in self._futures if not f.done()]
                for j, f in done:
                    self._done.extend(self._result(j, f))
            while len(self._futures) > self.max_pending_jobs:
                job, fut = self._futures.pop(0)
                self._done.extend(self._result(job, fut))

    def poll_transcripts(self) -> list[AsrSpanResult]:
        """Finished ASR jobs since the last poll (live captions)."""
        done, keep = [], []
        for job, fut in self._futures:
            (done if fut.done() else keep).append((job, fut))
        self._futures = keep
        results = [span for job, fut in done for span in self._result(job, fut)]
        self._done.extend(results)
        return results

    def _result(self, job: AsrJob, fut: cf.Future) -> list[AsrSpanResult]:
        """The finished job as spans; a failed packed job is retried piece by piece, so one bad
        stretch of speech marks only its own turn."""
        try:
            transcript = fut.result()
        except Exception as e:  # one failed chunk marks its turn, never the session
            log.warning("speech recognition failed for %s %.1f-%.1f s: %s", job.speaker, job.start_s, job.end_s, e)
            if not job.pieces:
                return [AsrSpanResult(job.speaker, job.start_s, job.end_s, None, f"{type(e).__name__}: {e}")]
            return [self._transcribe_piece(job, piece) for piece in job.pieces]
        if job.pieces and dataclasses.is_dataclass(transcript):
            transcript = dataclasses.replace(transcript, words=job.to_session(transcript.words))
        return [AsrSpanResult(job.speaker, job.start_s, job.end_s, transcript)]

    def _transcribe_piece(self, job: AsrJob, piece: tuple[float, float, float]) -> AsrSpanResult:
        offset, start, dur = piece
        a = int(round(offset * SAMPLE_RATE))
        audio = job.audio[a : a + int(round(dur * SAMPLE_RATE))]
        try:
            return AsrSpanResult(job.speaker, start, start + dur, self.transcriber.transcribe(audio, offset_s=start))
        except Exception as e:
            log.warning("speech recognition failed for %s %.1f-%.1f s: %s", job.speaker, start, start + dur, e)
            return AsrSpanResult(job.speaker, start, start + dur, None, f"{type(e).__name__}: {e}")

    def finish(self) -> CallResult:
        for name, ch in self.channels.items():
            out = ch.flush()
            self.events.extend(out.events)
            self._submit(out.jobs)
        spans = list(self._done)
        spans += [span for job, fut in self._futures for span in self._result(job, fut)]
        self._futures = []
        if self._pool:
            self._pool.shutdown(wait=True)
        spans.sort(key=lambda s: (s.speaker, s.start_s))
        words: dict[str, list[Word]] = {name: [] for name in self.speakers}
        for sp in spans:
            if sp.transcript:
                words[sp.speaker].extend(sp.transcript.words)
        for w in words.values():
            w.sort(key=lambda x: x.start_s)
        segments = sorted(
            (rec.segment for ch in self.channels.values() for rec in ch.segments), key=lambda s: s.start_s
        )
        return CallResult(
            duration_s=self.frames * 0.02, channels=self.channels, segments=segments,
            words=words, asr_spans=spans, events=self.events,
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool:
            self._pool.shutdown(wait=False, cancel_futures=True)

