"""Calm-voice drill: espeak-ng answers at a calm and a raised pitch, fed as the microphone.

The raised-pitch answer must score lower than the calm ones, with feedback about pitch, and the
drill must get gentler after it and harsher after calm answers.
"""

from __future__ import annotations

import numpy as np
import pytest
from calm_voices import CALM_PITCH, RAISED_PITCH, SR, say

from voicetrainer.calm.drill import (
    LEVEL_SITUATIONS, CalmDrill, DrillOptions, ProvocationDeck, feedback_line, next_level,
)

CALM = dict(pitch=CALM_PITCH, rate_wpm=160)
RAISED = dict(pitch=RAISED_PITCH, rate_wpm=190, gain_db=6)
SENTENCES = [
    ("Thank you for telling me, I will look into it right away.", CALM),
    ("I hear you, and I am going to sort this out for you today.", CALM),
    ("That is not my problem, you should have read the contract!", RAISED),
    ("I understand, let me check your account and fix this now.", CALM),
    ("I am sorry about that, I can see the charge right here.", CALM),
]


@pytest.fixture(scope="module")
def persona():
    from voicetrainer.persona.loader import load_persona

    return load_persona("billing-double-charge")


@pytest.fixture(scope="module")
def answers():
    """One recording of the answers (0.5 s apart) and the simulation script for it."""
    from voicetrainer.session.simulate import Answer

    audio, script, pos = [], [], 0
    for text, how in SENTENCES:
        clip = say(text, **how)
        audio += [clip, np.zeros(SR // 2, np.float32)]
        script.append(Answer(pos / SR, (pos + len(clip)) / SR, gap_s=0.6))
        pos += len(clip) + SR // 2
    return np.concatenate(audio), script


@pytest.fixture()
def voice(tmp_path):
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.practice import VoiceBank

    return VoiceBank(RenderCache(tmp_path / "tts", backend=FakeTTS()))


def test_raised_pitch_scores_lower_and_the_drill_adapts(persona, answers, voice):
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.session.simulate import ScriptedTrainee

    audio, script = answers
    shown = []
    drill = CalmDrill(persona, voice=voice, player=NullPlayer(), options=DrillOptions(rounds=5, start_level=1),
                      on_round=shown.append)
    sim = ScriptedTrainee(audio, script, drill.caller_active)
    result = drill.run(sim.frames(max_s=120))
    assert result.aborted is None and len(result.rounds) == 5 and shown == result.rounds
    base, calm1, raised, calm2, calm3 = result.rounds
    # no stored baseline: the first answer is the baseline, unscored, level kept
    assert base.is_baseline and base.score is None and base.level_after == 1
    assert result.baseline_source == "first answer"
    # each answer was found where the simulated trainee said it (VAD start/end within 0.2 s)
    for rnd, (start, end, k) in zip(result.rounds, sim.spoken):
        assert rnd.answer_start_s == pytest.approx(start, abs=0.2)
        assert rnd.answer_end_s == pytest.approx(end, abs=0.3)
        assert rnd.answer_start_s > rnd.line_end_s  # answered after the provocation
    # calm answers score high; the raised one clearly lower, and the feedback says why
    for rnd in (calm1, calm2, calm3):
        assert rnd.score >= 90 and abs(rnd.pitch_rise_st) < 1.5
    assert raised.score < 65 and raised.score < min(calm1.score, calm2.score) - 25
    assert raised.pitch_rise_st > 5
    assert raised.feedback.startswith("tense") and "semitones above your calm" in raised.feedback
    # adaptive: harsher after calm, gentler after tense
    assert [r.level for r in result.rounds] == [1, 1, 2, 1, 2]
    assert [r.level_after for r in result.rounds] == [1, 2, 1, 2, 3]
    assert result.final_level == 3 and result.max_level == 2
    assert result.mean_score == pytest.approx(np.mean([calm1.score, raised.score, calm2.score, calm3.score]), abs=0.1)


def test_through_micsource_and_player_with_stored_baseline(persona, answers, voice, tmp_path):
    """The real stream path: MicSource fed by a simulated input stream, the provocations played
    by Player on a fake output device; a stored baseline means the first answer is scored."""
    import time

    import soundfile as sf

    from voicetrainer.audio.fakes import output_factory
    from voicetrainer.audio.playback import Player
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.session.grader import analyze_voice_file
    from voicetrainer.session.simulate import ScriptedTrainee, SimulatedInputStream

    audio, script = answers
    path = tmp_path / "baseline.wav"
    sf.write(str(path), say("My name is Alex, and I will be glad to help you with your account.", **CALM), SR)
    baseline, _ = analyze_voice_file(path)
    speed = 8.0
    out = output_factory(realtime=True, speed=speed)
    with Player(stream_factory=out) as player:
        drill = CalmDrill(persona, voice=voice, player=player, baseline=baseline,
                          options=DrillOptions(rounds=2, start_level=2))
        sim = ScriptedTrainee(audio[int(script[1].start_s * SR):], [
            type(a)(a.start_s - script[1].start_s, a.end_s - script[1].start_s, gap_s=0.6) for a in script[1:3]
        ], drill.caller_active)
        consumed = [0]

        class Lockstep(SimulatedInputStream):
            """Paced like the simulated mic, but at most 5 blocks ahead of the drill: on a loaded
            machine the simulated trainee must not run past a line it is meant to hear."""

            def _run(self):
                period = self.blocksize / self.samplerate / self.speed
                k = 0
                while not self._stop.is_set():
                    while k - consumed[0] > 5 and not self._stop.is_set():
                        time.sleep(0.001)
                    self.callback(self.trainee.block(self.blocksize)[:, None], self.blocksize, None, None)
                    k += 1
                    time.sleep(period)

        def counted(frames):
            for f in frames:
                consumed[0] += 1
                yield f

        with MicSource(stream_factory=lambda **kw: Lockstep(sim, speed=speed, **kw)) as mic:
            result = drill.run(counted(mic))
    calm, raised = result.rounds
    assert result.baseline_source == "stored baseline" and not calm.is_baseline
    assert calm.score >= 85 and raised.score < 65
    assert (calm.level, calm.level_after, raised.level, raised.level_after) == (2, 3, 3, 2)
    # the harsher round's line came from the escalation lines, and it was played on the device
    assert raised.situation == "escalation"
    played = out.streams[-1].captured[:, 0]
    assert np.sqrt(np.mean(played**2)) > 1e-3


def test_no_answer_skips_the_round(persona, voice):
    from voicetrainer.audio.frames import Frame
    from voicetrainer.audio.playback import NullPlayer

    def silence(max_s: float):
        rng = np.random.default_rng(0)
        for i in range(int(max_s / 0.02)):
            yield Frame((rng.standard_normal((320, 1)) * 1e-3).astype(np.float32), i * 0.02, i)

    drill = CalmDrill(persona, voice=voice, player=NullPlayer(), options=DrillOptions(rounds=2, answer_timeout_s=3))
    result = drill.run(silence(60))
    assert len(result.rounds) == 2 and result.aborted is None
    assert all(r.score is None and r.answer_start_s is None and "no answer" in r.feedback for r in result.rounds)
    assert result.final_level == 1 and result.mean_score is None
    short = CalmDrill(persona, voice=voice, player=NullPlayer(), options=DrillOptions(rounds=3, answer_timeout_s=3))
    assert short.run(silence(5)).aborted.startswith("the microphone stopped")


def test_deck_gets_harsher_with_level(persona):
    deck = ProvocationDeck(persona, seed=1)
    provs = [deck.draw(level) for level in (0, 1, 2, 2, 3, 3)]
    assert [p.situation for p in provs] == ["complaint", "complaint", "escalation", "complaint", "escalation", "escalation"]
    assert all(p.text in persona.lines.of(p.situation) for p in provs)
    pitches = [deck.draw(level).voice.pitch for level in range(4)]
    rates = [deck.draw(level).voice.rate_wpm for level in range(4)]
    assert pitches == sorted(pitches) and pitches[0] < pitches[-1]
    assert rates == sorted(rates) and rates[0] < rates[-1]
    # never the same line twice before the situation's lines are used up
    esc = [ProvocationDeck(persona, seed=2).draw(3).text]
    d = ProvocationDeck(persona, seed=2)
    texts = [d.draw(3).text for _ in persona.lines.escalation]
    assert sorted(texts) == sorted(persona.lines.escalation) and esc[0] == texts[0]
    assert len(deck.all_renders()) >= sum(len(persona.lines.of(s)) for s in {s for g in LEVEL_SITUATIONS for s in g})


def test_next_level_and_feedback():
    o = DrillOptions()
    assert next_level(1, 90, o) == 2 and next_level(3, 95, o) == 3
    assert next_level(1, 40, o) == 0 and next_level(0, 10, o) == 0
    assert next_level(2, 70, o) == 2 and next_level(2, None, o) == 2
    comps = {"pitch_rise": {"delta": 3.2, "penalty": 16.2}, "loudness_rise": {"delta": 2.0, "penalty": 1.2},
             "rate_change": {"delta": None, "penalty": 0.0}}
    line = feedback_line({"score": 55, "components": comps}, o)
    assert line == "tense (55): pitch +3.2 semitones above your calm: slow down and lower your voice"
    comps = {"pitch_rise": {"delta": 0.2, "penalty": 0}, "loudness_rise": {"delta": 7.0, "penalty": 13.8}}
    assert "louder than your calm" in feedback_line({"score": 70, "components": comps}, o)
    assert feedback_line({"score": 96, "components": comps}, o).startswith("calm (96)")


def test_bad_options_name_the_flag():
    from voicetrainer.errors import InputError

    with pytest.raises(InputError, match="--rounds"):
        DrillOptions(rounds=0)
    with pytest.raises(InputError, match="--level"):
        DrillOptions(start_level=7)


def test_long_answer_is_cut_and_still_scored(persona, answers, voice):
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.session.simulate import ScriptedTrainee

    audio, script = answers
    drill = CalmDrill(persona, voice=voice, player=NullPlayer(), options=DrillOptions(rounds=2, max_answer_s=2.5))
    sim = ScriptedTrainee(audio, script[:2], drill.caller_active)
    base, calm = drill.run(sim.frames(max_s=60)).rounds
    assert base.is_baseline and calm.score is not None and calm.score >= 85
    assert calm.answer_end_s - calm.answer_start_s == pytest.approx(2.5, abs=0.05)


def test_louder_answer_feedback_on_real_voices(tmp_path):
    """Same voice, 10 dB louder: the score drops and the feedback names loudness, not pitch."""
    import soundfile as sf

    from voicetrainer.analysis.calm import calm_score
    from voicetrainer.session.grader import analyze_voice_file

    def stats(name, **how):
        path = tmp_path / f"{name}.wav"
        sf.write(str(path), say("I hear you, and I am going to sort this out for you today.", **how), SR)
        return analyze_voice_file(path)[0]

    base, loud = stats("base", **CALM), stats("loud", **CALM, gain_db=10)
    calm = calm_score(loud, base)
    assert calm["components"]["loudness_rise"]["delta"] == pytest.approx(10, abs=1.5)  # measured 9.0
    assert calm["score"] < 90
    assert "louder than your calm" in feedback_line(calm)


def test_pulled_headset_keeps_the_rounds_so_far(persona, answers, voice):
    """The microphone stalls in the third round (MicSource raises DeviceError): the drill ends
    with the two finished rounds and says why."""
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.errors import DeviceError
    from voicetrainer.session.simulate import ScriptedTrainee

    audio, script = answers
    drill = CalmDrill(persona, voice=voice, player=NullPlayer(), options=DrillOptions(rounds=4))
    sim = ScriptedTrainee(audio, script, drill.caller_active)

    def mic():
        for frame in sim.frames(max_s=120):
            if len(drill_rounds) == 2:
                raise DeviceError("the microphone stopped delivering audio for 2.0 s (headset unplugged?)")
            yield frame

    drill_rounds = []
    drill.on_round = drill_rounds.append
    result = drill.run(mic())
    assert len(result.rounds) == 2 and "headset unplugged" in result.aborted
    assert result.rounds[1].score is not None


def test_deck_never_repeats_a_provocation_while_others_remain(persona):
    """Issue #16 item 11: a drill that climbs to "furious" used up the escalation lines and
    threw the same one in rounds 3 and 4 while complaint lines were still unheard."""
    pool = {t for s in dict.fromkeys(s for g in LEVEL_SITUATIONS for s in g) for t in persona.lines.of(s)}
    for seed in range(5):
        deck = ProvocationDeck(persona, seed=seed)
        levels = [0, 1, 2, 3, 3, 3, 3, 3, 2, 3] * 3
        texts = [deck.draw(level).text for level in levels[: len(pool)]]
        assert len(set(texts)) == len(texts) == len(pool), seed
        again = [deck.draw(3).text for _ in range(len(pool))]  # a second pass: never back-to-back
        assert again[0] != texts[-1] and len(set(again)) == len(again)
        assert all(p.voice == deck._voices[3] for p in [deck.draw(3)])  # the level's own voice
