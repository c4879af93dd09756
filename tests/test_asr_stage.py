"""The one ASR stage: the grader and the live session build the same class (packed and
incremental policies), packed jobs map back to the session clock, and the live turn policy
hands the caller's mind one decode over the whole turn, pauses included."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from voicetrainer.asr.stage import CAPTION, FINAL, AsrJob, AsrStage, IncrementalPolicy, PackedPolicy
from voicetrainer.asr.turn import TurnRecognizer
from voicetrainer.asr.whisper import Transcript
from voicetrainer.stream.ring import AudioRing
from voicetrainer.types import Word

SR = 16_000
REPO = Path(__file__).resolve().parents[1]


class BurstTranscriber:
    """A recogniser with a known answer: every 0.3 s burst of sound above -40 dBFS is one word,
    named by its start on the session clock in tenths of a second ("w12" = 1.2 s)."""

    def __init__(self, fail_over_s: float | None = None):
        self.calls: list[tuple[float, float]] = []
        self.fail_over_s = fail_over_s
        self.lock = threading.Lock()

    def transcribe(self, audio, *, offset_s=0.0):
        with self.lock:
            self.calls.append((offset_s, len(audio) / SR))
        if self.fail_over_s is not None and len(audio) / SR > self.fail_over_s:
            raise RuntimeError("too long")
        frame = 320
        loud = [np.sqrt(np.mean(audio[i : i + frame] ** 2)) > 0.01 for i in range(0, len(audio) - frame + 1, frame)]
        words, k = [], 0
        while k < len(loud):
            if loud[k]:
                j = k
                while j < len(loud) and loud[j]:
                    j += 1
                a, b = offset_s + k * frame / SR, offset_s + j * frame / SR
                words.append(Word(f"w{int(round(a * 10))}", round(a, 3), round(b, 3)))
                k = j
            else:
                k += 1
        return Transcript(words=words, text=" ".join(w.word for w in words))


def _bursts(starts_s, total_s, dur_s=0.3):
    x = np.zeros(int(total_s * SR), np.float32)
    for s in starts_s:
        x[int(s * SR) : int((s + dur_s) * SR)] = 0.1
    return x


def test_grader_and_live_session_build_the_same_stage_class(monkeypatch, tmp_path):
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.session.grader import GradeOptions, grade
    from voicetrainer.session.live import LiveOptions, LiveSession

    built = []
    real_init = AsrStage.__init__

    def spy(self, *a, **kw):
        built.append(self)
        real_init(self, *a, **kw)

    monkeypatch.setattr(AsrStage, "__init__", spy)
    wav = tmp_path / "t.wav"
    import soundfile as sf

    sf.write(wav, _bursts([0.5, 1.0, 1.5, 3.0], 5.0), SR)
    report = grade(wav, GradeOptions(), transcriber=BurstTranscriber())
    assert report.turns and report.turns[0].words
    session = LiveSession(mind=None, voice=lambda line: np.zeros(0, np.float32), player=NullPlayer(),
                          recorder=None, transcriber=BurstTranscriber(), options=LiveOptions(realtime=False))
    grader_stage, live_stage = built[0], built[-1]
    assert type(grader_stage) is type(live_stage) is AsrStage
    assert isinstance(grader_stage.policy, PackedPolicy)
    assert isinstance(live_stage.policy, IncrementalPolicy) and session.asr is live_stage
    session.asr.close()


def test_packed_job_words_go_back_to_the_session_clock():
    stage = AsrStage(BurstTranscriber(), PackedPolicy(workers=1, max_pending=0))
    piece = _bursts([0.1], 0.5)
    gap = np.zeros(int(0.3 * SR), np.float32)
    job = AsrJob("trainee", 10.0, np.concatenate([piece, gap, piece]), pieces=((0.0, 10.0, 0.5), (0.8, 42.0, 0.5)))
    stage.push(job)
    (res,) = stage.flush()
    assert [(w.start_s, w.end_s) for w in res.transcript.words] == [(10.1, 10.4), (42.1, 42.4)]
    stage.close()


def test_a_failed_packed_job_is_retried_piece_by_piece():
    stage = AsrStage(BurstTranscriber(fail_over_s=1.0), PackedPolicy(workers=1, max_pending=0))
    piece = _bursts([0.1], 0.6)
    stage.push(AsrJob("trainee", 0.0, np.concatenate([piece, piece]), pieces=((0.0, 5.0, 0.6), (0.6, 9.0, 0.6))))
    results = stage.flush()
    assert [r.start_s for r in results] == [5.0, 9.0] and all(r.transcript for r in results)
    stage.close()


def _run_turn(starts, speech_end_s, *, total_s, policy=IncrementalPolicy(wait=True), pause_min_s=0.2):
    """Feed a turn frame by frame into a TurnRecognizer; returns (recognizer, text of end())."""
    tr = BurstTranscriber()
    stage = AsrStage(tr, policy)
    ring = AudioRing(60.0)
    audio = _bursts(starts, total_s)
    rec = TurnRecognizer(stage, ring)
    rec.begin(starts[0])
    for k in range(int(speech_end_s / 0.02) + 30):
        t_end = (k + 1) * 0.02
        ring.write(audio[k * 320 : (k + 1) * 320])
        if t_end < starts[0]:
            continue
        speaking = any(s - 0.02 <= t_end <= s + 0.3 + pause_min_s for s in starts)
        rec.step(t_end, speaking=speaking)
    text = rec.end(speech_end_s)
    stage.close()
    return rec, text, tr


def test_the_caller_mind_gets_one_decode_over_the_whole_turn():
    starts = [0.5, 0.9, 1.3, 2.6, 3.0, 4.4]  # pauses of 1 s inside the turn
    rec, text, tr = _run_turn(starts, 4.7, total_s=6.0)
    assert text.text == "w5 w9 w13 w26 w30 w44"
    assert text.speculative  # decoded at the pause: nothing left to wait for at the end
    last = tr.calls[-1]
    assert last[0] <= 0.5 - 0.2 and last[0] + last[1] >= 4.7  # that decode covered the whole turn


def test_a_long_turn_decides_words_at_its_pauses_and_keeps_them():
    starts = [0.5 + 0.9 * k for k in range(25)]  # ~22 s of talk with short pauses
    end = starts[-1] + 0.3
    rec, text, tr = _run_turn(starts, end, total_s=end + 1.0)
    assert text.text.split() == [f"w{int(round(s * 10))}" for s in starts]
    assert max(d for _, d in tr.calls) < 20.0  # no decode grew past LONG_TURN_S + a pause


def test_captions_and_finals_run_on_their_own_lanes():
    stage = AsrStage(BurstTranscriber(), IncrementalPolicy(), caption_transcriber=BurstTranscriber())
    audio = _bursts([0.1], 0.5)
    stage.push(AsrJob("trainee", 0.0, audio, lane=CAPTION))
    stage.push(AsrJob("trainee", 0.0, audio, lane=FINAL))
    results = stage.poll(wait=True)
    assert sorted(r.lane for r in results) == [CAPTION, FINAL]
    assert stage._recognisers[CAPTION] is not stage._recognisers[FINAL]
    stage.push(AsrJob("trainee", 0.0, audio, lane=FINAL))
    stage.reset()
    assert stage.poll(wait=True) == []  # reset forgets what was pushed before it
    stage.close()


@pytest.mark.slow
def test_real_speech_turn_with_pauses_is_decoded_whole(transcriber):
    """jfk.wav has pauses inside one answer: the turn's text is the whole sentence."""
    import soundfile as sf

    x, sr = sf.read(REPO.parent / "shared" / "audio" / "speech" / "jfk.wav", dtype="float32")
    stage = AsrStage(transcriber, IncrementalPolicy(wait=True))
    ring = AudioRing(60.0)
    rec = TurnRecognizer(stage, ring)
    rec.begin(0.3)
    for k in range(len(x) // 320):
        ring.write(x[k * 320 : (k + 1) * 320])
        rec.step((k + 1) * 0.02, speaking=True)
    text = rec.end(len(x) / SR - 0.2).text.lower()
    stage.close()
    for phrase in ("my fellow americans", "ask not what your country can do for you", "do for your country"):
        assert phrase in text.replace(",", ""), text
