"""The browser as the headset: the WebSocket protocol's clock mapping, the playback lead, and a
whole call through `BrowserCall` with a simulated page (real speech, the real live pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from script_modules import load_script
import soundfile as sf

from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE
from voicetrainer.session.browser_headset import CLIP_HEADER, MIC_HEADER, BrowserHeadset, parse_text

REPO = Path(__file__).resolve().parents[1]
DEMO_WAV = REPO / "audio_fixtures" / "demo_trainee.wav"


def browser_client():
    return load_script("browser_client")


def mic_message(ctx_s: float, n: int = FRAME_SAMPLES, value: float = 0.0) -> bytes:
    return MIC_HEADER.pack(ctx_s) + (np.full(n, value * 32767)).astype("<i2").tobytes()


def test_session_clock_is_the_browser_audio_clock_and_gaps_are_filled():
    sent = []
    hs = BrowserHeadset(sent.append)
    hs.feed_start({"type": "start", "sample_rate": 48000, "input_latency": 0.01, "output_latency": 0.03})
    hs.feed_mic(mic_message(10.0, value=0.5))
    hs.feed_mic(mic_message(10.02, value=0.5))
    assert hs.now_s == pytest.approx(0.04)
    hs.feed_mic(mic_message(10.14))  # the page lost 100 ms (a throttled tab): silence keeps the clock
    assert hs.now_s == pytest.approx(0.16)
    assert hs.stats.gap_fill_s == pytest.approx(0.1)
    hs.end()
    frames = list(hs.frames())
    assert [f.index for f in frames] == list(range(8))
    assert frames[0].samples.shape == (FRAME_SAMPLES, 1)
    assert frames[1].samples[0, 0] == pytest.approx(0.5, abs=1e-4)
    assert np.all(frames[3].samples == 0)  # a filled gap frame
    assert hs.clock_info.session_s(10.5) == pytest.approx(0.5 + 0.04)  # heard = ctx - t0 + in + out latency


def test_clips_carry_the_session_second_and_reports_become_events_and_set_the_lead():
    sent, events = [], []
    hs = BrowserHeadset(sent.append)
    hs.attach(events.append)
    hs.feed_start({"type": "start", "output_latency": 0.02})
    for i in range(10):
        hs.feed_mic(mic_message(5.0 + i * 0.02))
    hs.play_at(np.full(1600, 0.25, dtype=np.float32), 0.45, "hello")
    line_id, at_s = CLIP_HEADER.unpack_from(sent[0])
    assert (line_id, at_s) == (1, pytest.approx(0.45))
    assert len(sent[0]) == CLIP_HEADER.size + 1600 * 2
    # the page got it 60 ms of its audio clock after the server's "now" (0.2 s) and played it on time
    hs.feed_report({"type": "played", "id": 1, "start_ctx": 5.0 + 0.45 - 0.02, "end_ctx": 5.0 + 0.55 - 0.02,
                    "received_ctx": 5.26, "output_latency": 0.02})
    hs.stop_at(1.0)
    assert json.loads(json.dumps(sent[1])) == {"type": "stop", "at_s": 1.0}
    hs.end()
    list(hs.frames())
    ev = [e for e in events if e["type"] == "caller_playback"]
    assert ev and ev[0]["heard_start_s"] == pytest.approx(0.45) and ev[0]["error_s"] == pytest.approx(0.0, abs=1e-6)
    assert ev[0]["transport_s"] == pytest.approx(0.06)
    assert hs.latency_s == pytest.approx(0.06 + 0.02 + 0.04)  # transport + speaker delay + margin
    assert events[0]["type"] == "browser_clock" and events[0]["t0_ctx_s"] == 5.0
    assert parse_text("[1]") == {} and parse_text("nonsense") == {}


def test_a_silent_browser_is_a_vanished_device():
    from voicetrainer.errors import DeviceError

    t = [0.0]
    hs = BrowserHeadset(lambda m: None, stall_timeout_s=0.2, clock=lambda: t[0])
    hs.feed_mic(mic_message(1.0))
    it = hs.frames()
    next(it)
    t[0] = 1.0
    with pytest.raises(DeviceError, match="no microphone audio"):
        next(it)


def _wire(call_holder, client_cls, wav, **kw):
    """A simulated page wired to a headset in-process (the WebSocket's two directions)."""
    holder = {}

    def to_page(message):
        holder["page"].receive(message if isinstance(message, bytes) else json.dumps(message))

    headset = BrowserHeadset(to_page)

    def to_server(message):
        if isinstance(message, bytes):
            headset.feed_mic(message)
            return
        msg = parse_text(message)
        if msg.get("type") == "start":
            headset.feed_start(msg)
        elif msg.get("type") == "played":
            headset.feed_report(msg)
        elif msg.get("type") == "end":
            call_holder["call"].end()

    holder["page"] = client_cls(to_server, wav, **kw)
    return headset, holder["page"]


@pytest.mark.slow
def test_a_whole_call_with_the_browser_as_headset(transcriber, tmp_path, evaluation):
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.session.seats import BrowserCall, CallRequest, SeatPolicy, Seats

    client = browser_client()
    seats = Seats(SeatPolicy(seats=2))
    holder = {}
    headset, page = _wire(holder, client.HeadlessBrowser, DEMO_WAV, talk_s=45.0)
    seat = seats.take("Robin Recruit", "billing-double-charge")
    req = CallRequest(persona="billing-double-charge", trainee="Robin Recruit", sessions_root=tmp_path, db=None,
                      tts_backend=FakeTTS(), assignment="a-17", max_call_s=60.0)
    call = holder["call"] = BrowserCall(req, headset, seat=seat, seats=seats, transcriber=transcriber)
    call.start()
    page.run(timeout_s=120)
    call.thread.join(timeout=60)
    assert call.error is None, call.error
    assert seats.active == 0
    folder = call.session_dir
    audio, rate = sf.read(folder / "call.wav")
    assert rate == SAMPLE_RATE and audio.shape[1] == 2
    meta = json.loads((folder / "session.json").read_text())
    assert (meta["trainee"], meta["headset"], meta["assignment"], meta["status"]) == (
        "Robin Recruit", "browser", "a-17", "complete")
    report = json.loads((folder / "report.json").read_text())
    assert report["outcome"] and report["source"]["trainee"] == "Robin Recruit"
    events = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines() if x.strip()]
    lines = [e for e in events if e["type"] == "caller_line"]
    # the answers are on the trainee channel, where the page's microphone put them (an answer the
    # caller spoke over, by the recording's own caller lines, has both channels loud)
    for start_s, end_s, _ in page.trainee.spoken:
        seg = audio[int(start_s * SAMPLE_RATE): int(end_s * SAMPLE_RATE)]
        overlap = any(c["start_s"] < end_s and start_s < c["end_s"] for c in lines)
        assert np.sqrt(np.mean(seg[:, 1] ** 2)) > 10 * np.sqrt(np.mean(seg[:, 0] ** 2) + 1e-9) or overlap
    # what the page said before the call ended (a turn the caller hung up on is not a turn)
    said = " ".join(page.answers[i].text for _, b, i in page.trainee.spoken if b <= report["duration_s"] - 1.0)
    heard = " ".join(t["text"] for t in report["turns"] if t["speaker"] == "trainee")
    assert evaluation.wer(said, heard) <= 0.25, (said, heard)
    # every line was heard when the recording says (the page's reports, mapped to the session clock)
    playback = [e for e in events if e["type"] == "caller_playback"]
    assert len(playback) == len(lines) >= 2
    assert max(abs(e["error_s"]) for e in playback) <= 0.021
    assert report["latency"]["replies"] >= 2 and report["latency"]["reply_p95_s"] <= 1.5


def test_seats_refuse_when_full_or_when_a_call_already_answers_too_slowly():
    from voicetrainer.session.seats import SeatPolicy, Seats, SeatsFull

    seats = Seats(SeatPolicy(seats=3, reply_budget_s=1.2))
    a = seats.take("ann", "p")
    with pytest.raises(SeatsFull, match="ann already has a practice call"):
        seats.take("ann", "p")  # a second tab
    a.replies = lambda: [0.6, 0.7, 0.8]
    b = seats.take("bob", "p")
    b.replies = lambda: [0.9, 1.0, 1.9, 2.1]  # this call already misses the budget: a third would be worse
    with pytest.raises(SeatsFull, match=r"already answer in 2\.0[0-9] s"):
        seats.take("cy", "p")
    b.replies = lambda: [0.9]
    c = seats.take("cy", "p")
    with pytest.raises(SeatsFull, match="all 3 practice seats are in use"):
        seats.take("dee", "p")
    assert seats.refused == 3
    for s in (a, b, c):
        seats.release(s)
    assert seats.active == 0 and [u for u, _, _ in seats.finished] == ["ann", "bob", "cy"]
    assert SeatPolicy().limit >= 1


def test_captions_of_all_seats_share_a_few_slots():
    import threading
    import time as _time

    from voicetrainer.session.seats import GatedRecogniser

    running, peak, lock = [0], [0], threading.Lock()

    class Slow:
        def transcribe(self, audio, *, offset_s=0.0):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            _time.sleep(0.05)
            with lock:
                running[0] -= 1
            return "ok"

    gate = threading.BoundedSemaphore(1)
    recs = [GatedRecogniser(Slow(), gate) for _ in range(4)]
    threads = [threading.Thread(target=r.transcribe, args=(np.zeros(10),)) for r in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1
