"""One source for each shared rule: the rubric's thresholds, the caller's mind, the live
nudges and the plots all read `voicetrainer.rules`, and a rubric file changes them together."""

from __future__ import annotations

import dataclasses

import yaml

from voicetrainer.analysis.rubric import Thresholds, load_rubric
from voicetrainer.rules import RULES, Rules
from voicetrainer.session.nudges import Nudges
from voicetrainer.types import VoiceStats


def test_rubric_defaults_are_the_shared_rules():
    th = Thresholds()
    assert (th.wpm_min, th.wpm_max, th.long_silence_s) == (RULES.wpm_min, RULES.wpm_max, RULES.long_silence_s)
    shipped = load_rubric().thresholds
    assert Rules.from_thresholds(shipped) == RULES  # the shipped rubric says what the defaults say


def test_a_rubric_file_moves_the_rule_everywhere(tmp_path):
    p = tmp_path / "strict.yaml"
    p.write_text(yaml.safe_dump({"thresholds": {"long_silence_s": 2.0, "wpm_max": 150}}))
    rules = Rules.from_thresholds(load_rubric(p).thresholds)
    assert (rules.long_silence_s, rules.wpm_band) == (2.0, (120.0, 150.0))
    assert rules.rushing_wpm == RULES.rushing_wpm  # not a rubric threshold: unchanged


def test_rushing_is_one_rule_for_the_caller_and_the_live_nudge():
    from voicetrainer.persona.dialog import Thresholds as DialogThresholds

    for patience in (0, 4, 10):
        assert DialogThresholds.for_patience(patience).rushing_wpm == RULES.rushing_wpm_for(patience)
    n = Nudges(RULES)
    n.pace(0.0, RULES.rushing_wpm - 1)
    assert n.current(0.0) is None
    n.pace(0.0, RULES.rushing_wpm + 1)
    assert n.current(0.0) == "slow down"


def test_live_voice_nudges_follow_the_rules():
    base = VoiceStats(pitch_median_hz=200.0, loudness_dbfs=-30.0, voiced_frames=100)
    rules = dataclasses.replace(RULES, pitch_rise_semitones=2.0)
    n = Nudges(rules, base)
    n.voice(0.0, pitch_hz=200.0 * 2 ** (2.5 / 12), level_dbfs=-30.0)
    assert n.current(0.0) == "lower your voice, breathe"
    n = Nudges(RULES, base)
    n.voice(0.0, pitch_hz=200.0 * 2 ** (2.5 / 12), level_dbfs=-30.0 + RULES.loudness_rise_db + 1)
    assert n.current(0.0) == "a little softer"
    assert n.current(10.0) is None  # held 4 s, then gone
