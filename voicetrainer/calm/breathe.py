"""Paced breathing: patterns as data, a cue schedule, and soft audio cues on the headset.

    pattern = PATTERNS["box"]                       # 4-4-4-4; also "4-7-8", "resonance"
    cues = cue_schedule(pattern, minutes=3)         # [Cue(phase, start_s, duration_s, cycle)]
    audio = render_cues(cues)                       # 16 kHz float32, one buffer for the session
    cue, progress = phase_at(cues, t_s)             # what the animation shows at time t_s

Each phase starts with a short soft tone: breathing in is a rising glide, breathing out a
falling one, holding a short steady tone (higher after the in-breath, lower after the out-breath).
Rendering the whole session into one buffer makes the cue timing sample-exact on the device
clock; the animation reads the same clock (`Pacer.position_s`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from voicetrainer.config import SAMPLE_RATE
from voicetrainer.errors import InputError

PHASES = ("inhale", "hold", "exhale", "hold_out")
PHASE_LABELS = {"inhale": "Breathe in", "hold": "Hold", "exhale": "Breathe out", "hold_out": "Hold (empty)"}
MAX_MINUTES = 60.0
BREATHE_BLOCK_MS = 100.0  # output block for the pacer: nothing here needs low latency, and large
                          # blocks ride out a busy machine (20 ms blocks underran on a loaded 2-core box)


@dataclass(frozen=True)
class Phase:
    """One step of a breathing cycle: `name` in PHASES, `duration_s` seconds."""

    name: str
    duration_s: float


@dataclass(frozen=True)
class BreathPattern:
    """A breathing cycle.

    Attributes:
        name: the id used on the command line.
        phases: the cycle's phases in order.
        description: one line for the user.
    """

    name: str
    phases: tuple[Phase, ...]
    description: str

    @property
    def cycle_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def breaths_per_min(self) -> float:
        return 60.0 / self.cycle_s


RESONANCE_HALF_S = 60.0 / 5.5 / 2  # 5.5 breaths a minute, in and out equally long: 5.45 s each

PATTERNS: Mapping[str, BreathPattern] = {
    "box": BreathPattern(
        "box", (Phase("inhale", 4.0), Phase("hold", 4.0), Phase("exhale", 4.0), Phase("hold_out", 4.0)),
        "box breathing: in 4, hold 4, out 4, hold 4 (3.75 breaths/min)",
    ),
    "4-7-8": BreathPattern(
        "4-7-8", (Phase("inhale", 4.0), Phase("hold", 7.0), Phase("exhale", 8.0)),
        "4-7-8: in 4, hold 7, out 8 slowly (3.2 breaths/min)",
    ),
    "resonance": BreathPattern(
        "resonance", (Phase("inhale", RESONANCE_HALF_S), Phase("exhale", RESONANCE_HALF_S)),
        "resonance breathing: in 5.5, out 5.5 (5.5 breaths/min)",
    ),
}


def get_pattern(name: str) -> BreathPattern:
    try:
        return PATTERNS[name]
    except KeyError:
        raise InputError(f"unknown breathing pattern {name!r}; choose one of {', '.join(PATTERNS)}",
                         field="--pattern") from None


@dataclass(frozen=True)
class Cue:
    """One phase on the session clock.

    Attributes:
        phase: a name in PHASES.
        start_s: when the phase (and its tone) starts, seconds from the start of the audio.
        duration_s: how long the phase lasts.
        cycle: breathing cycle number, from 0.
    """

    phase: str
    start_s: float
    duration_s: float
    cycle: int

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def cue_schedule(pattern: BreathPattern, *, minutes: float = 3.0, lead_in_s: float = 1.0) -> list[Cue]:
    """The cues of whole cycles covering at least `minutes` (at least one cycle), after
    `lead_in_s` seconds of silence (time to settle the headset)."""
    if not (isinstance(minutes, (int, float)) and 0 < minutes <= MAX_MINUTES):
        raise InputError(f"must be more than 0 and at most {MAX_MINUTES:g} minutes, got {minutes!r}", field="--minutes")
    if lead_in_s < 0:
        raise ValueError(f"lead_in_s must be >= 0, got {lead_in_s}")
    cycles = max(1, math.ceil(minutes * 60.0 / pattern.cycle_s - 1e-9))
    cues: list[Cue] = []
    t = lead_in_s
    for c in range(cycles):
        for p in pattern.phases:
            cues.append(Cue(p.name, round(t, 6), p.duration_s, c))
            t += p.duration_s
    return cues


@dataclass(frozen=True)
class ToneOptions:
    """How the cues sound.

    Attributes:
        sample_rate_hz: of the rendered buffer.
        level_dbfs: RMS level of the steady part of a tone (soft: well below speech).
        glide_s: length of the in/out glides (never longer than half the phase).
        hold_tone_s: length of the steady hold tones.
        attack_ms, release_ms: raised-cosine fade in and out (no clicks).
        low_hz, high_hz: glide range; in = low -> high, out = high -> low.
        hold_hz, hold_out_hz: steady tones after the in-breath (higher) and out-breath (lower).
        overtone_db: level of the second harmonic relative to the fundamental (warmth).
    """

    sample_rate_hz: int = SAMPLE_RATE
    level_dbfs: float = -28.0
    glide_s: float = 1.2
    hold_tone_s: float = 0.35
    attack_ms: float = 15.0
    release_ms: float = 150.0
    low_hz: float = 220.0
    high_hz: float = 330.0
    hold_hz: float = 294.0
    hold_out_hz: float = 196.0
    overtone_db: float = -18.0


def cue_tone(phase: str, duration_s: float, options: ToneOptions = ToneOptions()) -> np.ndarray:
    """The tone that starts one phase, [shape=(n,)] float32; its first sample is the cue onset."""
    o = options
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if phase in ("inhale", "exhale"):
        length_s = min(o.glide_s, duration_s / 2)
        f0, f1 = (o.low_hz, o.high_hz) if phase == "inhale" else (o.high_hz, o.low_hz)
    else:
        length_s = min(o.hold_tone_s, duration_s / 2)
        f0 = f1 = o.hold_hz if phase == "hold" else o.hold_out_hz
    n = max(1, int(round(length_s * o.sample_rate_hz)))
    t = np.arange(n) / o.sample_rate_hz
    # exponential glide: equal pitch steps per second; phase = 2*pi * integral of f(t)
    k = math.log(f1 / f0) / max(length_s, 1e-9)
    ph = 2 * np.pi * (f0 * t if abs(k) < 1e-12 else f0 * (np.exp(k * t) - 1.0) / k)
    y = np.sin(ph) + 10 ** (o.overtone_db / 20) * np.sin(2 * ph)
    env = np.ones(n)
    a = min(n, int(o.attack_ms / 1000 * o.sample_rate_hz))
    r = min(n - a, int(o.release_ms / 1000 * o.sample_rate_hz))
    if a:
        env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    if r:
        env[n - r :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, r + 1) / r)
    rms = math.sqrt((1 + 10 ** (o.overtone_db / 10)) / 2)  # RMS of the steady two-partial tone
    return (y * env * 10 ** (o.level_dbfs / 20) / rms).astype(np.float32)


def render_cues(cues: list[Cue], options: ToneOptions = ToneOptions(), *, tail_s: float = 0.5) -> np.ndarray:
    """The whole session as one buffer [shape=(n,)] float32: each cue's tone at its start."""
    if not cues:
        return np.zeros(0, dtype=np.float32)
    sr = options.sample_rate_hz
    out = np.zeros(int(round((cues[-1].end_s + tail_s) * sr)), dtype=np.float32)
    memo: dict[tuple[str, float], np.ndarray] = {}
    for c in cues:
        tone = memo.get((c.phase, c.duration_s))
        if tone is None:
            tone = memo[(c.phase, c.duration_s)] = cue_tone(c.phase, c.duration_s, options)
        i = int(round(c.start_s * sr))
        out[i : i + len(tone)] += tone[: len(out) - i]
    return out


def phase_at(cues: list[Cue], t_s: float) -> tuple[Cue | None, float]:
    """The cue in progress at `t_s` and how far into it (0..1); (None, 0) before the first cue,
    (last cue, 1.0) after the end."""
    if not cues or t_s < cues[0].start_s:
        return None, 0.0
    lo, hi = 0, len(cues) - 1
    while lo < hi:  # last cue with start_s <= t_s
        mid = (lo + hi + 1) // 2
        if cues[mid].start_s <= t_s:
            lo = mid
        else:
            hi = mid - 1
    c = cues[lo]
    return c, min(1.0, max(0.0, (t_s - c.start_s) / c.duration_s))


def lung_fill(cue: Cue | None, progress: float) -> float:
    """How full the animation's breath bar is (0..1): grows while breathing in, stays full on
    hold, empties breathing out, stays empty on hold_out."""
    if cue is None:
        return 0.0
    return {"inhale": progress, "hold": 1.0, "exhale": 1.0 - progress}.get(cue.phase, 0.0)


class Pacer:
    """Plays a rendered session on a player and reports its position on the audio clock.

    Args:
        player: an open `Player` (or `NullPlayer`); None = silent (animation only).
        clock: seconds, monotonic; used when there is no audio to follow (injectable for tests).
    """

    def __init__(self, audio: np.ndarray, *, player=None, sample_rate_hz: int = SAMPLE_RATE,
                 clock: Callable[[], float] | None = None):
        import time

        from voicetrainer.audio.playback import NullPlayer

        self.audio = audio
        self.player = player
        self.sample_rate_hz = sample_rate_hz
        self.duration_s = len(audio) / sample_rate_hz
        self._clock = clock or time.monotonic
        self._audio_clock = player is not None and not isinstance(player, NullPlayer)
        self._t0: float | None = None
        self._samples0 = 0

    def start(self) -> None:
        self._t0 = self._clock()
        if self.player is not None:
            self._samples0 = self.player.stats.samples_out
            self.player.play(self.audio)

    def position_s(self) -> float:
        """Seconds of the session heard so far: the output device's sample count (minus its
        latency) when playing on a device, the clock otherwise."""
        if self._t0 is None:
            return 0.0
        if self._audio_clock and self.player.sample_rate:
            heard = (self.player.stats.samples_out - self._samples0) / self.player.sample_rate
            return max(0.0, heard - self.player.latency_s)
        return self._clock() - self._t0

    @property
    def done(self) -> bool:
        return self.position_s() >= self.duration_s


def breathing_suggestion(report) -> str | None:
    """One line offering a breathing exercise after a hard call (hang-up, or a voice that stayed
    high: calm score below 60, or not back inside the baseline band after an escalation)."""
    metrics = report.metrics or {}
    calm = (metrics.get("calm") or {}).get("score")
    rec = metrics.get("recovery") or {}
    if (report.source or {}).get("outcome") == "hung_up":
        why = "the caller hung up"
    elif calm is not None and calm < 60:
        why = f"your voice stayed well above your calm baseline (calm {calm:.0f}/100)"
    elif rec.get("unrecovered"):
        why = "your voice had not settled back to your calm baseline after the caller escalated"
    else:
        return None
    return f"{why}: take two minutes to reset: voicetrainer calm breathe --pattern resonance --minutes 2"
