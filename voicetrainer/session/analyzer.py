"""CallAnalyzer: both channels of a call through the streaming pipeline, plus the ASR worker.

The live runner and the offline grader both feed it `Frame`s; only the source and the clock
differ. ASR runs on a worker thread (CTranslate2 releases the GIL) so recognition of finished
speech overlaps with the analysis of the audio that follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicetrainer import get_logger
from voicetrainer.asr.stage import AsrSpanResult, AsrStage, PackedPolicy
from voicetrainer.asr.whisper import Transcriber
from voicetrainer.audio.frames import Frame, rms_dbfs
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, Settings
from voicetrainer.session.pipeline import AsrJob, ChannelAnalyzer
from voicetrainer.stream.turns import EventKind, Segment, TurnEvent
from voicetrainer.types import Word

log = get_logger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s


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
        # the one ASR stage (as in live sessions), on the packed policy: offline throughput
        self.asr = (AsrStage(transcriber, PackedPolicy(workers=asr_workers, max_pending=max_pending_jobs))
                    if transcriber is not None else None)
        self.events: list[TurnEvent] = []
        self.frames = 0
        self._leak_ref = "caller" in speakers and "trainee" in speakers
        self._done: list[AsrSpanResult] = []  # results handed out by poll_transcripts

    def push(self, frame: Frame, *, speech: dict[str, bool] | None = None) -> list[TurnEvent]:
        """One frame of every channel. `speech` overrides the VAD for speakers whose activity is
        known exactly (the caller's playback in a live session)."""
        new: list[TurnEvent] = []
        # the trainee's microphone hears the caller's leak; the caller column is its reference
        ref = rms_dbfs(frame.channel(self.speakers["caller"])) if self._leak_ref else None
        for name, col in self.speakers.items():
            ch = self.channels[name]
            override = speech.get(name) if speech else None
            out = ch.push(frame.channel(col), frame.index, is_speech=override,
                          ref_level_dbfs=ref if name == "trainee" else None)
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
        if self.asr is not None:
            for job in jobs:
                self.asr.push(job)

    def poll_transcripts(self) -> list[AsrSpanResult]:
        """Finished ASR jobs since the last poll."""
        if self.asr is None:
            return []
        results = self.asr.poll()
        self._done.extend(results)
        return results

    def finish(self) -> CallResult:
        for name, ch in self.channels.items():
            out = ch.flush()
            self.events.extend(out.events)
            self._submit(out.jobs)
        spans = list(self._done)
        if self.asr is not None:
            spans += self.asr.flush()
            self.asr.close()
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
            duration_s=self.frames * FRAME_S, channels=self.channels, segments=segments,
            words=words, asr_spans=spans, events=self.events,
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.asr is not None:
            self.asr.close(cancel=True)

