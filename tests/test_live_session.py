"""Live practice through the injected-stream path: a whole call with a paced simulated
microphone (MicSource + SimulatedInputStream), the caller played by `Player` into a fake output
stream, FakeTTS voices. Asserts what a trainee would notice if it broke."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.audio.fakes import output_factory
from voicetrainer.audio.playback import CallerTrack, Player
from voicetrainer.persona.tts import FakeTTS
from voicetrainer.session.live import LiveOptions
from voicetrainer.session.practice import simulate
from voicetrainer.session.simulate import Answer, ScriptedTrainee

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "audio_fixtures" / "demo_trainee.wav"
SR = 16_000


@pytest.fixture(scope="module")
def live_call(tmp_path_factory, transcriber):
    out = tmp_path_factory.mktemp("live") / "session"
    factory = output_factory(speed=2.0)
    updates = []
    report = simulate(
        "billing-double-charge", DEMO, out, realtime=True, speed=2.0, transcriber=transcriber,
        tts_backend=FakeTTS(), player_factory=lambda: Player(stream_factory=factory), db=None,
        on_update=updates.append, html=False,
    )
    return report, out, factory.streams[-1], updates


def test_caller_audio_reaches_the_output(live_call):
    report, out, stream, _ = live_call
    played = stream.captured[:, 0]
    caller_lines = [e for e in (out / "events.jsonl").read_text().splitlines() if '"caller_line"' in e]
    assert len(caller_lines) >= 3
    loud = np.abs(played) > 0.05
    assert loud.mean() > 0.05, "the fake headset heard (almost) nothing"
    # what the player played matches what the recording says the caller said (within 25%)
    rec, rate = sf.read(out / "call.wav", always_2d=True)
    rec_caller_s = (np.abs(rec[:, 0]) > 0.05).sum() / rate
    played_s = loud.sum() / stream.samplerate
    assert played_s == pytest.approx(rec_caller_s, rel=0.25)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_trainee_answers_are_transcribed_and_caller_text_is_known(live_call):
    report, out, *_ = live_call
    # the caller may hang up before every scripted answer is used: compare with what was said
    said = json.loads((out / "trainee_script.json").read_text())
    assert len(said) >= 3
    said_words = _words(" ".join(a["text"] for a in said))
    heard_words = set(_words(" ".join(t.text for t in report.turns if t.speaker == "trainee")))
    # Whisper tiny.en on this reader gets most words ("amiable" -> "Amy a bull" is its own error);
    # a broken turn cut or a lost answer drops recall well below this
    recall = sum(w in heard_words for w in said_words) / len(said_words)
    assert recall >= 0.6, (recall, heard_words)
    caller = [t for t in report.turns if t.speaker == "caller"]
    assert len(caller) >= 3 and all(t.text_source == "known" and t.text for t in caller)
    assert len([t for t in report.turns if t.speaker == "trainee" and t.text]) >= 3


def test_answer_during_a_caller_line_is_an_interruption_and_a_barge_in(live_call):
    report, out, *_ = live_call
    by_trainee = [i for i in report.interruptions if i.by == "trainee" and i.kind == "interruption"]
    assert by_trainee, report.interruptions
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    barge = [e for e in events if e["type"] == "barge_in"]
    assert barge and barge[0]["detected_s"] - barge[0]["t_s"] < 0.3
    assert report.latency["barge_in_p50_s"] is not None
    assert report.latency["reply_p50_s"] is not None and report.latency["replies"] >= 2


def test_session_folder_is_complete_and_regrades_offline(live_call, transcriber):
    from voicetrainer.session.grader import grade

    report, out, *_ = live_call
    meta = json.loads((out / "session.json").read_text())
    assert meta["status"] == "complete" and meta["persona"] == "billing-double-charge"
    assert (out / "report.json").exists()
    saved = json.loads((out / "report.json").read_text())
    assert saved["schema"] == "voicetrainer.report/1" and saved["latency"]["reply_p95_s"] is not None
    regraded = grade(out, transcriber=transcriber)
    # how the call ended comes from the dialog engine, kept in session.json and re-graded alike
    assert report.outcome in ("resolved", "hung_up", "turn_limit", "ended_by_trainee") and report.outcome_reason
    assert saved["outcome"] == meta["outcome"] == regraded.outcome == report.outcome
    # live and offline share every stage: same trainee turns, same delivery metrics (within ASR noise)
    live_t = [t for t in report.turns if t.speaker == "trainee"]
    off_t = [t for t in regraded.turns if t.speaker == "trainee"]
    assert [round(t.start_s, 2) for t in live_t] == [round(t.start_s, 2) for t in off_t]
    assert regraded.metrics["calm"]["score"] == pytest.approx(report.metrics["calm"]["score"], abs=1e-6)
    assert regraded.metrics["trainee_wpm"] == pytest.approx(report.metrics["trainee_wpm"], rel=0.15)


def test_live_view_gets_updates_with_mood_and_captions(live_call):
    *_, updates = live_call
    assert len(updates) > 20
    assert any(u.mood is not None for u in updates)
    assert any(c["speaker"] == "trainee" for u in updates for c in u.captions)
    assert updates[-1].ended


def test_caller_track_cut_and_read_are_bounded():
    track = CallerTrack()
    tone = np.ones(SR, dtype=np.float32) * 0.5
    track.add(tone, 0.1)
    assert track.active(0.5) and not track.active(1.2)
    end = track.cut(0.5)
    assert end == pytest.approx(0.5 + 0.03, abs=0.002)  # 30 ms fade
    frames = [track.read(i) for i in range(100)]
    assert frames[10].max() == pytest.approx(0.5) and frames[40].max() == 0.0
    assert track._clips == []  # finished clips are forgotten


def test_scripted_trainee_waits_for_the_caller_and_barges_in():
    caller = {"on": (1.0, 3.0)}
    active = lambda t: caller["on"][0] <= t < caller["on"][1]  # noqa: E731
    audio = np.full(SR * 4, 0.3, dtype=np.float32)
    sim = ScriptedTrainee(audio, [Answer(0.0, 1.0, "after_caller", gap_s=0.5),
                                  Answer(1.0, 2.0, "during_caller", delay_s=0.4)], active)
    for _ in range(250):
        sim.block(320)
    start, end, idx = sim.spoken[0]
    assert idx == 0 and start == pytest.approx(3.5, abs=0.03) and end == pytest.approx(4.5, abs=0.03)
    caller["on"] = (5.0, 9.0)
    for _ in range(150):
        sim.block(320)
    assert sim.spoken[1][0] == pytest.approx(5.4, abs=0.03)


def test_accelerated_simulation_is_deterministic(tmp_path, transcriber):
    kw = dict(realtime=False, transcriber=transcriber, tts_backend=FakeTTS(), db=None, html=False, seed=3,
              options=LiveOptions(realtime=False))
    a = simulate("delayed-order-peak", DEMO, tmp_path / "a", **kw)
    b = simulate("delayed-order-peak", DEMO, tmp_path / "b", **kw)
    ta = [(t.speaker, t.text) for t in a.turns if t.speaker == "caller"]
    tb = [(t.speaker, t.text) for t in b.turns if t.speaker == "caller"]
    assert ta == tb and len(ta) >= 3


class _Words:
    """A recogniser that answers at once: one word per half second of audio."""

    def __init__(self, delay_s: float = 0.0, word: str = "okay"):
        self.delay_s, self.word, self.calls = delay_s, word, 0

    def transcribe(self, audio, *, offset_s: float = 0.0):
        import time

        from voicetrainer.asr import Transcript
        from voicetrainer.report.schema import Word

        self.calls += 1
        time.sleep(self.delay_s)
        n = max(1, int(len(audio) / SR / 0.5))
        words = [Word(self.word, round(offset_s + 0.5 * i, 3), round(offset_s + 0.5 * i + 0.4, 3), 0.9) for i in range(n)]
        return Transcript(words, " ".join(w.word for w in words))


def test_end_of_turn_never_waits_behind_a_slow_caption_update(tmp_path):
    """Captions run on their own recogniser: even when each caption update takes 1.5 s, the
    caller answers ~0.65 s after the trainee stops (turn-end silence + the instant final job)."""
    factory = output_factory(speed=2.0)
    final, captions = _Words(word="final"), _Words(delay_s=1.5, word="caption")
    report = simulate(
        "billing-double-charge", DEMO, tmp_path / "s", realtime=True, speed=2.0, transcriber=final,
        caption_transcriber=captions, tts_backend=FakeTTS(), player_factory=lambda: Player(stream_factory=factory),
        db=None, html=False,
    )
    assert captions.calls >= 1 and final.calls >= 3  # both lanes were used
    assert report.latency["replies"] >= 3
    # a reply that waited for a caption update would take >= 0.6 + 1.5 * 2 (speed) seconds
    assert report.latency["reply_p95_s"] < 1.0, report.latency
    trainee = [t for t in report.turns if t.speaker == "trainee" and t.text]
    assert trainee and all("final" in t.text for t in trainee)  # the final lane's text wins
