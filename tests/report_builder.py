"""Hand-made `Report` objects for report, rubric and history tests.

`make_report()` builds a plausible 96-second call: an angry caller about a late refund, a
trainee who apologises, repeats the order number back, interrupts once, tells the caller to
calm down once, gives a timeframe, and a long silence while they look the order up. Word times
are spread evenly over each turn, so a phrase's time is predictable.
"""

from __future__ import annotations

import math

from voicetrainer.report.schema import Evidence, Interruption, Report, Skill, Turn, Word, SKILLS

# (speaker, start_s, end_s, text)
SCRIPT = [
    ("caller", 0.5, 9.0, "I have been waiting three weeks for my refund on order 4471 and nobody calls me back"),
    ("trainee", 9.8, 16.0, "Thank you for calling. I'm so sorry this happened, that sounds really frustrating."),
    ("caller", 16.5, 24.0, "Frustrating? It is outrageous. I was promised the money in five days."),
    ("trainee", 23.2, 27.5, "Please calm down, sir, that's our policy."),
    ("caller", 28.0, 33.0, "Don't tell me to calm down."),
    ("trainee", 33.8, 40.5, "You're right. So the refund for order 4471 has not arrived, is that correct?"),
    ("caller", 41.0, 44.0, "Yes, that's correct."),
    # 44.0 .. 52.0: silence while the trainee looks it up (8 s)
    ("trainee", 52.0, 62.0, "I will escalate this to our payments team today and you will get an email within 48 hours."),
    ("caller", 62.6, 66.0, "Fine. Thank you."),
    ("trainee", 66.5, 70.0, "Thank you for your patience, have a good day."),
]
DURATION_S = 96.0


def words_for(text: str, start_s: float, end_s: float) -> list[Word]:
    """Words spread evenly over [start_s, end_s]."""
    toks = text.split()
    step = (end_s - start_s) / len(toks)
    return [Word(w, round(start_s + k * step, 3), round(start_s + (k + 0.9) * step, 3), 0.9) for k, w in enumerate(toks)]


def make_turns() -> list[Turn]:
    turns = []
    for spk, a, b, text in SCRIPT:
        words = words_for(text, a, b)
        t = Turn(spk, a, b, text=text, words=words, text_source="asr")
        if spk == "trainee":
            t.wpm = round(len(words) / ((words[-1].end_s - words[0].start_s) / 60.0), 1)
            t.calm = {"score": 70.0}
        turns.append(t)
    return turns


def make_tracks(duration_s: float = DURATION_S, rate_hz: float = 4.0) -> dict:
    n = int(duration_s * rate_hz)
    ts = [round(k / rate_hz, 2) for k in range(n)]
    trainee_spans = [(a, b) for s, a, b, _ in SCRIPT if s == "trainee"]
    pitch, loud = [], []
    for t in ts:
        speaking = any(a <= t <= b for a, b in trainee_spans)
        # the voice rises while told "calm down" (23-28 s): outside the band on purpose
        rise = 45.0 if 23.0 <= t <= 28.0 else 0.0
        pitch.append(round(180 + 12 * math.sin(t / 2.0) + rise, 1) if speaking else None)
        loud.append(round(-24 + 2 * math.sin(t / 3.0) + (6 if rise else 0), 1) if speaking else -60.0)
    return {
        "trainee": {"t_s": ts, "pitch_hz": pitch, "loudness_dbfs": loud},
        "caller": {"t_s": ts, "pitch_hz": [None] * n, "loudness_dbfs": [-30.0] * n},
    }


def make_report(*, with_skills: bool = True, audio: str = "session.wav") -> Report:
    turns = make_turns()
    r = Report(
        duration_s=DURATION_S,
        turns=turns,
        interruptions=[
            Interruption(by="trainee", start_s=23.2, overlap_s=0.8, kind="interruption", stopped_first="caller", words=4),
            Interruption(by="caller", start_s=40.2, overlap_s=0.3, kind="backchannel", words=1),
        ],
        metrics={
            "trainee_wpm": 142.0,
            "talk_ratio": 0.48,
            "mean_response_gap_s": 0.7,
            "longest_silence_s": 8.0,
            "interruptions_by_trainee": 1,
            "filler_rate": 2.0,  # per 100 words
            "calm": {
                "score": 72.0,
                "pitch_median_hz": 184.0,
                "pitch_sd_semitones": 2.4,
                "loudness_dbfs": -23.0,
                "baseline": {"pitch_median_hz": 180.0, "pitch_sd_semitones": 2.0, "loudness_dbfs": -24.0},
                "components": {"pitch": 0.7, "loudness": 0.8},
            },
        },
        tracks=make_tracks(),
        source={"audio": audio, "mode": "practice", "persona": "angry_refund", "trainee": "alex"},
        events=[
            {"type": "mood", "t_s": 0.5, "mood": "angry", "reason": "start"},
            {"type": "mood", "t_s": 16.0, "mood": "annoyed", "reason": "apology"},
            {"type": "mood", "t_s": 27.5, "mood": "furious", "reason": "told to calm down"},
            {"type": "mood", "t_s": 41.0, "mood": "annoyed", "reason": "repeat-back"},
            {"type": "mood", "t_s": 62.0, "mood": "calm", "reason": "timeframe"},
        ],
    )
    if with_skills:
        r.skills = {
            name: Skill(score=50.0 + 5 * k, evidence=[Evidence(10.0 + 8 * k, "I'm so sorry this happened", f"apology (+{k + 5})")])
            for k, name in enumerate(SKILLS)
        }
        r.skills["courtesy"].evidence.append(Evidence(23.2, "calm down", "dismissive (−20)"))
        r.overall = 65.0
    return r


def write_wav(path, duration_s: float = DURATION_S, sr: int = 8000) -> None:
    """A quiet two-tone WAV standing in for the recording."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(duration_s * sr)) / sr
    y = 0.05 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0)
    sf.write(str(path), y.astype("float32"), sr)
