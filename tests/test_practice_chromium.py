"""Browser practice in headless Chromium with a fake microphone playing real speech.

Chromium's fake capture device plays a WAV (``--use-file-for-fake-audio-capture``) into
getUserMedia; the page's AudioWorklet sends it over the WebSocket to the server, where the
live pipeline runs; the caller (FakeTTS) plays back in the page. The session folder must be a
practice call's: the two-channel recording with the speech on the trainee channel, the report
with the trainee's words (WER <= 0.25 against the clip's transcript) and the outcome. Then two
browsers in calls at the same time, each its own session.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from chromium_helpers import NEEDS_CHROMIUM, quit_chromium, start_chromium
from test_web_browser import _console_errors, _css, _shot, _wait, shots  # noqa: F401
from web_helpers import REPO, serve

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = [*NEEDS_CHROMIUM, pytest.mark.slow]

LEAD_SILENCE_S = 9.0  # the caller's opening line plays first
TAIL_SILENCE_S = 14.0  # room for the caller's answer


def speech_wav(shared_audio: Path, name: str, out_dir: Path) -> tuple[Path, str, float]:
    """A shared speech clip, padded with silence, as the 48 kHz 16-bit mono WAV Chromium plays."""
    from voicetrainer.audio.playback import resample

    with open(shared_audio / "MANIFEST.tsv", newline="") as f:
        text = next(r["transcript_or_label"] for r in csv.DictReader(f, delimiter="\t") if r["file"] == f"speech/{name}.wav")
    audio, rate = sf.read(shared_audio / "speech" / f"{name}.wav", dtype="float32", always_2d=True)
    audio = resample(audio.mean(axis=1), rate, 48000)
    out = np.concatenate([np.zeros(int(LEAD_SILENCE_S * 48000), np.float32), audio,
                          np.zeros(int(TAIL_SILENCE_S * 48000), np.float32)])
    path = out_dir / f"{name}-fake-mic.wav"
    sf.write(path, out, 48000, subtype="PCM_16")
    return path, text, len(audio) / 48000


@pytest.fixture(scope="module")
def site(tmp_path_factory, transcriber):
    import os

    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.web.services import WebApp

    root = tmp_path_factory.mktemp("practice-web")
    old = os.environ.get("VOICETRAINER_DATA")
    os.environ["VOICETRAINER_DATA"] = str(root / "data")
    personas = root / "personas"
    shutil.copytree(REPO / "personas", personas)
    ctx = WebApp(personas_dir=personas, tts_backend=FakeTTS(), transcriber=transcriber)
    ctx.accounts.add("rick", "recruit-pass-1", "recruit", cohort="autumn")
    ctx.accounts.add("rita", "recruit-pass-2", "recruit", cohort="autumn")
    server = serve(ctx)
    try:
        yield type("Site", (), {"ctx": ctx, "url": server.url.rstrip("/")})
    finally:
        server.shutdown()
        server.server_close()
        if old is None:
            os.environ.pop("VOICETRAINER_DATA", None)
        else:
            os.environ["VOICETRAINER_DATA"] = old


def chromium(fake_mic: Path):
    """Chromium whose microphone plays `fake_mic` once (the page may play the caller unprompted)."""
    return start_chromium(args=("--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
                                "--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={fake_mic}%noloop"))


quit_ = quit_chromium


def login(driver, url: str, name: str, password: str) -> None:
    driver.get(url + "/login")
    _css(driver, "input[name=username]")[0].send_keys(name)
    _css(driver, "input[name=password]")[0].send_keys(password)
    _css(driver, "form button[type=submit], form input[type=submit]")[0].click()
    _wait(lambda: "/login" not in driver.current_url, 10, "the login")


def run_call(driver, url: str, persona: str, speech_s: float, *, assignment: str | None = None) -> dict:
    """Open the practice page, start the call, let the clip be said and answered, end it."""
    driver.get(url + f"/practice/{persona}" + (f"?assignment={assignment}" if assignment else ""))
    _css(driver, "#start-call")[0].click()
    _wait(lambda: not _css(driver, "#end-call")[0].get_attribute("disabled"), 60, "the microphone to open")
    started = time.monotonic()
    root = _css(driver, "#practice-call")[0]
    # the clip is said after LEAD_SILENCE_S; wait for the trainee's caption and the caller's answer
    def answered():
        items = driver.execute_script("return [...document.querySelectorAll('#captions li')].map(li => li.className)")
        return "trainee" in items and items[-1] == "caller" or root.get_attribute("data-session")
    _wait(answered, 60, "the caller's answer to the trainee")
    time.sleep(max(0.0, LEAD_SILENCE_S + speech_s + 4.0 - (time.monotonic() - started)))
    if not root.get_attribute("data-session"):
        _css(driver, "#end-call")[0].click()
    _wait(lambda: root.get_attribute("data-session") or root.get_attribute("data-error"), 90, "the end of the call")
    return {"session": root.get_attribute("data-session"), "outcome": root.get_attribute("data-outcome"),
            "error": root.get_attribute("data-error"), "status": _css(driver, "#status")[0].text}


def check_session(site, result: dict, trainee: str, text: str, evaluation, *, assignment: str | None = None) -> dict:
    assert result["session"], result
    folder = site.ctx.sessions_root / result["session"]
    audio, rate = sf.read(folder / "call.wav")
    assert rate == 16000 and audio.shape[1] == 2
    meta = json.loads((folder / "session.json").read_text())
    assert meta["trainee"] == trainee and meta["headset"] == "browser" and meta.get("assignment") == assignment
    report = json.loads((folder / "report.json").read_text())
    assert report["outcome"] and report["outcome"] == result["outcome"]
    heard = " ".join(t["text"] for t in report["turns"] if t["speaker"] == "trainee")
    assert evaluation.wer(text, heard) <= 0.25, (text, heard)
    # the speech is on the trainee channel where the page's microphone put it
    turns = [t for t in report["turns"] if t["speaker"] == "trainee" and t["text"]]
    a, b = int(turns[0]["start_s"] * rate), int(turns[-1]["end_s"] * rate)
    trainee_rms = np.sqrt(np.mean(audio[a:b, 1] ** 2))
    assert trainee_rms > 0.01 and trainee_rms > 3 * np.sqrt(np.mean(audio[a:b, 0] ** 2))
    events = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines() if x.strip()]
    playback = [e for e in events if e["type"] == "caller_playback"]
    assert playback, "the page reported no caller playback"
    return {"report": report, "events": events, "playback": playback}


def test_a_whole_call_from_chromium_with_a_fake_microphone(site, shared_audio, evaluation, tmp_path, shots):
    wav, text, speech_s = speech_wav(shared_audio, "librivox_0870", tmp_path)
    d = chromium(wav)
    try:
        login(d, site.url, "rick", "recruit-pass-1")
        result = run_call(d, site.url, "billing-double-charge", speech_s, assignment="a-3")
        _shot(d, shots, "practice-browser-call")
        errors = _console_errors(d)
    finally:
        quit_(d)
    got = check_session(site, result, "rick", text, evaluation, assignment="a-3")
    assert not errors, errors
    clock = next(e for e in got["events"] if e["type"] == "browser_clock")
    print("browser clock:", clock, "playback:", got["playback"], "latency:", got["report"]["latency"])


def test_two_browsers_in_calls_at_the_same_time(site, shared_audio, evaluation, tmp_path):
    clips = {"rick": ("recruit-pass-1", "librivox_0870"), "rita": ("recruit-pass-2", "librivox_0920")}
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        password, clip = clips[name]
        wav, text, speech_s = speech_wav(shared_audio, clip, tmp_path)
        d = chromium(wav)
        try:
            login(d, site.url, name, password)
            results[name] = {**run_call(d, site.url, "billing-double-charge", speech_s), "text": text}
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            quit_(d)

    threads = [threading.Thread(target=one, args=(n,)) for n in clips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert results["rick"]["session"] != results["rita"]["session"]
    for name, res in results.items():
        check_session(site, res, name, res["text"], evaluation)
