"""The small parts LiveSession wires together, each on its own: the caller's voice (queue,
release on the session clock, reply latency, barge-in cut) and the observation the caller's
mind gets (the voice of the whole turn, not just its last segment)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voicetrainer.audio.playback import CallerTrack, NullPlayer
from voicetrainer.session.caller_voice import CallerVoice
from voicetrainer.session.observe import observation, turn_voice, words_per_minute
from voicetrainer.session.pipeline import SegmentRecord, VoiceAccumulator
from voicetrainer.stream.turns import Segment
from voicetrainer.types import VoiceStats, Word

SR = 16_000


@dataclass
class Line:
    text: str
    mood: float = 5.0
    situation: str = "complaint"
    ends_call: bool = False
    decisions: list = field(default_factory=list)


def _voice(events, captions):
    return CallerVoice(voice=lambda line: np.full(SR, 0.1, np.float32), player=NullPlayer(), track=CallerTrack(),
                       emit=events.append, caption=lambda *c: captions.append(c))


def test_a_line_starts_when_due_and_its_reply_latency_counts_from_the_turn_end():
    events, captions = [], []
    cv = _voice(events, captions)
    cv.say(Line("Is that too late?", decisions=[{"t_s": 1.0, "mood_before": 5, "mood_after": 6, "reason": "r"}]),
           at_s=2.05, reply_to_s=1.4)
    assert cv.pending and [e["type"] for e in events] == ["decision", "mood"]
    cv.release(2.0, 2.02, end_grace_s=1.0)
    assert cv.pending  # not yet: due at 2.05
    cv.release(2.04, 2.06, end_grace_s=1.0)
    (line,) = [e for e in events if e["type"] == "caller_line"]
    assert line["start_s"] == 2.06 and line["end_s"] == 3.06 and cv.track.active(2.5)
    assert cv.reply_latencies == [2.06 - 1.4] and captions[0][0] == "caller" and cv.mood == 5.0


def test_the_last_line_ends_the_call_after_it_is_played():
    events, captions = [], []
    cv = _voice(events, captions)
    cv.say(Line("Goodbye.", situation="hang_up", ends_call=True), at_s=1.0)
    assert cv.finished and cv.end_at_s == float("inf")
    cv.release(1.0, 1.02, end_grace_s=1.0)
    assert cv.end_at_s == 1.02 + 1.0 + 1.0 and events[-1]["type"] == "end"


def test_a_barge_in_cuts_the_playing_line_on_the_track_and_in_the_events():
    events, captions = [], []
    cv = _voice(events, captions)
    cv.say(Line("A long complaint"), at_s=0.0)
    cv.release(0.0, 0.02, end_grace_s=1.0)
    cv.stop_for_barge_in(0.5)
    assert cv.lines[0]["cut"] and cv.lines[0]["end_s"] < 0.6 and not cv.track.active(0.7)
    assert events[-1]["type"] == "caller_line_cut"


def _segment(start_s, end_s, semitones, loud):
    acc = VoiceAccumulator()
    acc.add(pitch_st=[semitones] * 50, loudness_dbfs=[loud] * 50, speech_frames=50)
    return SegmentRecord(Segment("trainee", start_s, end_s), acc)


def test_the_observation_hears_the_whole_turn_against_the_baseline():
    segs = [_segment(0.0, 1.0, 0.0, -40.0),  # an earlier turn
            _segment(5.0, 6.0, 12.0, -30.0), _segment(6.5, 7.5, 12.0, -20.0)]  # this turn: 200 Hz
    voice = turn_voice(segs, 5.0)
    assert voice.voiced_frames == 100 and abs(voice.pitch_median_hz - 200.0) < 2.0
    base = VoiceStats(pitch_median_hz=100.0, loudness_dbfs=-30.0, voiced_frames=100)
    words = [Word("I", 5.0, 5.2), Word("am", 5.3, 5.5), Word("sorry", 5.6, 6.0)]
    obs = observation(text="I am sorry", words=words, t_s=7.5, voice=voice, baseline=base, interrupted=True)
    assert abs(obs.pitch_rise_semitones - 12.0) < 0.2 and abs(obs.loudness_rise_db - 5.0) < 0.2
    assert obs.interrupted_caller and obs.wpm == words_per_minute(words) == 3 / 1.0 * 60
    assert observation(t_s=1.0, silence_s=4.0).pitch_rise_semitones is None


def test_the_live_observation_hears_a_rising_end_of_turn_from_the_pitch_track():
    """The caller's mind is told when the trainee's pitch rose at the end of the turn (a question
    asked without a question word): read from the channel's 250 ms pitch track."""
    from voicetrainer.session.observe import observation, turn_rising_end

    t = [round(0.125 + 0.25 * k, 3) for k in range(12)]  # a 3 s turn
    flat = {"t_s": t, "pitch_hz": [120.0] * 12}
    rise = {"t_s": t, "pitch_hz": [120.0] * 8 + [None, 150.0, 165.0, 175.0]}  # about +6 semitones at the end
    fall = {"t_s": t, "pitch_hz": [150.0] * 8 + [130.0, 115.0, 105.0, 100.0]}
    assert turn_rising_end(rise, 0.0, 3.0) is True
    assert turn_rising_end(flat, 0.0, 3.0) is False and turn_rising_end(fall, 0.0, 3.0) is False
    assert turn_rising_end({"t_s": t, "pitch_hz": [None] * 12}, 0.0, 3.0) is None  # no voice: unknown
    assert turn_rising_end(rise, 10.0, 12.0) is None  # nothing in that turn
    assert observation(text="the account number", t_s=3.0, rising=True).rising_end is True
