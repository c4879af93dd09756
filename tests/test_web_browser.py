"""The web app in headless Chromium (Debian's chromium + chromedriver, driven by selenium).

A server on a free loopback port in a thread, a FakeTTS caller voice and the shared Whisper model:
persona list -> a simulated accelerated call -> captions arrive live -> End call -> report page
-> history; the persona editor shows a schema error beside its line; mic check, calm, batch.
Screenshots go to ``$VOICETRAINER_SCREENSHOTS`` (default: the test's temp folder).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chromium_helpers import (  # noqa: F401 - CHROMIUM/CHROMEDRIVER for the modules that import them from here
    CHROMEDRIVER, CHROMIUM, NEEDS_CHROMIUM, console_errors, css, quit_chromium, screenshot, screenshots_dir,
    start_chromium, wait_for,
)

REPO = Path(__file__).resolve().parents[1]
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e .[dev])")

pytestmark = NEEDS_CHROMIUM
_wait, _css, _shot, _console_errors = wait_for, css, screenshot, console_errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshots_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def web(tmp_path_factory, transcriber):
    """The app on 127.0.0.1:<free port> with its own data and personas folders."""
    from voicetrainer.audio.fakes import input_factory
    from voicetrainer.persona.tts import FakeTTS
    from voicetrainer.web.server import WebApp, make_server

    root = tmp_path_factory.mktemp("web")
    old = os.environ.get("VOICETRAINER_DATA")
    os.environ["VOICETRAINER_DATA"] = str(root / "data")
    personas = root / "personas"
    shutil.copytree(REPO / "personas", personas)
    app = WebApp(tts_backend=FakeTTS(), transcriber=transcriber, personas_dir=personas,
                 mic_stream_factory=input_factory(REPO / "audio_fixtures" / "demo_trainee.wav", speed=4.0),
                 input_roots=[tmp_path_factory.getbasetemp()])  # the batch test's folder of recordings
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _wait(lambda: server.server.started, 10, "the server to start")
    try:
        yield type("Web", (), {"app": app, "url": server.url.rstrip("/"), "root": root, "personas": personas})
    finally:
        server.shutdown()
        server.server_close()
        if app.call is not None:
            app.call.thread.join(timeout=60)
        if old is None:
            os.environ.pop("VOICETRAINER_DATA", None)
        else:
            os.environ["VOICETRAINER_DATA"] = old


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium(args=("--autoplay-policy=no-user-gesture-required",))
    try:
        yield driver
    finally:
        quit_chromium(driver)


def test_persona_list_simulated_call_captions_end_call_report(web, browser, shots):
    d = browser
    # first the recruit records their calm voice (a fake mic plays the demo recording's voice)
    d.get(web.url + "/mic")
    name = _css(d, "#bl-trainee")[0]
    name.clear()
    name.send_keys("Alex Demo")
    _css(d, "#bl-start")[0].click()
    _wait(lambda: "Saved for Alex Demo" in _css(d, "#bl-status")[0].text, 20, "the calm-voice baseline")
    assert (web.root / "data" / "baselines" / "Alex-Demo.json").is_file()
    _shot(d, shots, "00-mic-baseline")

    d.get(web.url + "/practice")
    cards = _css(d, "#personas label.card")
    assert len(cards) >= 8
    titles = " ".join(c.text for c in cards)
    assert "Sandra" in titles and "medium" in titles  # name and difficulty on the card
    chosen = _css(d, "input[name=persona]:checked")
    assert chosen and chosen[0].get_attribute("value") == "billing-double-charge"
    assert _css(d, "#no-devices"), "this machine has no sound card: the page must say so"
    # the caller cards are a radio group: arrow keys move the choice
    from selenium.webdriver.common.keys import Keys

    chosen[0].send_keys(Keys.ARROW_RIGHT)
    assert _css(d, "input[name=persona]:checked")[0].get_attribute("value") != "billing-double-charge"
    _css(d, "input[name=persona]:checked")[0].send_keys(Keys.ARROW_LEFT)
    assert _css(d, "input[name=persona]:checked")[0].get_attribute("value") == "billing-double-charge"
    name = _css(d, "#trainee")[0]
    name.clear()
    name.send_keys("Alex Demo")
    _shot(d, shots, "01-home")
    assert _css(d, "#simulate")[0].is_selected()  # preselected without devices
    _css(d, "#accelerated")[0].click()
    _css(d, "#start")[0].click()
    _wait(lambda: d.current_url.endswith("/call"), 10, "the call page")

    # captions of both sides arrive without reloading the page
    marker = d.execute_script("window.__same_page = 1; return 1")
    _wait(lambda: {li.get_attribute("class") for li in _css(d, "#captions li")} >= {"caller", "trainee"},
          60, "captions from both the caller and the trainee")
    assert d.execute_script("return window.__same_page") == marker
    mood = _css(d, "#mood-word")[0].text
    assert "/ 10" in mood
    assert _css(d, "#clock")[0].text != "00:00"
    # the trainee's voice against their own baseline band
    assert not _css(d, "#level-band")[0].get_attribute("hidden") and not _css(d, "#pitch-band")[0].get_attribute("hidden")
    assert "calm" in _css(d, "#level-text")[0].text
    _shot(d, shots, "02-live-call")

    # a second Start call while one runs is refused with a message (the page's session and token)
    token = d.execute_script("return document.querySelector('meta[name=csrf-token]').content")
    cookie = f"vt_session={d.get_cookie('vt_session')['value']}"
    req = urllib.request.Request(web.url + "/api/call/start", data=b"persona=confused-elderly&simulate=1",
                                 headers={"Origin": web.url, "Accept": "text/html", "Cookie": cookie,
                                          "X-CSRF-Token": token}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 409 and b"already running" in e.value.read()

    n_before = len(_css(d, "#captions li"))
    _css(d, "#end-call")[0].click()
    _wait(lambda: "/sessions/" in d.current_url and d.current_url.endswith("/report.html"), 60, "the report page")
    assert web.app.call.state == "done"
    snap = web.app.call.snapshot()
    assert len(snap["captions"]) >= n_before
    # ended early: the call is shorter than the demo script (about 50 s of call time)
    report = json.loads((web.app.call.session_dir / "report.json").read_text())
    assert report["source"]["status"] == "complete" and report["duration_s"] < 45
    h1 = _css(d, "h1")[0].text
    assert "Call report" in h1
    assert _css(d, "nav[aria-label=voicetrainer] a")  # the app's links above the report
    assert _css(d, "ol.transcript li.trainee")
    _shot(d, shots, "03-report")
    assert not _console_errors(d)

    d.get(web.url + "/history")
    rows = _css(d, "#calls tbody tr")
    assert len(rows) == 1 and "billing-double-charge" in rows[0].text and "Alex Demo" in rows[0].text
    _wait(lambda: d.execute_script("var i=document.querySelector('img.trend');return i&&i.complete&&i.naturalWidth>0"),
          20, "the trend plot")
    _shot(d, shots, "04-history")
    _css(d, "#calls tbody tr a")[0].click()
    _wait(lambda: d.current_url.endswith("/report.html"), 10, "the report from the history")


def test_persona_editor_shows_validation_error_beside_the_field(web, browser, shots):
    d = browser
    d.get(web.url + "/personas")
    rows = _css(d, "#persona-table tbody tr")
    assert len(rows) >= 8 and all("valid" in r.text for r in rows)
    _shot(d, shots, "05-personas")
    edit = [a for a in _css(d, "#persona-table a") if "billing-double-charge" in a.get_attribute("href")]
    edit[0].click()
    _wait(lambda: _css(d, "#persona-form"), 10, "the editor's form tab")
    _css(d, "#tab-yaml")[0].click()
    _wait(lambda: _css(d, "#yaml"), 10, "the editor's YAML tab")
    text = _css(d, "#yaml")[0].get_attribute("value")
    assert "start_anger: 7" in text
    bad = text.replace("start_anger: 7", "start_anger: 14")
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if "start_anger" in s)
    d.execute_script("var t=document.getElementById('yaml');t.value=arguments[0];"
                     "t.dispatchEvent(new Event('input'))", bad)
    _css(d, "#validate")[0].click()
    note = _wait(lambda: [n for n in _css(d, "#notes .note") if n.get_attribute("data-field") == "temperament.start_anger"],
                 10, "the error note beside temperament.start_anger")[0]
    assert "must be at most 10" in note.text
    # beside the field: the note sits on the same row as the bad line, and that line is marked
    ta = _css(d, "#yaml")[0]
    d.execute_script("arguments[0].scrollTop=0", ta)
    d.execute_script("arguments[0].dispatchEvent(new Event('scroll'))", ta)
    note_top = note.rect["y"] - ta.rect["y"]
    assert abs(note_top - (6 + (line - 1) * 21)) <= 3, (note_top, line)
    marked = [g.text for g in _css(d, "#gutter .bad")]
    assert marked == [str(line)]
    assert "temperament.start_anger" in _css(d, "#issues")[0].text
    assert ta.get_attribute("aria-invalid") == "true"
    d.execute_script("arguments[0].scrollIntoView({block:'center'})", note)
    _shot(d, shots, "06-editor-error", full=False)
    # saving is refused while invalid; the file is unchanged
    _css(d, "#save")[0].click()
    _wait(lambda: "Not saved" in _css(d, "#issues-summary")[0].text, 10, "the refusal to save")
    assert "start_anger: 7" in (web.personas / "billing-double-charge.yaml").read_text()

    # fix it, preview every line (FakeTTS renders; the page gets playable WAVs)
    d.execute_script("var t=document.getElementById('yaml');t.value=arguments[0];", text)
    _css(d, "#preview")[0].click()
    lines = _wait(lambda: _css(d, "#preview-lines li[data-url]"), 30, "the preview lines")
    assert len(lines) >= 20 and not _css(d, "#notes .note")
    url = lines[0].get_attribute("data-url")
    with urllib.request.urlopen(web.url + url, timeout=10) as r:
        assert r.headers["Content-Type"] == "audio/wav" and r.read(4) == b"RIFF"
    _css(d, "#play-all")[0].click()
    _wait(lambda: _css(d, "#preview-lines li.playing"), 5, "a line playing")
    _shot(d, shots, "07-editor-preview")
    assert not _console_errors(d)

    # a new persona from the template: saved into the personas folder, then offered to recruits
    d.get(web.url + "/personas")
    _css(d, "#new-id")[0].send_keys("angry-landlord\n")
    _wait(lambda: _css(d, "#tab-yaml"), 10, "the new persona editor")
    _css(d, "#tab-yaml")[0].click()
    _wait(lambda: _css(d, "#file-name"), 10, "the new persona's YAML tab")
    assert _css(d, "#file-name")[0].get_attribute("value") == "angry-landlord.yaml"
    template = _css(d, "#yaml")[0].get_attribute("value")
    assert "id: angry-landlord" in template
    d.execute_script("document.getElementById('yaml').value=arguments[0]",
                     template.replace("name: Alex Morgan", "name: Morgan Lee"))
    _css(d, "#save")[0].click()
    _wait(lambda: "Saved angry-landlord.yaml" in _css(d, "#issues-summary")[0].text, 10, "the new persona saved")
    assert (web.personas / "angry-landlord.yaml").is_file()
    _shot(d, shots, "07b-new-persona")
    d.get(web.url + "/practice")
    assert any("Morgan Lee" in c.text for c in _css(d, "#personas label.card"))


def test_mic_check_calm_and_batch_pages(web, browser, shots, tmp_path):
    d = browser
    d.get(web.url + "/mic")
    _css(d, "#mic-start")[0].click()  # fed by a fake input stream playing the demo recording
    _wait(lambda: "noise" in _css(d, "#mic-status")[0].text and "(loudest" in _css(d, "#mic-status")[0].text,
          20, "the mic check verdict")
    assert float(_css(d, "#mic-fill")[0].value_of_css_property("width").rstrip("px")) > 0
    _shot(d, shots, "08-mic-check")

    d.get(web.url + "/calm")
    _css(d, "#pacer-start")[0].click()
    _wait(lambda: "Breathe in" in _css(d, "#pacer-text")[0].text, 5, "the breathing pacer")
    _shot(d, shots, "09-calm")

    folder = tmp_path / "recordings"
    folder.mkdir()
    shutil.copy(REPO / "audio_fixtures" / "demo_trainee.wav", folder / "recruit-a.wav")
    (folder / "broken.wav").write_bytes(b"not audio at all")
    d.get(web.url + "/batch")
    _css(d, "#recordings")[0].send_keys(f"{folder / 'recruit-a.wav'}\n{folder / 'broken.wav'}")  # an upload (#16)
    _css(d, "#batch-form button[type=submit]")[0].click()
    link = _wait(lambda: _css(d, "#index-link"), 60, "the index of reports")[0]
    assert _css(d, "#batch-progress")[0].get_attribute("value") == "2"
    items = _css(d, "#batch-items li")
    assert {i.get_attribute("class") for i in items} == {"done", "failed"}
    _shot(d, shots, "10-batch")
    link.click()
    _wait(lambda: d.current_url.endswith("/index.html"), 10, "the batch index")
    assert "recruit-a.wav" in d.page_source and "broken.wav" in d.page_source
    _shot(d, shots, "11-batch-index")
    assert not _console_errors(d)
