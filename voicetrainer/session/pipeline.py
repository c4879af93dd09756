"""The per-channel streaming pipeline, shared by live practice and offline grading.

    Frame -> loudness -> front end (VAD, near talker, caller leak) -> SpeakerTracker -> TurnEvents
          -> PitchTracker (batched YIN + tilt) -> VoiceStats per segment, call histograms, tracks
          -> AudioRing -> SpeechChunker -> AsrJob (audio of finished speech, for the ASR worker)

Everything here is bounded: the audio ring holds `ring_s` seconds, histograms have fixed bins,
and only per-segment summaries (the event list) grow with the length of the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from voicetrainer.asr.stage import AsrJob  # noqa: F401  (re-exported)
from voicetrainer.audio.frames import rms_dbfs
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, TRACK_BUCKET_S, Settings
from voicetrainer.types import VoiceStats  # noqa: F401  (re-exported)
from voicetrainer.stream.ring import AudioRing  # noqa: F401  (re-exported)
from voicetrainer.stream.features import Histogram, PitchPoint, PitchTracker, hz_to_semitones, semitones_to_hz
from voicetrainer.stream.turns import EventKind, Segment, SpeakerTracker, TurnEvent
from voicetrainer.stream.frontend import ChannelFrontEnd

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s
NUCLEUS_DB = 3.0  # a syllable nucleus is a loudness peak this far above the dips around it


class VoiceAccumulator:
    """Constant-memory distribution of pitch (semitones), loudness and tilt."""

    def __init__(self):
        self.pitch = Histogram(-24.0, 36.0, 0.1)  # semitones re 100 Hz: 25-800 Hz
        self.loud = Histogram(-100.0, 0.0, 0.25)
        self.tilt = Histogram(-60.0, 30.0, 0.25)
        self.speech_frames = 0
        self.syllables = 0

    def add(self, *, pitch_st=(), loudness_dbfs=(), tilt_db=(), speech_frames: int = 0, syllables: int = 0) -> None:
        self.pitch.add(pitch_st)
        self.loud.add(loudness_dbfs)
        self.tilt.add(tilt_db)
        self.speech_frames += speech_frames
        self.syllables += syllables

    def merge(self, other: "VoiceAccumulator") -> None:
        self.pitch.merge(other.pitch)
        self.loud.merge(other.loud)
        self.tilt.merge(other.tilt)
        self.speech_frames += other.speech_frames
        self.syllables += other.syllables

    def stats(self) -> VoiceStats:
        p = self.pitch
        med = p.quantile(0.5)
        return VoiceStats(
            pitch_median_hz=semitones_to_hz(med) if p.n else math.nan,
            pitch_sd_semitones=p.sd,
            pitch_range_semitones=(p.quantile(0.9) - p.quantile(0.1)) if p.n else math.nan,
            loudness_dbfs=self.loud.mean,
            loudness_sd_db=self.loud.sd,
            tilt_db=self.tilt.quantile(0.5) if self.tilt.n else math.nan,
            voiced_frames=p.n,
            speech_s=self.speech_frames * FRAME_S,
            syllable_rate=self.syllables / (self.speech_frames * FRAME_S) if self.speech_frames >= 10 else math.nan,
        )


@dataclass
class SegmentRecord:
    """A finished speech segment with its voice accumulator (the per-call event list)."""

    segment: Segment
    voice: VoiceAccumulator


@dataclass
class ChannelOutput:
    events: list[TurnEvent] = field(default_factory=list)
    jobs: list[AsrJob] = field(default_factory=list)


class ChannelAnalyzer:
    """Every per-channel streaming stage for one speaker.

    ``push(samples, index)`` takes one 20 ms frame of this channel and returns the turn events
    it confirmed and any ASR jobs that are ready. `vad_override` lets a caller channel whose
    activity is known exactly (live playback intervals) bypass the detector.

    Args:
        asr: make ASR jobs for this channel's speech.
        merge_asr_s: offline, consecutive segments closer than this go to ASR together (fewer
            30 s Whisper windows); 0 = one job per segment as soon as it ends (live).
        max_chunk_s: a job never covers more than this (Whisper's window is 30 s).
        pack_s: offline, finished stretches of speech are packed (joined with `pack_gap_s` of
            silence) into jobs of at most this many seconds: fewer, fuller Whisper windows;
            0 = every stretch is its own job (live).
    """

    def __init__(
        self, speaker: str, settings: Settings = Settings(), *, asr: bool = True,
        merge_asr_s: float = 0.0, max_chunk_s: float = 25.0, ring_s: float = 60.0,
        pad_s: float = 0.25, pack_s: float = 0.0, pack_gap_s: float = 0.3,
    ):
        self.speaker = speaker
        # speech vs noise, the near talker and the caller's leak: the trainee's microphone (the
        # caller's side is a line or the played signal: the energy detector, at half the cost)
        trainee = speaker == "trainee"
        self.frontend = ChannelFrontEnd(settings.vad, near_gate=trainee, model="auto" if trainee else None)
        self.tracker = SpeakerTracker(speaker, settings.turns)
        self.pitch = PitchTracker(settings.pitch)
        self.ring = AudioRing(ring_s)
        self.asr = asr
        self.merge_asr_s = merge_asr_s
        self.max_chunk_s = min(max_chunk_s, ring_s - 2 * pad_s - 1)
        self.pad_s = pad_s
        self.pack_s = max(pack_s, self.max_chunk_s + 2 * pad_s) if pack_s > 0 else 0.0
        self._pack_gap = np.zeros(int(pack_gap_s * SAMPLE_RATE), dtype=np.float32)
        self._pack: list[np.ndarray] = []  # audio of the job being packed (pieces and gaps)
        self._pack_pieces: list[tuple[float, float, float]] = []
        self._pack_n = 0  # samples in self._pack
        self.call = VoiceAccumulator()
        self.segments: list[SegmentRecord] = []
        self.tracks: dict[str, list] = {"t_s": [], "pitch_hz": [], "loudness_dbfs": []}
        self.last_level_dbfs = -120.0
        self.last_pitch_hz = math.nan
        # frames whose pitch is not known yet: (index, level, speech) kept until their batch runs
        self._pending: list[tuple[int, float, bool, bool]] = []  # (index, level, in segment, VAD speech)
        self._open: VoiceAccumulator | None = None  # voice of the segment being spoken
        self._open_start_s: float | None = None
        self._closing: list[tuple[Segment, VoiceAccumulator]] = []  # ended, waiting for pitch
        self._bucket: list[float] = []  # current track bucket: pitch st values
        self._bucket_loud: list[float] = []
        self._bucket_end = TRACK_BUCKET_S
        self._asr_span: list[float] | None = None  # [start_s, end_s] of speech not yet sent to ASR
        self._asr_sent_s = 0.0
        self.frames = 0
        self._rising, self._trough, self._peak, self._peak_voiced = False, -120.0, -120.0, False

    # ------------------------------------------------------------------ streaming
    def push(self, samples: np.ndarray, index: int, *, is_speech: bool | None = None,
             ref_level_dbfs: float | None = None) -> ChannelOutput:
        """`ref_level_dbfs`: the caller's level in this frame, when this channel can hear the
        caller's leak (the trainee channel of a two-party call, live or recorded)."""
        out = ChannelOutput()
        t_s = index * FRAME_S
        level = rms_dbfs(samples)
        self.last_level_dbfs = level
        soft = False
        if is_speech is None:
            decision = self.frontend.push(samples, level, ref_level_dbfs)
            speech, soft = decision.speech, decision.soft
        else:
            speech = is_speech
        self.ring.write(samples)
        self.frames += 1
        for ev in self.tracker.push(speech, t_s, soft=soft):
            self._on_event(ev, out)
        in_speech = self.tracker.speaking or speech
        self._pending.append((index, level, in_speech, speech))
        points = self.pitch.push(samples, index, needed=in_speech)  # only speech frames' pitch is read
        if points:
            self._on_pitch(points)
        self._maybe_chunk_long_speech(t_s + FRAME_S, out)
        return out

    def flush(self) -> ChannelOutput:
        out = ChannelOutput()
        t_end = self.frames * FRAME_S
        for ev in self.tracker.flush(t_end):
            self._on_event(ev, out)
        self._on_pitch(self.pitch.flush())
        self._close_ready(math.inf)
        self._flush_bucket(force=True)
        if self._asr_span is not None:
            self._emit_job(out, *self._asr_span)
        self._emit_pack(out)
        return out

    # ------------------------------------------------------------------ internals
    def _on_event(self, ev: TurnEvent, out: ChannelOutput) -> None:
        out.events.append(ev)
        if ev.kind is EventKind.SPEECH_START:
            self._open = VoiceAccumulator()
            self._open_start_s = ev.t_s
            if self._asr_span is not None and ev.t_s - self._asr_span[1] > self.merge_asr_s:
                self._emit_job(out, *self._asr_span)
        elif ev.kind is EventKind.SPEECH_END:
            seg = Segment(self.speaker, ev.data["start_s"], ev.t_s)
            self._closing.append((seg, self._open or VoiceAccumulator()))
            self._open, self._open_start_s = None, None
            if self.asr:
                start = max(seg.start_s, self._asr_sent_s)
                if self._asr_span is None:
                    self._asr_span = [start, seg.end_s]
                else:
                    self._asr_span[1] = seg.end_s
                if self.merge_asr_s <= 0 or self._asr_span[1] - self._asr_span[0] > self.max_chunk_s * 0.6:
                    self._emit_job(out, *self._asr_span)

    def _maybe_chunk_long_speech(self, now_s: float, out: ChannelOutput) -> None:
        """A segment longer than max_chunk_s is sent in pieces before the ring forgets it."""
        if not self.asr or self._open_start_s is None:
            return
        start = max(self._open_start_s, self._asr_sent_s)
        if self._asr_span is not None:
            start = min(start, self._asr_span[0])
        if now_s - start >= self.max_chunk_s:
            self._emit_job(out, start, now_s, pad_end=False)

    def _emit_job(self, out: ChannelOutput, start_s: float, end_s: float, *, pad_end: bool = True) -> None:
        a = max(start_s - self.pad_s, self._asr_sent_s, self.ring.start_s)
        b = min(end_s + (self.pad_s if pad_end else 0.0), self.ring.end_s)
        self._asr_span = None
        if b - a < 0.1:
            return
        audio = self.ring.read(a, b)
        self._asr_sent_s = b
        if self.pack_s <= 0:
            out.jobs.append(AsrJob(self.speaker, a, audio))
            return
        gap = len(self._pack_gap) if self._pack else 0
        if self._pack and (self._pack_n + gap + len(audio)) / SAMPLE_RATE > self.pack_s:
            self._emit_pack(out)
            gap = 0
        if gap:
            self._pack.append(self._pack_gap)
            self._pack_n += gap
        self._pack_pieces.append((self._pack_n / SAMPLE_RATE, a, len(audio) / SAMPLE_RATE))
        self._pack.append(audio)
        self._pack_n += len(audio)

    def _emit_pack(self, out: ChannelOutput) -> None:
        if not self._pack:
            return
        audio = np.concatenate(self._pack) if len(self._pack) > 1 else self._pack[0]
        out.jobs.append(AsrJob(self.speaker, self._pack_pieces[0][1], audio, pieces=tuple(self._pack_pieces)))
        self._pack, self._pack_pieces, self._pack_n = [], [], 0

    def _on_pitch(self, points: list[PitchPoint]) -> None:
        if not points:
            return
        by_index = {p.index: p for p in points}
        keep = []
        for item in self._pending:
            index, level, speech, heard = item
            p = by_index.get(index)
            if p is None:
                keep.append(item)
                continue
            t_s = index * FRAME_S
            voiced = speech and not math.isnan(p.f0_hz)
            st = float(hz_to_semitones(p.f0_hz)) if voiced else math.nan
            if voiced:
                self.last_pitch_hz = p.f0_hz
            target = self._target_for(t_s)
            nucleus = self._nucleus(level, speech, voiced)
            if speech and target is not None:
                # loudness over voiced frames: the pauses inside a segment would drag the level
                # down and widen its spread, and voicing (unlike a level gate) does not depend
                # on the recording's gain
                target.add(
                    pitch_st=(st,) if voiced else (), loudness_dbfs=(level,) if voiced else (),
                    tilt_db=(p.tilt_db,) if voiced else (), speech_frames=int(heard), syllables=nucleus,
                )
            self._track(t_s, st if voiced else math.nan, level if heard else math.nan)
        self._pending = keep
        self._close_ready(points[-1].t_s + FRAME_S)

    def _nucleus(self, level: float, speech: bool, voiced: bool) -> int:
        """Streaming syllable-nucleus counter: a voiced loudness peak >= 3 dB above the dips on both sides."""
        if not speech:
            self._rising, self._trough, self._peak = False, level, level
            return 0
        if self._rising:
            if level > self._peak:
                self._peak, self._peak_voiced = level, voiced
            elif self._peak - level >= NUCLEUS_DB:
                self._rising, self._trough = False, level
                return int(self._peak_voiced)
        else:
            if level < self._trough:
                self._trough = level
            elif level - self._trough >= NUCLEUS_DB:
                self._rising, self._peak, self._peak_voiced = True, level, voiced
        return 0

    def _target_for(self, t_s: float) -> VoiceAccumulator | None:
        for seg, acc in self._closing:
            if seg.start_s - 1e-6 <= t_s < seg.end_s + 1e-6:
                return acc
        if self._open is not None and self._open_start_s is not None and t_s >= self._open_start_s - 1e-6:
            return self._open
        return None

    def _close_ready(self, analysed_until_s: float) -> None:
        """Segments whose frames all have pitch now are final."""
        still = []
        for seg, acc in self._closing:
            if seg.end_s <= analysed_until_s + 1e-6:
                self.call.merge(acc)
                self.segments.append(SegmentRecord(seg, acc))
            else:
                still.append((seg, acc))
        self._closing = still

    def _track(self, t_s: float, st: float, level: float) -> None:
        if t_s >= self._bucket_end:
            self._flush_bucket()
            while t_s >= self._bucket_end:
                self._bucket_end += TRACK_BUCKET_S
        if not math.isnan(st):
            self._bucket.append(st)
        if not math.isnan(level):
            self._bucket_loud.append(level)

    def _flush_bucket(self, force: bool = False) -> None:
        if self._bucket or self._bucket_loud:
            self.tracks["t_s"].append(round(self._bucket_end - TRACK_BUCKET_S / 2, 3))
            self.tracks["pitch_hz"].append(
                round(semitones_to_hz(float(np.median(self._bucket))), 1) if self._bucket else None
            )
            self.tracks["loudness_dbfs"].append(
                round(float(np.mean(self._bucket_loud)), 1) if self._bucket_loud else None
            )
        self._bucket, self._bucket_loud = [], []
