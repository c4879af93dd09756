"""Calm-voice drill under provocation: short angry lines, one-sentence answers, voice-only scores.

    drill = CalmDrill(persona, voice=VoiceBank(cache), player=player, baseline=load_baseline(name))
    result = drill.run(mic)            # any iterator of mic `Frame`s (MicSource, or a simulation)
    result.rounds[-1].feedback         # "pitch +3.1 semitones above your calm: slow down and ..."

Each round: the caller throws one provocation from the persona's lines (harsher = angrier lines in
an angrier voice, `voice_for_mood`), played on the headset; the trainee answers in one sentence;
the answer is found by the voice-activity detector (it ends after `DrillOptions.end_silence_s` of
silence) and scored with `analysis.calm.calm_score` on voice only (pitch, loudness, effort and
rate against the trainee's calm baseline; no words). The level adapts: an answer scoring at least
`up_score` makes the next provocation harsher, one below `down_score` gentler.

Without a stored baseline the first answer is the baseline (that round is not scored).
Everything runs on the microphone's frame clock (frame.start_s), so a simulated trainee on an
accelerated clock behaves exactly like the live one; the only thread is the audio device's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np

from voicetrainer import get_logger
from voicetrainer.analysis.calm import calm_score
from voicetrainer.config import SAMPLE_RATE, Settings
from voicetrainer.errors import DeviceError, InputError
from voicetrainer.rules import RULES
from voicetrainer.session.pipeline import ChannelAnalyzer, VoiceAccumulator, VoiceStats
from voicetrainer.stream.turns import EventKind

log = get_logger(__name__)

LEVEL_NAMES = ("mild", "upset", "angry", "furious")  # = the persona voice's mood bands
# Persona line groups per level: complaints first, escalation lines once the trainee holds up.
LEVEL_SITUATIONS: tuple[tuple[str, ...], ...] = (
    ("complaint",),
    ("complaint",),
    ("escalation", "complaint"),
    ("escalation",),
)
MIN_BASELINE_VOICED = RULES.baseline_min_voiced_frames  # voiced frames (0.8 s) for the first answer to serve as the baseline
NOTE_PENALTY = 10.0  # a calm-enough answer still gets a tip when one component cost this many points


@dataclass(frozen=True)
class DrillOptions:
    """How a drill runs.

    Attributes:
        rounds: provocations (scored answers, plus the baseline answer when there is none stored).
        start_level: first provocation's harshness, 0 (mild) .. 3 (furious).
        up_score: an answer scoring at least this (0-100) makes the next provocation harsher.
        down_score: an answer scoring below this makes the next one gentler.
        answer_timeout_s: no speech this long after the provocation ends: the round is skipped.
        end_silence_s: the answer is over after this much silence (longer than the pauses
            inside one sentence, which the turn detector already bridges up to 0.4 s).
        max_answer_s: an answer is cut here (one sentence, not a speech).
        pause_s: silence between the end of an answer and the next provocation.
        min_voiced_frames: an answer with fewer voiced 20 ms frames is too short to score.
    """

    rounds: int = 6
    start_level: int = 1
    up_score: float = 75.0
    down_score: float = 60.0
    answer_timeout_s: float = 8.0
    end_silence_s: float = 1.0
    max_answer_s: float = 12.0
    pause_s: float = 1.0
    min_voiced_frames: int = 15

    def __post_init__(self):
        if not 1 <= self.rounds <= 50:
            raise InputError(f"must be 1-50, got {self.rounds}", field="--rounds")
        if not 0 <= self.start_level < len(LEVEL_NAMES):
            raise InputError(f"must be 0-{len(LEVEL_NAMES) - 1}, got {self.start_level}", field="--level")
        if self.down_score > self.up_score:
            raise ValueError(f"down_score ({self.down_score}) must not exceed up_score ({self.up_score})")


@dataclass(frozen=True)
class Provocation:
    """One line the caller throws: text, persona situation, harshness level and exact voice."""

    text: str
    situation: str
    level: int
    voice: object  # persona.tts.VoiceSettings (the render-cache key)


class ProvocationDeck:
    """Provocations from a persona's lines, seeded, never one line twice while others remain.

    A level draws from its situations in turn; when their lines are all used it takes an unused
    line of the nearest level's situations (in this level's voice), and only when every line
    has been heard does a new pass begin (never with the line just heard).
    """

    def __init__(self, persona, *, seed: int = 0):
        from voicetrainer.persona.tts import band_mood, voice_for_mood

        self.persona = persona
        self._rng = random.Random(f"{seed}:{persona.id}:drill")
        self._voices = [voice_for_mood(persona.voice, band_mood(b)) for b in range(len(LEVEL_NAMES))]
        self._decks: dict[str, list[str]] = {}
        self._used: set[str] = set()
        self._last: str | None = None
        self._new_pass = False
        self._turn = 0

    def _fresh(self, situation: str) -> str | None:
        deck = [t for t in self._decks.get(situation, []) if t not in self._used]
        if not deck:
            deck = [t for t in dict.fromkeys(self.persona.lines.of(situation)) if t not in self._used]
            self._rng.shuffle(deck)
        self._decks[situation] = deck
        return deck.pop() if deck else None

    def draw(self, level: int) -> Provocation:
        for src in sorted(range(len(LEVEL_SITUATIONS)), key=lambda lv: (abs(lv - level), -lv)):
            situations = LEVEL_SITUATIONS[src]
            for j in range(len(situations)):
                situation = situations[(self._turn + j) % len(situations)]
                text = self._fresh(situation)
                if text is not None:
                    self._turn += 1
                    if self._last is not None and self._last != text and self._new_pass:
                        self._used.discard(self._last)  # held back for one draw only
                    self._new_pass = False
                    self._used.add(text)
                    self._last = text
                    return Provocation(text, situation, level, self._voices[level])
        if self._used - {self._last}:  # all heard: a new pass, not starting with the line just heard
            self._used, self._new_pass = {self._last}, True
        else:  # a persona with a single line
            self._used.clear()
        return self.draw(level)

    def all_renders(self) -> list[tuple[str, object]]:
        """Every (text, voice) a drill can ask for (to fill the render cache before starting)."""
        texts = [t for s in dict.fromkeys(s for g in LEVEL_SITUATIONS for s in g) for t in self.persona.lines.of(s)]
        return list(dict.fromkeys((text, voice) for voice in self._voices for text in texts))


@dataclass
class DrillRound:
    """One provocation and the answer to it.

    Attributes:
        index: round number from 0.
        text, situation, level: the provocation.
        line_start_s, line_end_s: when it played (drill clock, seconds).
        answer_start_s, answer_end_s: the answer as the VAD found it (None: no answer).
        score: calm score 0-100 of the answer's voice (None: baseline round or no answer).
        pitch_rise_st, loudness_rise_db, rate_change_pct: the answer against the baseline.
        feedback: the one line shown to the trainee.
        level_after: harshness of the next provocation.
        is_baseline: this answer became the baseline (no stored one).
        calm: the whole `calm_score` dict (components), for the record.
    """

    index: int
    text: str
    situation: str
    level: int
    line_start_s: float
    line_end_s: float
    answer_start_s: float | None = None
    answer_end_s: float | None = None
    score: float | None = None
    pitch_rise_st: float | None = None
    loudness_rise_db: float | None = None
    rate_change_pct: float | None = None
    feedback: str = ""
    level_after: int = 0
    is_baseline: bool = False
    calm: dict | None = None


@dataclass
class DrillResult:
    """A finished drill, ready for the history database (`HistoryDB.add_drill`)."""

    persona: str
    trainee: str | None
    date: str
    baseline_source: str
    start_level: int
    rounds: list[DrillRound] = field(default_factory=list)
    aborted: str | None = None

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.rounds if r.score is not None]

    @property
    def mean_score(self) -> float | None:
        return round(float(np.mean(self.scores)), 1) if self.scores else None

    @property
    def final_level(self) -> int:
        return self.rounds[-1].level_after if self.rounds else self.start_level

    @property
    def max_level(self) -> int:
        return max([r.level for r in self.rounds], default=self.start_level)

    def to_dict(self) -> dict:
        return {
            "persona": self.persona, "trainee": self.trainee, "date": self.date,
            "baseline_source": self.baseline_source, "start_level": self.start_level,
            "final_level": self.final_level, "max_level": self.max_level, "mean_score": self.mean_score,
            "aborted": self.aborted, "rounds": [asdict(r) for r in self.rounds],
        }  # fmt: skip


def next_level(level: int, score: float | None, options: DrillOptions = DrillOptions()) -> int:
    """Harsher after a calm answer, gentler after a tense one, the same in between or unscored."""
    if score is None:
        return level
    if score >= options.up_score:
        return min(len(LEVEL_NAMES) - 1, level + 1)
    if score < options.down_score:
        return max(0, level - 1)
    return level


def feedback_line(calm: dict, options: DrillOptions = DrillOptions()) -> str:
    """One line of immediate feedback from a `calm_score` result: the biggest problem and what
    to do about it, or that the voice held."""
    comps = calm.get("components", {})

    def delta(name: str) -> float | None:
        return (comps.get(name) or {}).get("delta")

    score = calm.get("score")
    if score is None:
        return "too little voice to score: answer in one full sentence"
    pr, lr = delta("pitch_rise"), delta("loudness_rise")
    figures = ", ".join(
        f for f in (f"pitch {pr:+.1f} st" if pr is not None else "", f"loudness {lr:+.1f} dB" if lr is not None else "") if f
    )
    worst = max(comps.items(), key=lambda kv: kv[1].get("penalty", 0.0), default=(None, {}))
    name, comp = worst
    d = comp.get("delta") or 0.0
    advice = {
        "pitch_rise": f"pitch {d:+.1f} semitones above your calm: slow down and lower your voice",
        "loudness_rise": f"{d:+.1f} dB louder than your calm: soften your voice, you don't have to win",
        "rate_change": f"{d:+.0f}% faster than your calm: slow down and pause before answering",
        "pitch_spread_rise": f"pitch swinging {d:+.1f} semitones more than your calm: keep an even tone",
        "pitch_range_rise": f"pitch range {d:+.1f} semitones wider than your calm: keep an even tone",
        "vocal_effort_rise": f"pressed voice ({d:+.1f} dB effort): breathe out, relax your throat, then answer",
    }.get(name, "tense voice: breathe out and answer more slowly")
    if score >= options.up_score:
        if comp.get("penalty", 0.0) >= NOTE_PENALTY:
            return f"calm ({score:.0f}), but {advice}"
        return f"calm ({score:.0f}): {figures} against your calm voice; well held"
    return f"{'tense' if score < options.down_score else 'almost'} ({score:.0f}): {advice}"


class CalmDrill:
    """Runs a drill on any iterator of microphone frames.

    Args:
        persona: a loaded `Persona` (its complaint and escalation lines, its voice).
        voice: ``voice(provocation) -> 16 kHz float32 audio`` (e.g. `session.practice.VoiceBank`
            over a `RenderCache`; tests pass one backed by `FakeTTS`).
        player: `Player` (headset) or `NullPlayer`; its `latency_s` delays the line's start.
        baseline: the trainee's calm voice (`session.practice.load_baseline`); None = first answer.
        trainee: name for the record.
        on_round: called with each finished `DrillRound` (the CLI prints the feedback).
        on_state: called with ("provoking" | "listening" | "answering", round, Provocation).
    """

    def __init__(
        self, persona, *, voice: Callable[[Provocation], np.ndarray], player, settings: Settings = Settings(),
        options: DrillOptions = DrillOptions(), baseline: VoiceStats | None = None, trainee: str | None = None,
        seed: int = 0, on_round: Callable[[DrillRound], None] | None = None,
        on_state: Callable[[str, int, Provocation], None] | None = None,
    ):
        self.persona = persona
        self.voice = voice
        self.player = player
        self.settings = settings
        self.options = options
        self.baseline = baseline
        self.baseline_rate = _syl(baseline) if baseline is not None else None
        self.trainee = trainee
        self.deck = ProvocationDeck(persona, seed=seed)
        self.on_round = on_round
        self.on_state = on_state
        self._line: tuple[float, float] | None = None  # (start_s, end_s) of the line playing

    def caller_active(self, t_s: float) -> bool:
        """Whether a provocation is audible at drill time `t_s` (for simulated trainees)."""
        return self._line is not None and self._line[0] <= t_s < self._line[1]

    def run(self, frames: Iterable) -> DrillResult:
        """Play every round; returns the result (also when the frames run out or the device fails
        early: `aborted` says why, the finished rounds are kept)."""
        o = self.options
        result = DrillResult(
            persona=self.persona.id, trainee=self.trainee,
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            baseline_source="stored baseline" if self.baseline is not None else "first answer",
            start_level=o.start_level,
        )  # fmt: skip
        ch = ChannelAnalyzer("trainee", self.settings, asr=False)
        level = o.start_level
        state = "pause"
        due_s = 0.3  # first provocation: once the microphone is running
        rnd: DrillRound | None = None
        prov: Provocation | None = None
        answer_start = last_end = None
        end_s = 0.0
        for frame in _until_device_fault(frames, result):
            ev = ch.push(frame.channel(0), frame.index)
            t = frame.end_s
            end_s = t
            starts = [e for e in ev.events if e.kind is EventKind.SPEECH_START]
            ends = [e for e in ev.events if e.kind is EventKind.SPEECH_END]
            if state == "pause" and t >= due_s:
                if len(result.rounds) >= o.rounds:
                    break
                prov = self.deck.draw(level)
                audio = self.voice(prov)
                start = t + float(getattr(self.player, "latency_s", 0.0) or 0.0)
                self._line = (start, start + len(audio) / SAMPLE_RATE)
                if len(audio):
                    self.player.play(audio)
                rnd = DrillRound(len(result.rounds), prov.text, prov.situation, level, *map(_r3, self._line))
                state, answer_start = "provoking", None
                self._state(state, rnd, prov)
            elif state == "provoking":
                if starts:
                    answer_start = starts[-1].t_s  # the trainee talks over the line
                if t >= self._line[1]:
                    if ch.tracker.speaking and answer_start is not None:
                        state, last_end = "answering", None
                    else:
                        state, answer_start, last_end = "listening", None, None
                    self._state(state, rnd, prov)
            elif state == "listening":
                if starts:
                    answer_start, last_end = starts[0].t_s, None
                    state = "answering"
                    self._state(state, rnd, prov)
                elif t - self._line[1] >= o.answer_timeout_s:
                    rnd.feedback = f"no answer heard in {o.answer_timeout_s:.0f} s: answer each line in one calm sentence"
                    rnd.level_after = level
                    state, due_s = self._finish(result, rnd, t)
            if state == "answering":
                if ends:
                    last_end = ends[-1].t_s
                if starts and last_end is not None and starts[-1].t_s > last_end:
                    last_end = None  # speaking again
                over = last_end is not None and not ch.tracker.speaking and t - last_end >= o.end_silence_s
                if over or t - answer_start >= o.max_answer_s:
                    if not over:  # cut while speaking: close the open segment so its voice counts
                        ch.flush()
                    answer_end = last_end if over else t
                    level = self._score(ch, rnd, answer_start, answer_end, level)
                    state, due_s = self._finish(result, rnd, t)
        else:
            if len(result.rounds) < o.rounds and result.aborted is None:
                result.aborted = f"the microphone stopped after {end_s:.1f} s"
        self._line = None
        return result

    # ------------------------------------------------------------------ internals
    def _state(self, state: str, rnd: DrillRound, prov: Provocation) -> None:
        if self.on_state:
            self.on_state(state, rnd.index, prov)

    def _finish(self, result: DrillResult, rnd: DrillRound, t: float) -> tuple[str, float]:
        result.rounds.append(rnd)
        self._line = None
        log.info("drill round %d: level %d, score %s: %s", rnd.index, rnd.level, rnd.score, rnd.feedback)
        if self.on_round:
            self.on_round(rnd)
        return "pause", t + self.options.pause_s

    def _score(self, ch: ChannelAnalyzer, rnd: DrillRound, start_s: float, end_s: float, level: int) -> int:
        """Score the answer in [start_s, end_s]; returns the next level."""
        acc = VoiceAccumulator()  # segments close once their pitch is known (< 0.2 s < end_silence_s)
        for rec in ch.segments:
            if rec.segment.start_s >= start_s - 1e-6 and rec.segment.end_s <= end_s + 1e-6:
                acc.merge(rec.voice)
        stats = acc.stats()
        rnd.answer_start_s, rnd.answer_end_s = _r3(start_s), _r3(end_s)
        if stats.voiced_frames < self.options.min_voiced_frames:
            rnd.feedback = "too little voice to score: answer in one full sentence"
            rnd.level_after = level
            return level
        if self.baseline is None:
            if stats.voiced_frames >= MIN_BASELINE_VOICED:
                self.baseline, self.baseline_rate = stats, _syl(stats)
                rnd.is_baseline = True
                rnd.feedback = (f"baseline set from this answer ({stats.pitch_median_hz:.0f} Hz, "
                                f"{stats.loudness_dbfs:.0f} dBFS): keep this voice")
            else:
                rnd.feedback = "answer a little longer so I can learn your calm voice"
            rnd.level_after = level
            return level
        calm = calm_score(stats, self.baseline, rate=_syl(stats), baseline_rate=self.baseline_rate)
        comps = calm["components"]
        rnd.calm = calm
        rnd.score = calm["score"]
        rnd.pitch_rise_st = comps["pitch_rise"]["delta"]
        rnd.loudness_rise_db = comps["loudness_rise"]["delta"]
        rnd.rate_change_pct = comps["rate_change"]["delta"]
        rnd.feedback = feedback_line(calm, self.options)
        rnd.level_after = next_level(level, rnd.score, self.options)
        return rnd.level_after


def _until_device_fault(frames: Iterable, result: DrillResult):
    """The frames, until the device fails (headset pulled): the rounds so far are kept."""
    try:
        yield from frames
    except DeviceError as e:
        log.warning("drill stopped: %s", e)
        result.aborted = str(e)


def _syl(v: VoiceStats | None) -> float | None:
    return None if v is None or math.isnan(v.syllable_rate) else v.syllable_rate * 60.0


def _r3(x: float) -> float:
    return round(float(x), 3)
