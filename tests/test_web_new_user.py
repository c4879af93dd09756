"""The web app as a new user met it (issue #16 items 1, 2, 14, 15, 16), in headless Chromium.

Recordings come from the user's machine (an upload) or from the shipped fixtures, never from a
path typed into a text box; the live call shows each caption once, in time order, with the
"speaking" badges lit only while someone speaks; reports graded on the batch page and opened
from History play their recording; the batch index fits 1280 px and shows every warning; a
browser that goes away leaves no traceback. Screenshots go where test_web_browser.py puts them.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import time
import urllib.request
from pathlib import Path

import pytest
import soundfile as sf

from test_web_browser import (  # noqa: F401 - fixtures: a server per module, one browser
    REPO, _console_errors, _css, _shot, _wait, browser, pytestmark, shots, web,
)


def _displayed(d, el_id: str) -> bool:
    return d.execute_script(f"var e=document.getElementById('{el_id}');return !!e&&getComputedStyle(e).display!=='none'")


def _audio_state(d) -> dict:
    """The report page's player once the browser has tried the recording."""
    _wait(lambda: d.execute_script("var a=document.getElementById('player');return !a||a.readyState>=1||!!a.error"),
          15, "the recording to load or fail")
    return d.execute_script(
        "var a=document.getElementById('player'),g=document.getElementById('gone');"
        "return {ready:a?a.readyState:-1,error:!!(a&&a.error),gone:!!g&&!g.hidden,text:g?g.textContent:''}"
    )


def test_simulated_call_from_an_upload_shows_each_caption_once_and_badges_truthfully(web, browser, shots, tmp_path):
    d = browser
    mine = tmp_path / "my answers.wav"
    shutil.copy(REPO / "audio_fixtures" / "demo_trainee.wav", mine)
    d.get(web.url + "/practice")
    assert not _css(d, "input#recording"), "no server path text box"
    picker = [o.get_attribute("value") for o in _css(d, "#fixture option")]
    assert "demo_trainee.wav" in picker
    if not _css(d, "#simulate")[0].is_selected():
        _css(d, "#simulate")[0].click()
    _css(d, "#accelerated")[0].click()
    _css(d, "#recording-file")[0].send_keys(str(mine))
    _css(d, "#start")[0].click()
    _wait(lambda: d.current_url.endswith("/call"), 15, "the call page")
    used = Path(web.app.call.request.simulate)
    assert used.name == "my-answers.wav" and used.read_bytes() == mine.read_bytes()
    assert used.is_relative_to(web.root / "data" / "recordings") and used.parent.name.startswith("upload-")

    badges = []  # (caller lit, trainee lit) as the page shows them, sampled through the call
    while "Report ready" not in _css(d, "#status")[0].text:
        badges.append((_displayed(d, "caller-speaking"), _displayed(d, "trainee-speaking")))
        assert len(badges) < 1200, "the call did not finish"
        time.sleep(0.05)
    shown = d.execute_script("return [].map.call(document.querySelectorAll('#captions li'),"
                             "function(li){return [li.className, +li.getAttribute('data-t'), li.textContent]})")
    after = (_displayed(d, "caller-speaking"), _displayed(d, "trainee-speaking"))
    assert after == (False, False), "nobody speaks after the call"
    assert not all(b == (True, True) for b in badges), badges
    keys = [(c, t) for c, t, _ in shown]
    assert len(keys) == len(set(keys)), "a caption shown twice"
    assert [t for _, t, _ in shown] == sorted(t for _, t, _ in shown), "captions out of time order"
    events = [json.loads(x) for x in (web.app.call.session_dir / "events.jsonl").read_text().splitlines()]
    lines = [e["text"] for e in events if e["type"] == "caller_line" and e["text"]]
    on_page = [txt for c, _, txt in shown if c == "caller"]
    for text in set(lines):
        assert sum(text in x for x in on_page) == lines.count(text), text
    assert len(shown) == len(web.app.call.snapshot()["captions"])
    _wait(lambda: d.current_url.endswith("/report.html"), 20, "the report page")
    state = _audio_state(d)
    assert state["ready"] >= 1 and not state["gone"], state


def test_batch_upload_and_shipped_pick_reports_play_index_fits(web, browser, shots, tmp_path):
    d = browser
    y, sr = sf.read(REPO / "audio_fixtures" / "demo_trainee.wav")
    import soxr

    phone = tmp_path / "alex phone.wav"
    sf.write(phone, soxr.resample(y[: sr * 12], sr, 8000), 8000, subtype="ULAW")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\0\0\0\0WAVEfmt not audio at all, cut off")
    d.get(web.url + "/batch")
    assert not _css(d, "#folder"), "no server folder text box"
    _css(d, "#recordings")[0].send_keys(f"{phone}\n{broken}")
    box = [b for b in _css(d, "#shipped input[type=checkbox]") if b.get_attribute("value") == "demo_trainee.wav"]
    box[0].click()
    _css(d, "#batch-form input[name=history]")[0].click()
    _shot(d, shots, "20-batch-upload-form")
    _css(d, "#batch-form button[type=submit]")[0].click()
    link = _wait(lambda: _css(d, "#index-link"), 120, "the index of reports")[0]
    assert _css(d, "#batch-progress")[0].get_attribute("value") == "3"
    link.click()
    _wait(lambda: d.current_url.endswith("/index.html"), 10, "the batch index")
    # fits 1280 px: the page does not scroll sideways, nor does the table inside its card
    widths = d.execute_script("var s=document.querySelector('.scroll');return [document.documentElement.scrollWidth,"
                              "window.innerWidth,s.scrollWidth,s.clientWidth]")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    text = _css(d, "#summary")[0].text
    assert "telephone-band audio" in text and "broken.wav" in text and "failed" in text
    _shot(d, shots, "21-batch-index-1280")
    # each report plays its recording, from the batch page and from History alike
    hrefs = [a.get_attribute("href") for a in _css(d, "#summary tbody a")]
    assert len(hrefs) == 2
    for href in hrefs:
        d.get(href)
        state = _audio_state(d)
        assert state["ready"] >= 1 and not state["error"] and not state["gone"], (href, state)
    d.get(web.url + "/history")
    rows = [a.get_attribute("href") for a in _css(d, "#calls tbody tr a")]
    assert len([h for h in rows if "/h/" in h]) >= 2
    for href in [h for h in rows if "/h/" in h][:2]:
        d.get(href)
        state = _audio_state(d)
        assert state["ready"] >= 1 and not state["gone"], (href, state)
    _shot(d, shots, "22-history-report-plays", full=False)
    # the recording removed: the report says so instead of a dead player
    folder = Path(web.app.batch.out_dir)
    page = next(folder.glob("*/report.html"))
    for wav in page.parent.glob("*.wav"):
        wav.unlink()
    d.get(web.url + "/batches/" + page.relative_to(web.app.batches_root).as_posix())
    state = _audio_state(d)
    assert state["gone"] and "not beside this report" in state["text"], state
    _shot(d, shots, "23-report-recording-gone", full=False)


def test_a_browser_going_away_leaves_no_traceback(web, browser, capfd):
    """Item 15: a keep-alive connection reset, a page left mid-stream, a request cut off."""
    host, port = web.url.split("//")[1].split(":")
    _console_errors(browser)  # drain what earlier tests left in the browser's log

    def reset(sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        sock.close()

    for request in (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    b"GET /api/call/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    b"POST /api/call/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(request)
        time.sleep(0.2)
        reset(s)
    d = browser
    d.get(web.url + "/call")
    d.get(web.url + "/history")  # leaves the event stream
    time.sleep(0.5)
    with urllib.request.urlopen(web.url + "/", timeout=10) as r:  # the server still answers
        assert r.status == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err
    assert not _console_errors(d)
