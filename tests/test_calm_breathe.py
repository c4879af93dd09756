"""Breathing pacer: the schedule follows the pattern, and the rendered (and played) cue tones
start where the schedule says, within 50 ms."""

from __future__ import annotations

import numpy as np
import pytest

from voicetrainer.calm.breathe import (
    PATTERNS, Cue, Pacer, ToneOptions, breathing_suggestion, cue_schedule, cue_tone, get_pattern, lung_fill,
    phase_at, render_cues,
)
from voicetrainer.errors import InputError

from test_live_pulse import pulse  # noqa: F401 - the PulseAudio fixture (module-scoped daemon)

SR = 16_000
TOL_S = 0.050  # the timing requirement


def onsets(audio: np.ndarray, sr: int, *, threshold_dbfs: float = -50.0, min_gap_s: float = 0.2) -> np.ndarray:
    """Times (s) of tone onsets: a sample above the threshold with none in the `min_gap_s` before it."""
    hot = np.flatnonzero(np.abs(audio) > 10 ** (threshold_dbfs / 20))
    if not len(hot):
        return np.zeros(0)
    starts = hot[np.concatenate([[True], np.diff(hot) > min_gap_s * sr])]
    return starts / sr


def test_patterns_as_data():
    assert [(p.name, p.duration_s) for p in PATTERNS["box"].phases] == [
        ("inhale", 4), ("hold", 4), ("exhale", 4), ("hold_out", 4)]
    assert [(p.name, p.duration_s) for p in PATTERNS["4-7-8"].phases] == [("inhale", 4), ("hold", 7), ("exhale", 8)]
    assert PATTERNS["resonance"].breaths_per_min == pytest.approx(5.5)
    assert PATTERNS["box"].cycle_s == 16 and PATTERNS["4-7-8"].cycle_s == 19


@pytest.mark.parametrize("name", list(PATTERNS))
def test_schedule_follows_pattern(name):
    pattern = PATTERNS[name]
    cues = cue_schedule(pattern, minutes=1.0, lead_in_s=1.0)
    cycles = int(np.ceil(60 / pattern.cycle_s))
    assert len(cues) == cycles * len(pattern.phases)
    assert cues[0].start_s == 1.0
    for a, b in zip(cues, cues[1:]):
        assert b.start_s == pytest.approx(a.end_s)  # back to back
    assert [c.phase for c in cues[: len(pattern.phases)]] == [p.name for p in pattern.phases]
    assert cues[-1].end_s - 1.0 == pytest.approx(cycles * pattern.cycle_s)


@pytest.mark.parametrize("name", list(PATTERNS))
def test_rendered_cue_onsets_match_schedule(name):
    cues = cue_schedule(PATTERNS[name], minutes=1.0)
    audio = render_cues(cues)
    found = onsets(audio, SR)
    want = np.array([c.start_s for c in cues])
    assert len(found) == len(want), (found, want)
    assert np.max(np.abs(found - want)) < TOL_S
    # soft: the loudest sample stays well below full scale
    assert np.max(np.abs(audio)) < 0.1


def test_cue_timing_through_the_player_at_48k():
    """Played by `Player` on a (fake) 48 kHz device: onsets in what the device got keep the
    schedule's spacing within 50 ms, and `Pacer.position_s` follows the device clock."""
    from voicetrainer.audio.fakes import output_factory
    from voicetrainer.audio.playback import Player

    cues = cue_schedule(PATTERNS["resonance"], minutes=0.5, lead_in_s=0.5)
    audio = render_cues(cues)
    factory = output_factory(realtime=True, speed=40.0)
    with Player(sample_rate=48_000, stream_factory=factory) as player:
        pacer = Pacer(audio, player=player)
        pacer.start()
        import time

        deadline = time.monotonic() + 20
        while not pacer.done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pacer.done
    played = factory.streams[-1].captured[:, 0]
    found = onsets(played, 48_000)
    want = np.array([c.start_s for c in cues])
    assert len(found) == len(want)
    rel_found, rel_want = found - found[0], want - want[0]
    assert np.max(np.abs(rel_found - rel_want)) < TOL_S


def test_glides_rise_on_inhale_and_fall_on_exhale():
    o = ToneOptions()

    def f0(x: np.ndarray) -> float:  # zero crossings per second / 2
        return np.count_nonzero(np.diff(np.signbit(x))) * SR / len(x) / 2

    n = int(0.15 * SR)
    up, down = cue_tone("inhale", 4.0, o), cue_tone("exhale", 4.0, o)
    assert f0(up[n : 2 * n]) < f0(up[-2 * n : -n]) - 40
    assert f0(down[n : 2 * n]) > f0(down[-2 * n : -n]) + 40
    hold, hold_out = cue_tone("hold", 4.0, o), cue_tone("hold_out", 4.0, o)
    assert f0(hold[: len(hold) // 2]) == pytest.approx(o.hold_hz, rel=0.05)
    assert f0(hold_out[: len(hold_out) // 2]) == pytest.approx(o.hold_out_hz, rel=0.05)
    # short fades: no click at either end
    for tone in (up, down, hold, hold_out):
        assert abs(tone[0]) < 1e-4 and abs(tone[-1]) < 1e-3


def test_phase_at_and_animation_fill():
    cues = cue_schedule(PATTERNS["box"], minutes=0.25, lead_in_s=1.0)
    assert phase_at(cues, 0.5) == (None, 0.0)
    c, p = phase_at(cues, 3.0)
    assert c.phase == "inhale" and p == pytest.approx(0.5)
    assert lung_fill(c, p) == pytest.approx(0.5)
    c, p = phase_at(cues, 11.0)  # exhale 9..13
    assert c.phase == "exhale" and lung_fill(c, p) == pytest.approx(0.5)
    assert lung_fill(*phase_at(cues, 7.0)) == 1.0 and lung_fill(*phase_at(cues, 15.0)) == 0.0
    c, p = phase_at(cues, 1e6)
    assert c is cues[-1] and p == 1.0


def test_pacer_without_audio_uses_the_injected_clock():
    now = [100.0]
    pacer = Pacer(np.zeros(SR * 2, np.float32), clock=lambda: now[0])
    pacer.start()
    now[0] += 1.5
    assert pacer.position_s() == pytest.approx(1.5) and not pacer.done
    now[0] += 1.0
    assert pacer.done


def test_bad_arguments_name_the_option():
    with pytest.raises(InputError, match="--pattern"):
        get_pattern("square")
    with pytest.raises(InputError, match="--minutes"):
        cue_schedule(PATTERNS["box"], minutes=0)
    with pytest.raises(InputError, match="--minutes"):
        cue_schedule(PATTERNS["box"], minutes=1000)


def test_breathing_offered_after_hard_calls():
    from voicetrainer.report.schema import Report

    calm = Report(duration_s=60, metrics={"calm": {"score": 90}, "recovery": {"unrecovered": 0}}, source={"outcome": "resolved"})
    assert breathing_suggestion(calm) is None
    hung = Report(duration_s=60, metrics={"calm": {"score": 90}}, source={"outcome": "hung_up"})
    assert "calm breathe" in breathing_suggestion(hung) and "hung up" in breathing_suggestion(hung)
    tense = Report(duration_s=60, metrics={"calm": {"score": 41}})
    assert "41/100" in breathing_suggestion(tense)
    stuck = Report(duration_s=60, metrics={"calm": {"score": 80}, "recovery": {"unrecovered": 1}})
    assert "settled" in breathing_suggestion(stuck)


def test_cue_dataclass_end():
    assert Cue("inhale", 1.0, 4.0, 0).end_s == 5.0


@pytest.mark.pulse
def test_cue_timing_on_a_real_output_device(pulse):
    """The real sounddevice path (PulseAudio null sink, its monitor as the microphone): the cues
    heard keep the schedule's spacing within 50 ms, and the animation clock (`Pacer.position_s`,
    the device's sample count minus its latency) is within 150 ms of what comes back."""
    from voicetrainer.audio.playback import Player
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.calm.breathe import BREATHE_BLOCK_MS, BreathPattern, Phase

    pulse("set-default-source", "vsink.monitor")
    quick = BreathPattern("quick", tuple(Phase(p, 1.0) for p in ("inhale", "hold", "exhale", "hold_out")), "test")
    cues = cue_schedule(quick, minutes=8 / 60, lead_in_s=0.5)
    audio = render_cues(cues)
    heard, clock = [], []
    with MicSource(device="pulse") as mic, Player(device="pulse", blocksize_ms=BREATHE_BLOCK_MS) as player:
        frames = iter(mic)
        next(frames)  # the input stream is running (PulseAudio takes up to ~2 s to deliver)
        pacer = Pacer(audio, player=player)
        pacer.start()
        t0 = None
        for f in frames:
            t0 = f.start_s if t0 is None else t0
            heard.append(f.channel(0).copy())
            clock.append(pacer.position_s())
            if pacer.done and f.end_s - t0 > pacer.duration_s + 0.5:
                break
    rec = np.concatenate(heard)
    found = onsets(rec, SR)
    want = np.array([c.start_s for c in cues])
    assert player.stats.underflows == 0 and mic.stats.overflows == 0
    assert len(found) == len(want), (found, want)
    assert np.max(np.abs((found - found[0]) - (want - want[0]))) < TOL_S
    # the animation clock when each cue came back on the monitor (mic frame -> pacer position);
    # measured: 100 ms ahead (one 100 ms output block; the monitor path adds its own delay)
    ahead = np.array([clock[int(x * SR) // 320] for x in found]) - want
    assert np.all(np.abs(ahead) <= 0.15), f"animation clock off by {ahead} s when the cues were heard"
