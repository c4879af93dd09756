"""Offline grading: a recorded call (file or session folder) -> `Report`.

Runs the same `CallAnalyzer` as live practice, fed from a `FileSource` as fast as the CPU
allows, then turns segments, words and voice figures into the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.analysis.calm import calm_score
from voicetrainer.analysis.pacing import find_fillers, pacing, turn_pauses, turn_wpm
from voicetrainer.analysis.recovery import analyze_recovery
from voicetrainer.asr import Transcriber
from voicetrainer.audio.levels import frame_levels_dbfs
from voicetrainer.audio.sources import AudioInfo, FileSource, probe_audio
from voicetrainer.config import Settings
from voicetrainer.errors import AudioInputError, printable
from voicetrainer.report.metrics import Metrics
from voicetrainer.report.schema import Interruption, Report, Turn, Word
from voicetrainer.rules import RULES, Rules
from voicetrainer.session.analyzer import CallAnalyzer, CallResult
from voicetrainer.session.asr_check import audio_checks
from voicetrainer.session.pipeline import ChannelAnalyzer, VoiceAccumulator, VoiceStats
from voicetrainer.stream.turns import TurnSpan, build_turns, find_overlaps, response_gaps, silences

log = get_logger(__name__)

SESSION_MANIFEST = "session.json"
BASELINE_MIN_VOICED = RULES.baseline_min_voiced_frames  # voiced frames (0.8 s) needed for a usable baseline
PROGRESS_EVERY_S = 10.0  # audio seconds between "analysing" progress calls
SNAP_WORD_S = 0.5  # a turn's first/last word time this close to the VAD bound is moved onto it


@dataclass(frozen=True)
class GradeOptions:
    """How to grade one input.

    Attributes:
        trainee_channel: channel of the trainee in a file of two or more channels.
        caller_channel: channel of the caller (None = the other of channels 0 and 1, or 0 when the
            trainee is on channel 2 or above).
        baseline: a calm clip of the trainee's voice; default = their own first turn.
        rubric: rubric file for the skills (default: the shipped rubric).
        merge_asr_s: send speech closer than this to the recogniser in one piece.
        pack_asr_s: pack a channel's speech into recogniser jobs of up to this many seconds
            (one ~30 s Whisper window each instead of one per turn: 2-3x less ASR time on the
            bench's calls); 0 = one job per stretch of speech.
        asr_workers: recogniser jobs run at once (2 = the two channels in parallel).
    """

    trainee_channel: int = 1
    caller_channel: int | None = None
    baseline: str | None = None
    rubric: str | None = None
    merge_asr_s: float = 1.5
    pack_asr_s: float = 28.0
    asr_workers: int = 2


@dataclass
class CallInput:
    """A resolved input: the audio file, which channel is whom, and what a session knows."""

    path: Path
    audio: Path
    info: AudioInfo
    speakers: dict[str, int]
    session_dir: Path | None = None
    caller_lines: list[dict] = field(default_factory=list)  # known caller text with times
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said in the report's warnings (e.g. channels ignored)


def call_channels(n_channels: int, *, trainee_channel: int = 1, caller_channel: int | None = None,
                  path: str | Path = "") -> tuple[dict[str, int], list[str]]:
    """({"caller": c, "trainee": t}, notes) for a file of `n_channels` >= 2 channels.

    Raises AudioInputError naming the file when a channel does not exist or both are the same.
    A file with more than two channels gets a note saying which two were graded and how to choose.
    """
    caller = caller_channel if caller_channel is not None else (1 - trainee_channel if trainee_channel in (0, 1) else 0)
    for flag, ch in (("--trainee-channel", trainee_channel), ("--caller-channel", caller)):
        if not 0 <= ch < n_channels:
            raise AudioInputError(f"{flag} {ch} does not exist: the file has {n_channels} channels (0-{n_channels - 1})",
                                  path=path)
    if caller == trainee_channel:
        raise AudioInputError(f"--trainee-channel and --caller-channel are both {caller}; give two different channels",
                              path=path)
    notes = []
    if n_channels > 2:
        notes.append(f"the file has {n_channels} channels: channel {caller} was graded as the caller and channel "
                     f"{trainee_channel} as the trainee, the other {n_channels - 2} ignored (choose with "
                     "--trainee-channel and --caller-channel)")
    return {"caller": caller, "trainee": trainee_channel}, notes


def resolve_input(path: str | Path, *, trainee_channel: int = 1, caller_channel: int | None = None) -> CallInput:
    """Decide what `path` is: a session folder, a two-channel call, or a trainee-only recording."""
    p = Path(path)
    if p.is_dir():
        manifest = p / SESSION_MANIFEST
        if not manifest.exists():
            raise AudioInputError(f"is a folder but has no {SESSION_MANIFEST}; expected a session folder", path=p)
        try:
            meta = json.loads(manifest.read_text())
        except (json.JSONDecodeError, OSError) as e:
            raise AudioInputError(f"{SESSION_MANIFEST} is unreadable ({e}); run `voicetrainer recover`", path=p) from e
        audio = p / meta.get("audio", "call.wav")
        info = probe_audio(audio)
        chans = meta.get("channels", {"caller": 0, "trainee": 1})
        speakers = {k: int(v) for k, v in chans.items() if int(v) < info.channels}
        lines = []
        events = p / meta.get("events", "events.jsonl")
        if events.exists():
            for raw in events.read_text().splitlines():
                try:
                    ev = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash
                if ev.get("type") == "caller_line" and ev.get("end_s") is not None:
                    lines.append(dict(ev))
                elif ev.get("type") == "caller_line_cut":  # barge-in: the line stopped early
                    for ln in lines:
                        if abs(ln["start_s"] - ev.get("start_s", -1)) < 1e-3:
                            ln["end_s"] = ev["end_s"]
        return CallInput(p, audio, info, speakers, p, lines, meta)
    info = probe_audio(p)
    if info.channels >= 2:
        speakers, notes = call_channels(info.channels, trainee_channel=trainee_channel, caller_channel=caller_channel,
                                        path=p)
        for note in notes:
            log.warning("%s: %s", p, note)
        return CallInput(p, p, info, speakers, notes=notes)
    return CallInput(p, p, info, {"trainee": 0})


def analyze_voice_file(path: str | Path, settings: Settings = Settings()) -> tuple[VoiceStats, list]:
    """Voice statistics of all speech in a clip (channels mixed), without transcription.

    Returns the clip's `VoiceStats` and its segment records (for a first-turn baseline).
    """
    info = probe_audio(path)
    ch = ChannelAnalyzer("trainee", settings, asr=False)
    for frame in FileSource(path, info=info):
        ch.push(frame.samples.mean(axis=1), frame.index)
    ch.flush()
    return ch.call.stats(), ch.segments


def grade(
    path: str | Path, options: GradeOptions = GradeOptions(), settings: Settings = Settings(), *,
    transcriber: Transcriber | None = None, progress: Callable[[str, float | None], None] | None = None,
) -> Report:
    """Grade one recorded call (or a text transcript, *.json / *.vtt). Raises `InputError`
    (`AudioInputError` for audio) for input that cannot be graded.

    `progress(stage, fraction)`: told "analysing" with the fraction of the audio read (every
    `PROGRESS_EVERY_S` of audio), then "recognising" and "scoring".
    """
    from voicetrainer.session.transcript import grade_transcript, is_transcript

    if is_transcript(path):
        return grade_transcript(path, rubric=options.rubric)
    tell = progress or (lambda stage, fraction=None: None)
    call = resolve_input(path, trainee_channel=options.trainee_channel, caller_channel=options.caller_channel)
    known = bool(call.caller_lines)
    asr_speakers = {s for s in call.speakers if not (s == "caller" and known)}
    source = FileSource(call.audio, info=call.info)
    with CallAnalyzer(
        settings, call.speakers, transcriber=transcriber, asr_speakers=asr_speakers,
        merge_asr_s=options.merge_asr_s, pack_asr_s=options.pack_asr_s,
        asr_workers=max(1, min(options.asr_workers, len(asr_speakers))),
        max_pending_jobs=2 * max(1, options.asr_workers),
    ) as analyzer:
        if "trainee" in call.speakers:  # the near talker's level, known before the first frame
            analyzer.channels["trainee"].frontend.seed_near(frame_levels_dbfs(call.audio, call.speakers["trainee"], call.info))
        every = int(PROGRESS_EVERY_S / 0.02)  # frames of 20 ms
        total_s = max(call.info.duration_s, 1e-3)
        for frame in source:
            analyzer.push(frame)
            if frame.index % every == 0:
                tell("analysing", min(1.0, frame.start_s / total_s))
        tell("recognising", None)
        result = analyzer.finish()
    tell("scoring", None)
    baseline = None
    if options.baseline:
        stats, _ = analyze_voice_file(options.baseline, settings)
        if stats.voiced_frames < BASELINE_MIN_VOICED:
            raise AudioInputError("baseline clip has too little voiced speech (need about 1 s)", path=options.baseline)
        baseline = stats
    report = build_report(call, result, baseline=baseline, rules=rules_for(options.rubric),
                          clipped_fraction=source.clipped_samples / max(1, source.samples_read * len(call.speakers)))
    report.outcome, report.outcome_reason = call.meta.get("outcome"), call.meta.get("outcome_reason")
    report.warnings.extend(call.notes)
    if source.nonfinite_samples:
        report.warnings.append(f"{source.nonfinite_samples} sample(s) in the file were not numbers (NaN or infinity) "
                               "and were graded as silence: the recording is damaged")
    _score_skills(report, call, options)
    return report


def _assign_words(turns: list[TurnSpan], words: list[Word], speaker: str) -> dict[int, list[Word]]:
    """Each word goes to the same-speaker turn that contains its midpoint, else the nearest."""
    mine = [(i, t) for i, t in enumerate(turns) if t.speaker == speaker]
    out: dict[int, list[Word]] = {i: [] for i, _ in mine}
    if not mine:
        return out
    j = 0
    for w in words:
        mid = (w.start_s + w.end_s) / 2
        while j + 1 < len(mine) and mid > (mine[j][1].end_s + mine[j + 1][1].start_s) / 2:
            j += 1
        out[mine[j][0]].append(w)
    return out


def _clamp_words(words: list[Word], span: TurnSpan) -> list[Word]:
    """Word times inside their turn and in order, the first word starting and the last ending
    with the voice when they are within `SNAP_WORD_S` of it.

    Whisper's word times drift by a few tenths of a second (jfk.wav: the last word ends 0.2 s
    after the voice; librivox_0930: "himself" ends 0.2 s before its final fricative), while
    the VAD bounds are within a frame or two of the speech. Pacing (WPM, pauses) uses these times.
    """
    out: list[Word] = []
    prev = span.start_s
    for w in words:
        start = min(max(w.start_s, prev, span.start_s), span.end_s)
        end = min(max(w.end_s, start), span.end_s)
        out.append(Word(w.word, start, end, w.probability))
        prev = start
    if out and out[0].start_s - span.start_s <= SNAP_WORD_S:
        out[0].start_s = span.start_s
    if out and span.end_s - out[-1].end_s <= SNAP_WORD_S:
        out[-1].end_s = span.end_s
    for w in out:
        w.start_s, w.end_s = round(w.start_s, 3), round(max(w.end_s, w.start_s), 3)
    return out


def _turn_voice(span: TurnSpan, channel: ChannelAnalyzer) -> VoiceAccumulator:
    acc = VoiceAccumulator()
    for rec in channel.segments:
        if span.start_s - 1e-6 <= rec.segment.start_s and rec.segment.end_s <= span.end_s + 1e-6:
            acc.merge(rec.voice)
    return acc


def build_report(
    call: CallInput, result: CallResult, *, baseline: VoiceStats | None = None,
    clipped_fraction: float = 0.0, latency: dict | None = None, rules: Rules = RULES,
) -> Report:
    """Turns, interruptions and metrics from what the streaming stages found; `rules`: the
    thresholds of the rubric the call is graded with (`rules_for`)."""
    warnings: list[str] = []
    two_party = "caller" in call.speakers and "trainee" in call.speakers
    turn_cfg = next(iter(result.channels.values())).tracker.cfg  # the settings the call ran with
    spans = build_turns(result.segments, merge_pause_s=turn_cfg.merge_pause_s)
    trainee_spans = [t for t in spans if t.speaker == "trainee"]
    if not trainee_spans:
        raise AudioInputError(
            "no trainee speech found: the recording is silent or only noise"
            + (" on the trainee channel (wrong --trainee-channel?)" if two_party else ""),
            path=call.path,
        )
    by_turn: dict[int, list[Word]] = {}
    for spk in call.speakers:
        by_turn.update(_assign_words(spans, result.words.get(spk, []), spk))
    asr_errors = [s for s in result.asr_spans if s.error]

    turns: list[Turn] = []
    for i, span in enumerate(spans):
        words = _clamp_words(by_turn.get(i, []), span)
        t = Turn(span.speaker, round(span.start_s, 3), round(span.end_s, 3), words=words)
        if span.speaker == "caller" and call.caller_lines:
            lines = [ln for ln in call.caller_lines if ln["start_s"] < span.end_s + 0.5 and ln["end_s"] > span.start_s - 0.5]
            t.text = " ".join(ln["text"] for ln in lines)
            t.text_source = "known"
        else:
            t.text = " ".join(w.word for w in words)
            t.text_source = "asr" if words else "none"
        err = next((s.error for s in asr_errors if s.speaker == span.speaker and s.start_s < span.end_s and s.end_s > span.start_s), None)
        if err:
            t.asr_error = err
        t.pauses_s = turn_pauses(words)
        wpm = turn_wpm(words)
        t.wpm = round(wpm, 1) if wpm else None
        turns.append(t)

    # --- interruptions and backchannels
    interruptions: list[Interruption] = []
    if two_party:
        for ov in find_overlaps(result.segments):
            seg = ov.segment
            n_words = sum(
                1 for w in result.words.get(ov.by, []) if seg.start_s - 0.3 <= (w.start_s + w.end_s) / 2 <= seg.end_s + 0.3
            )
            short = seg.duration_s < turn_cfg.backchannel_max_s and n_words <= turn_cfg.backchannel_max_words
            interruptions.append(Interruption(
                by=ov.by, start_s=round(ov.start_s, 3), overlap_s=round(ov.overlap_s, 3),
                kind="backchannel" if short else "interruption", stopped_first=ov.stopped_first, words=n_words,
            ))
    else:
        warnings.append("trainee-only recording: interruptions, response gaps and talk ratio need the caller channel")

    # --- metrics
    trainee_turn_words = [t.words for t in turns if t.speaker == "trainee"]
    pace = pacing(trainee_turn_words)
    talk = {s: sum(seg.duration_s for seg in result.segments if seg.speaker == s) for s in call.speakers}
    gaps = response_gaps(spans) if two_party else []
    quiet = silences(result.segments)
    trainee_ch = result.channels["trainee"]
    if baseline is None:
        baseline, baseline_src = _first_turn_baseline(trainee_spans, trainee_ch)
    else:
        baseline_src = "baseline clip"
    call_voice = trainee_ch.call.stats()
    calm = calm_score(call_voice, baseline, rate=_syl(call_voice), baseline_rate=_syl(baseline))
    calm["baseline_source"] = baseline_src
    for t, span in zip(turns, spans):
        if t.speaker == "trainee":
            v = _turn_voice(span, trainee_ch).stats()
            t.calm = calm_score(v, baseline, rate=_syl(v), baseline_rate=_syl(baseline))
            t.calm.pop("baseline", None)
    metrics = Metrics(
        trainee_wpm=_r(pace.wpm),
        articulation_wpm=_r(pace.articulation_wpm),
        trainee_words=pace.words,
        trainee_speaking_s=_r(pace.speaking_s, 2),
        talk_ratio=_r(talk["trainee"] / (talk["trainee"] + talk["caller"]), 3) if two_party and (talk["trainee"] + talk["caller"]) else None,
        mean_response_gap_s=_r(sum(g for _, g in gaps) / len(gaps), 3) if gaps else None,
        response_gaps=[{"t_s": round(t.start_s, 3), "gap_s": round(g, 3)} for t, g in gaps],
        longest_silence_s=_r(max((b - a for a, b in quiet), default=0.0), 3),
        long_silences=[{"start_s": round(a, 3), "duration_s": round(b - a, 3)} for a, b in quiet if b - a >= rules.long_silence_s],
        interruptions_by_trainee=sum(1 for i in interruptions if i.by == "trainee" and i.kind == "interruption") if two_party else None,
        interruptions_by_caller=sum(1 for i in interruptions if i.by == "caller" and i.kind == "interruption") if two_party else None,
        backchannels_by_trainee=sum(1 for i in interruptions if i.by == "trainee" and i.kind == "backchannel") if two_party else None,
        filler_rate=_r(pace.filler_rate, 2),
        fillers=[{"t_s": f.start_s, "word": f.word} for f in pace.fillers],
        pauses_in_turns=len(pace.pauses),
        mean_pause_s=_r(pace.mean_pause_s, 3),
        calm=calm,
    )
    # band from the spectrum, SNR, clipping, caller leak per channel; empty turns marked asr_error
    metrics.audio_quality, checks = audio_checks(
        {name: ch.frontend.quality() for name, ch in result.channels.items()}, turns,
        {s.speaker for s in result.asr_spans}, header_telephone=call.info.telephone_band,
        clipped_fraction=clipped_fraction)
    warnings += checks
    if asr_errors:
        warnings.append(f"speech recognition failed on {len(asr_errors)} stretch(es); those turns are marked asr_error")
    warnings += _session_warnings(call.meta)
    tracks = {name: ch.tracks for name, ch in result.channels.items()}
    # recovery after escalation (caller voice rises here; practice sessions redo it with mood events)
    metrics.recovery = analyze_recovery(tracks=tracks, turns=turns, baseline=calm["baseline"],
                                        duration_s=call.info.duration_s)
    return Report(
        duration_s=round(call.info.duration_s, 3),
        turns=turns,
        interruptions=interruptions,
        metrics=metrics.to_dict(),
        latency=latency,
        source={
            "input": printable(call.path),
            "audio": printable(call.audio),
            "sample_rate_hz": call.info.sample_rate,
            "channels": call.info.channels,
            "speakers": call.speakers,
            "mode": "session" if call.session_dir else ("two-channel" if two_party else "trainee-only"),
            **({"persona": call.meta.get("persona"), "trainee": call.meta.get("trainee"),
                "started": call.meta.get("started")} if call.meta else {}),
            **({"session_status": call.meta.get("status"), "audio_faults": call.meta.get("audio_faults")}
               if call.session_dir else {}),
        },
        warnings=warnings,
        tracks=tracks,
    )


AUDIO_FAULTS = (  # session.json "audio_faults" keys (written by the live runner) -> report wording
    ("input_overflows", "input overflow(s)"),
    ("dropped_blocks", "dropped microphone block(s), replaced by silence"),
    ("output_underflows", "output underflow(s) in the caller's playback"),
)


def _session_warnings(meta: dict) -> list[str]:
    """Warnings a live session left in its manifest: device faults and how the session ended."""
    out = []
    faults = meta.get("audio_faults") or {}
    parts = [f"{int(faults[k])} {label}" for k, label in AUDIO_FAULTS if int(faults.get(k) or 0) > 0]
    if parts:
        out.append("audio device: " + ", ".join(parts) + "; the call went on")
    if meta.get("status") == "aborted":
        out.append(f"the session ended early: {meta.get('error') or 'aborted'}")
    elif meta.get("status") == "recovered":
        out.append("the session was interrupted (crash or power loss) and recovered; "
                   "up to the last second of audio may be missing")
    return out


def _first_turn_baseline(trainee_spans: list[TurnSpan], ch: ChannelAnalyzer) -> tuple[VoiceStats, str]:
    acc = VoiceAccumulator()
    used = 0
    for span in trainee_spans:
        acc.merge(_turn_voice(span, ch))
        used += 1
        if acc.pitch.n >= BASELINE_MIN_VOICED:
            break
    return acc.stats(), f"first {used} trainee turn(s)"


def _syl(v: VoiceStats) -> float | None:
    return None if math.isnan(v.syllable_rate) else v.syllable_rate * 60.0


def _r(x, nd: int = 1):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def rules_for(rubric: str | None) -> Rules:
    """The shared thresholds as the rubric `rubric` (None: the shipped one) sets them."""
    from voicetrainer.analysis.rubric import load_rubric

    return Rules.from_thresholds(load_rubric(rubric).thresholds)


def _score_skills(report: Report, call: CallInput, options: GradeOptions) -> None:
    from voicetrainer.analysis import rubric as rubric_mod

    rubric = rubric_mod.load_rubric(options.rubric)
    report.source["rubric"] = str(rubric.path) if rubric.path else None
    report.source["rubric_name"] = rubric.name
    facts: Sequence[str] = list(call.meta.get("facts", [])) + [t.text for t in report.turns if t.speaker == "caller" and t.text]
    report.skills, report.overall = rubric_mod.score_skills(report, rubric, facts=facts)
