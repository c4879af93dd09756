"""A whole practice call, live or simulated: persona + voice cache + devices + recorder ->
`LiveSession` -> report.json / report.html / history, all in the session folder.

`practice()` uses the headset; `simulate()` feeds a recording of spoken answers as the
microphone (real time through `MicSource`, or accelerated for tests) and plays the caller into
a null sink (or a file). Both go through `run_call`, so they are the same code.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from voicetrainer import get_logger
from voicetrainer.audio.frames import Frame
from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE, Settings, user_data_dir
from voicetrainer.persona.dialog import fmt_time
from voicetrainer.errors import VoiceTrainerError
from voicetrainer.report.schema import Report
from voicetrainer.rules import RULES
from voicetrainer.session.live import LiveOptions, LiveSession, LiveUpdate
from voicetrainer.session.pipeline import VoiceStats

log = get_logger(__name__)


@dataclass
class CallSetup:
    """Everything a call needs besides its audio devices.

    Attributes:
        persona: persona id or path.
        trainee: the trainee's name (history, baseline).
        seed: dialog engine seed (reproducible caller choices).
        session_dir: where the session goes (default: <data dir>/sessions/<date>-<persona>).
        tts_cache: render cache folder (default: <data dir>/tts-cache).
        db: history database ("" = default, None = do not record).
        html: write report.html.
        phone_line: the caller as heard over a telephone line (300-3400 Hz, line noise).
    """

    persona: str
    trainee: str = "trainee"
    seed: int = 0
    session_dir: Path | None = None
    tts_cache: Path | None = None
    db: str | None = ""
    html: bool = True
    rubric: str | None = None
    phone_line: bool = False


def sessions_root(settings: Settings | None = None) -> Path:
    return user_data_dir(settings) / "sessions"


def new_session_dir(persona_id: str, root: Path | None = None) -> Path:
    root = root or sessions_root()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", persona_id)
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:  # made here, atomically: two calls started in the same second get two folders
        path = root / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


class VoiceBank:
    """Caller lines as 16 kHz arrays, from the TTS render cache (memoised per call)."""

    def __init__(self, cache):
        self.cache = cache
        self._memo: dict[Path, np.ndarray] = {}

    def __call__(self, line) -> np.ndarray:
        import soundfile as sf

        from voicetrainer.audio.playback import resample
        from voicetrainer.errors import TTSError

        try:
            path = self.cache.get(line.text, line.voice)
        except TTSError as e:
            log.warning("caller line skipped, synthesis failed: %s", e)
            return np.zeros(0, dtype=np.float32)
        if path not in self._memo:
            audio, rate = sf.read(os.fsencode(path), dtype="float32", always_2d=True)
            self._memo[path] = resample(audio.mean(axis=1), rate, SAMPLE_RATE)
        return self._memo[path]


def load_baseline(trainee: str, settings: Settings | None = None) -> VoiceStats | None:
    path = user_data_dir(settings) / "baselines" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', trainee)}.json"
    if not path.exists():
        return None
    try:
        d = json.loads(path.read_text())
        fields = {k: (float("nan") if v is None else v) for k, v in d.items() if k in VoiceStats.__dataclass_fields__}
        return VoiceStats(**fields)
    except (json.JSONDecodeError, TypeError) as e:
        log.warning("ignoring unreadable baseline %s: %s", path, e)
        return None


def save_baseline(trainee: str, stats: VoiceStats, settings: Settings | None = None) -> Path:
    from voicetrainer.report.jsonio import write_json

    path = user_data_dir(settings) / "baselines" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', trainee)}.json"
    return write_json(path, stats.to_dict())


BASELINE_SENTENCE = (
    "Thank you for calling. My name is Alex, and I will be glad to help you with your account today."
)
MIN_BASELINE_VOICED_FRAMES = RULES.baseline_min_voiced_frames  # 0.8 s of voiced frames: less is not a voice worth comparing with


def record_baseline(
    trainee: str, frames: Iterable[Frame], settings: Settings, *, max_s: float = 12.0, min_s: float = 3.0,
    on_level: Callable[[float, float], None] | None = None, save: bool = True,
) -> VoiceStats | None:
    """The trainee's calm-voice baseline from `frames` (a microphone; they read `BASELINE_SENTENCE`).

    Listens on the audio clock until speech was heard and has ended (after at least `min_s`
    seconds), or for `max_s` seconds. The pitch, loudness and rate heard become the baseline,
    saved for `trainee` when `save`. ``on_level(t_s, level_dbfs)`` sees every frame. None when
    too little speech was heard.
    """
    from voicetrainer.session.pipeline import ChannelAnalyzer

    ch = ChannelAnalyzer("trainee", settings, asr=False)
    heard = False
    for frame in frames:
        out = ch.push(frame.channel(0), frame.index)
        heard = heard or any(e.kind.value == "speech_start" for e in out.events)
        t = frame.start_s + FRAME_SAMPLES / SAMPLE_RATE
        if on_level:
            on_level(t, ch.last_level_dbfs)
        if t >= max_s or (heard and not ch.tracker.speaking and t >= min_s):
            break
    ch.flush()
    stats = ch.call.stats()
    if stats.voiced_frames < MIN_BASELINE_VOICED_FRAMES:
        return None
    if save:
        save_baseline(trainee, stats, settings)
    return stats


def prepare(setup: CallSetup, settings: Settings, *, tts_backend=None, progress: Callable[[int, int], None] | None = None):
    """Load the persona, its dialog engine and a filled voice cache (a live call never waits for TTS)."""
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.dialog import DialogEngine
    from voicetrainer.persona.loader import load_persona

    persona = load_persona(setup.persona)
    if tts_backend is None:
        from voicetrainer.persona.voices import CallerVoices

        tts_backend = CallerVoices(settings=settings)  # Piper voices found in settings.voices_dir too
    cache = RenderCache(setup.tts_cache or user_data_dir(settings) / "tts-cache", backend=tts_backend,
                        phone_line=setup.phone_line)  # fmt: skip
    t0 = time.perf_counter()
    res = cache.prefill(persona, progress=progress)
    if not getattr(res, "rendered", 1) and hasattr(cache, "warm"):
        cache.warm(persona)  # all lines came from disk: load the engine before the call, not at its first new line
    failed = getattr(res, "failed", None)
    if failed:
        log.warning("%d caller line(s) could not be synthesised and will be skipped", len(failed))
    log.info("voice cache ready for %s in %.1f s", persona.id, time.perf_counter() - t0)
    return persona, DialogEngine(persona, seed=setup.seed), cache


def run_call(
    setup: CallSetup, settings: Settings, *, frames, player, transcriber, realtime: bool,
    now_s: Callable[[int], float] | None = None, on_update: Callable[[LiveUpdate], None] | None = None,
    baseline: VoiceStats | None = None, tts_backend=None, options: LiveOptions | None = None,
    device_stats: Callable[[], dict] | None = None, prepared=None, on_session: Callable[[LiveSession], None] | None = None,
    caption_transcriber=None, progress: Callable[[int, int], None] | None = None, extra_meta: dict | None = None,
) -> tuple[Report, Path]:
    """Run one call from `frames` (an iterator of mic `Frame`s) and write its session folder.

    `extra_meta`: more keys for the session's meta (e.g. the browser headset, an assignment).
    `progress(done, total)`: the voice cache filling (see `prepare`).
    `frames` may need the session to exist (a simulated trainee listens to the caller track):
    pass a callable ``frames(session) -> Iterator[Frame]`` for that.
    """
    from voicetrainer.analysis.recovery import report_recovery
    from voicetrainer.audio.recorder import SessionRecorder
    from voicetrainer.session.batch import write_outputs
    from voicetrainer.session.grader import GradeOptions, _score_skills, build_report, resolve_input, rules_for

    from voicetrainer.asr import caption_recogniser

    persona, mind, cache = prepared or prepare(setup, settings, tts_backend=tts_backend, progress=progress)
    if transcriber is not None and caption_transcriber is None:
        caption_transcriber = caption_recogniser(transcriber)
    session_dir = setup.session_dir or new_session_dir(persona.id, sessions_root(settings))
    meta = {
        "persona": persona.id, "persona_name": persona.name, "trainee": setup.trainee, "seed": setup.seed,
        "facts": list(persona.scenario.facts), "mode": "live" if realtime else "simulated",
        **(extra_meta or {}),
    }
    opts = options or LiveOptions(realtime=realtime)
    rules = rules_for(setup.rubric)  # one set of thresholds: live nudges, report, rubric
    with SessionRecorder(session_dir, meta=meta) as recorder:
        session = LiveSession(
            mind=mind, voice=VoiceBank(cache), player=player, recorder=recorder, transcriber=transcriber,
            settings=settings, options=opts, now_s=now_s, on_update=on_update, baseline=baseline,
            caption_transcriber=caption_transcriber, rules=rules,
        )
        if on_session:
            on_session(session)
        source = frames(session) if callable(frames) else frames
        error = None
        try:
            out = session.run(source)
        except Exception as e:  # a device fault: keep what was recorded, mark the session
            error = e
            out = session.finish()
        stats = device_stats() if device_stats else {}
        status = "aborted" if (error or out.aborted and "ended by the trainee" not in (out.aborted or "")) else "complete"
        outcome, outcome_reason = call_outcome(mind, out.aborted)
        recorder.close(status, outcome=outcome, outcome_reason=outcome_reason, audio_faults=stats,
                       **({"error": str(error)} if error else {}), **({"note": out.aborted} if out.aborted else {}))
    call = resolve_input(session_dir)
    call.caller_lines = out.caller_lines
    try:
        report = build_report(call, out.result, baseline=baseline, latency=out.latency.to_dict(), rules=rules)
    except VoiceTrainerError:
        if error is not None:  # e.g. the disk filled before the trainee spoke: that is the news
            raise error from None
        raise
    report.events = list(out.events)
    report.metrics["recovery"] = report_recovery(report)  # escalations from the dialog's mood now
    report.source.update(persona=persona.id, trainee=setup.trainee, outcome=outcome, status=status)
    report.outcome, report.outcome_reason = outcome, outcome_reason
    skipped = [e for e in out.events if e.get("type") == "tts_skipped"]
    if skipped:
        report.warnings.append(f"{len(skipped)} caller line(s) could not be synthesised and were skipped")
    if error:
        report.warnings.append(f"session aborted: {error}")
    _score_skills(report, call, GradeOptions(rubric=setup.rubric))
    try:
        write_outputs(report, session_dir, html=setup.html, db=setup.db, trainee=setup.trainee, persona=persona.id)
    except OSError as e:  # a full or read-only disk: the recording is kept, grade it later or elsewhere
        from voicetrainer.errors import StorageError, os_error_message

        raise StorageError(
            os_error_message(e, what="cannot write the report") + f". The recording is kept in {session_dir}: "
            f"free some space and run `voicetrainer recover {session_dir}`, or grade it onto another disk with "
            f"`voicetrainer recover {session_dir} --out DIR`") from (error or e)
    if error:
        raise error
    return report, session_dir


WORST_TURNS_CITED = 2  # a hung-up call's reason cites the turns that raised the caller's anger most


def call_outcome(mind, aborted: str | None) -> tuple[str | None, str | None]:
    """How the call ended, from the dialog engine's end state: (resolved | hung_up | turn_limit |
    ended_by_trainee, why in words). A call the engine did not end was ended by the trainee
    (Ctrl-C, "End call", or the end of a simulated recording)."""
    outcome = getattr(mind, "outcome", None)
    if outcome:
        log_ = getattr(mind, "log", None) or []
        why = next((d.reason for d in reversed(log_) if getattr(d, "kind", None) == "end"), None)
        if outcome in ("hung_up", "turn_limit"):  # say what made the caller angrier
            worst = sorted((d for d in log_ if d.kind == "mood" and d.mood_after > d.mood_before),
                           key=lambda d: d.mood_before - d.mood_after)[:WORST_TURNS_CITED]  # fmt: skip
            if worst:
                why = f"{why}; what made it worse: " + "; ".join(
                    f"{fmt_time(d.t_s)} {d.reason}" for d in sorted(worst, key=lambda d: d.t_s))
        return outcome, why
    return "ended_by_trainee", aborted or "the trainee ended the call before the caller did"


def practice(
    setup: CallSetup, settings: Settings, *, device_in=None, device_out=None, transcriber=None,
    baseline: VoiceStats | None = None, prepared=None, on_update: Callable[[LiveUpdate], None] | None = None,
    on_session: Callable[[LiveSession], None] | None = None,
) -> tuple[Report, Path]:
    """A live call on the headset: microphone `device_in` (name or index; None = default) through
    the live pipeline, the caller played on `device_out`. The CLI's ``practice`` and the web
    server both run calls through this."""
    from voicetrainer.asr import live_recogniser
    from voicetrainer.audio.playback import Player
    from voicetrainer.audio.sources import MicSource

    prepared = prepared or prepare(setup, settings)
    transcriber = transcriber or live_recogniser(settings.asr)
    mic = MicSource(device=device_in)
    player = Player(device=device_out)
    with player, mic:
        return run_call(
            setup, settings, frames=mic, player=player, transcriber=transcriber, realtime=True,
            now_s=lambda index: mic.stats.blocks * mic.blocksize_ms / 1000, on_update=on_update,
            baseline=baseline, prepared=prepared, on_session=on_session,
            device_stats=lambda: {"input_overflows": mic.stats.overflows, "dropped_blocks": mic.stats.dropped_blocks,
                                  "output_underflows": player.stats.underflows},
        )


def simulate(
    persona_id: str, trainee_wav: str | Path, out_dir: Path | None = None, *, settings: Settings = Settings(),
    realtime: bool = True, seed: int = 0, on_update=None, transcriber=None, tts_backend=None,
    player_factory=None, db: str | None = "", trainee: str = "demo trainee", html: bool = True,
    speed: float = 1.0, options: LiveOptions | None = None, on_session=None, baseline: VoiceStats | None = None,
    caption_transcriber=None, agent_factory=None, phone_line: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """A whole practice call with a recorded trainee as the microphone.

    Real time: the recording is paced through `MicSource` like a microphone and the caller is
    played into `player_factory()` (default: nowhere, a `NullPlayer`); latency is measured for
    real. Accelerated (``realtime=False``): frames are pulled as fast as the pipeline runs.
    `speed` > 1 paces the simulated microphone faster than real time (tests). `baseline`: the
    calm-voice baseline of the voice in the recording (the live band and the mood use it).
    `caption_transcriber`: recogniser for the running captions (default: `transcriber` on half
    its threads, see `caption_recogniser`). `agent_factory(session)`: a trainee that listens
    (``session.agent.ListeningTrainee``) instead of the recording; `trainee_wav` is then unused.
    `phone_line`: the caller through a telephone line. `progress(done, total)`: the voice cache
    filling before the call (see `prepare`; an exception raised there cancels the call).
    """
    from voicetrainer.asr import live_recogniser
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.session.simulate import ScriptedTrainee, SimulatedInputStream, load_script

    audio, answers = load_script(trainee_wav) if agent_factory is None else (None, [])
    transcriber = transcriber or live_recogniser(settings.asr)
    transcriber.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))  # warm up before the call
    setup = CallSetup(persona=persona_id, trainee=trainee, seed=seed, session_dir=out_dir, db=db, html=html,
                      phone_line=phone_line)
    player = player_factory() if player_factory else NullPlayer()
    holder: dict = {}

    def frames(session: LiveSession):
        sim = agent_factory(session) if agent_factory else ScriptedTrainee(audio, answers, session.track.active, seed=seed)
        holder["sim"] = sim
        if not realtime:
            return sim.frames(max_s=LiveOptions().max_call_s)
        mic = MicSource(stream_factory=lambda **kw: SimulatedInputStream(sim, speed=speed, **kw))
        holder["mic"] = mic
        mic.open()
        session._now = lambda index: mic.stats.blocks * mic.blocksize_ms / 1000
        return _closing(mic)

    def stats() -> dict:
        mic = holder.get("mic")
        d = {"output_underflows": player.stats.underflows}
        if mic:
            d.update(input_overflows=mic.stats.overflows, dropped_blocks=mic.stats.dropped_blocks)
        return d

    with player:
        report, session_dir = run_call(setup, settings, frames=frames, player=player, transcriber=transcriber,
                             realtime=realtime, on_update=on_update, tts_backend=tts_backend, device_stats=stats,
                             options=options or LiveOptions(realtime=realtime), on_session=on_session,
                             baseline=baseline, caption_transcriber=caption_transcriber, progress=progress)
    sim = holder.get("sim")
    if sim is not None and session_dir is not None and Path(session_dir).is_dir():
        # what the simulated trainee actually said, and when: the ground truth for the transcript
        # answers begun before the call ended (the simulated mic runs on until it is closed)
        text_of = sim.text_of if agent_factory else (lambda i: answers[i].text)
        script = [{"start_s": round(a, 3), "end_s": round(min(b, report.duration_s), 3), "text": text_of(i)}
                  for a, b, i in sim.spoken if a < report.duration_s]
        (Path(session_dir) / "trainee_script.json").write_text(json.dumps(script, indent=2) + "\n")
    return report


def _closing(mic):
    try:
        yield from mic
    finally:
        mic.close()
