"""Web app security (issue #17, items 1-4): files served only from the data folder, personas only
from the personas folder, recordings only from allowed folders, no null-Origin or token-less
changes, and other accounts on the PC need the token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from voicetrainer.errors import InputError

from voicetrainer.web.server import WebApp
from web_helpers import WebSession, serve

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """A server with its own data and personas folders: (app, base URL, tmp_path)."""
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("VOICETRAINER_INPUTS", raising=False)
    personas = tmp_path / "personas"
    shutil.copytree(REPO / "personas", personas)
    app = WebApp(personas_dir=personas)
    server = serve(app)
    try:
        yield app, server.url.rstrip("/"), tmp_path
    finally:
        server.shutdown()
        server.server_close()


_SESSIONS: dict[str, WebSession] = {}  # base URL -> the visitor of that server (cookies, CSRF token)


def _session(url: str) -> tuple[WebSession, str]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    base = f"{u.scheme}://{u.netloc}"
    return _SESSIONS.setdefault(base, WebSession(base)), u.path + (f"?{u.query}" if u.query else "")


def _request(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    s, path = _session(url)
    status, _, body = s.request(path, method=method, data=data, headers=headers)
    return status, body


def _post(app, url: str, obj: dict, *, csrf: bool = True, **headers):
    s, path = _session(url)
    status, _, body = s.post_json(path, obj, csrf=csrf, **headers)
    return status, body


def _record(folder: Path, data_db: Path) -> int:
    from report_builder import make_report

    from voicetrainer.report.history import HistoryDB

    with HistoryDB(data_db) as db:
        return db.add(make_report(), trainee="alex", persona="p", folder=folder)


# ----------------------------------------------------------------------------- 1. served files

def test_history_files_are_served_only_from_the_data_folder(env):
    app, base, tmp = env
    home = tmp / "home"  # `grade x.wav --out ~` once recorded the home folder in the history
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (home / "report.html").write_text("<p>outside</p>")
    outside = _record(home, app.data_dir / "history.sqlite")
    inside_dir = app.sessions_root / "20261129-100000-p"
    inside_dir.mkdir(parents=True)
    (inside_dir / "report.html").write_text("<p>inside report</p>")
    (inside_dir / "sub").mkdir()
    (inside_dir / "sub" / "x.txt").write_text("nested")
    inside = _record(inside_dir, app.data_dir / "history.sqlite")

    for path in (f"/h/{outside}/report.html", f"/h/{outside}/.ssh%2Fid_rsa", f"/h/{outside}/..%2F..%2Fetc%2Fpasswd",
                 f"/h/{inside}/sub%2Fx.txt", f"/h/{inside}/..%2F..%2Fhistory.sqlite", f"/h/{inside}/%2E%2E"):
        status, body = _request(base + path)
        assert status == 404 and b"PRIVATE" not in body and b"outside" not in body, path
    status, body = _request(f"{base}/h/{inside}/report.html")
    assert status == 200 and b"inside report" in body
    page = _request(base + "/history")[1].decode()
    assert f"/h/{inside}/report.html" in page and f"/h/{outside}/" not in page
    # session folders: subfolders inside the data folder are fine, escapes are not
    assert _request(base + "/sessions/20261129-100000-p/sub%2Fx.txt")[0] == 200
    assert _request(base + "/sessions/..%2Fhistory.sqlite")[0] == 404
    assert _request(base + "/sessions/20261129-100000-p/report.html%00.txt")[0] == 400


# ----------------------------------------------------------------------------- 2. personas and inputs

def test_a_call_takes_personas_only_from_the_personas_folder_and_quotes_nothing(env):
    app, base, tmp = env
    secret = tmp / "secret.yaml"
    secret.write_text("id: TOPSECRET-VALUE-42\nname: x\n")
    os.chmod(secret, 0o600)
    for persona in (str(secret), "../secret.yaml", "../secret", str(tmp / "secret"), "/etc/passwd"):
        status, body = _post(app, base + "/api/call/start", {"persona": persona, "simulate": "1"})
        assert status == 400, persona
        assert b"TOPSECRET" not in body and b"no such persona" in body, body
    assert app.call is None


def test_recordings_and_batch_folders_only_from_allowed_folders(env, monkeypatch):
    app, base, tmp = env
    private = tmp / "private"
    private.mkdir()
    shutil.copy(REPO / "audio_fixtures" / "demo_trainee.wav", private / "call.wav")
    # the pages take uploads and shipped recordings only: a path sent in a form is never read
    status, body = _post(app, base + "/api/batch/start", {"folder": str(private)})
    assert status == 400 and b"choose recordings to upload" in body and app.batch is None
    for probe in (str(private / "call.wav"), str(tmp / "no-such.wav"), "/root/.ssh/id_rsa"):
        status, body = _post(app, base + "/api/call/start", {"persona": "billing-double-charge", "simulate": "1",
                                                              "recording": probe})
        assert b"not found" not in body
        if app.call is not None:  # started on the shipped recording, never on the path sent
            assert app.call.request.simulate != probe and Path(app.call.request.simulate).parent == app.demo_wav.parent
            app.stop_call()
            app.call.thread.join(60)
            app.call = None
    # the service behind the batch page reads only inside its roots
    try:
        app.start_batch(str(private), record_history=False)
        raise AssertionError("a folder outside the roots was graded")
    except InputError as e:
        assert "outside the folders this app may read" in str(e)
    # a symlink inside an allowed folder leading out is refused too
    inbox = app.input_roots[0]
    inbox.mkdir(parents=True)
    (inbox / "link").symlink_to(private)
    try:
        app.start_batch(str(inbox / "link"), record_history=False)
        raise AssertionError("a symlink leading out was followed")
    except InputError:
        pass
    assert app.batch is None
    # allowed: a folder under <data>/recordings, or one named in $VOICETRAINER_INPUTS
    monkeypatch.setenv("VOICETRAINER_INPUTS", str(private))
    allowed = WebApp(personas_dir=app.personas_dir)
    assert allowed.allowed_input(str(private), folder=True) == private.resolve()


# ----------------------------------------------------------------------------- 3. CSRF

def test_state_changes_need_same_origin_and_the_csrf_token(env):
    app, base, tmp = env
    text = (app.personas_dir / "billing-double-charge.yaml").read_text().replace(
        "id: billing-double-charge", "id: planted")
    body = {"file": "planted.yaml", "text": text}
    assert _post(app, base + "/api/personas/save", body, Origin="null")[0] == 403
    assert _post(app, base + "/api/personas/save", body, **{"Sec-Fetch-Site": "same-site"})[0] == 403
    status, answer = _post(app, base + "/api/personas/save", body, csrf=False)  # no Origin, no token
    assert status == 403 and b"reload the page" in answer
    assert _post(app, base + "/api/personas/save", body, csrf=False, **{"X-CSRF-Token": "guess"})[0] == 403
    form = f"folder={tmp}&csrf=wrong".encode()
    assert _request(base + "/api/batch/start", method="POST", data=form, headers={"Origin": "null"})[0] == 403
    assert _request(base + "/api/batch/start", method="POST", data=form)[0] == 403
    assert not (app.personas_dir / "planted.yaml").exists() and app.batch is None
    # the app's own pages carry the token, in a <meta> for scripts and in every POST form
    home = _request(base + "/practice")[1].decode()
    token = _session(base)[0].csrf
    assert f'name="csrf-token" content="{token}"' in home
    assert f'name="csrf" value="{token}"' in home
    assert _post(app, base + "/api/personas/save", body, Origin=base)[0] == 200
    # the microphone streams are GETs that a foreign page could open with EventSource: token needed
    for path in ("/api/baseline/events?trainee=victim", "/api/mic/events?seconds=1"):
        assert _request(base + path)[0] == 403, path
    assert not (app.data_dir / "baselines" / "victim.json").exists()
    assert (app.personas_dir / "planted.yaml").exists()


# ----------------------------------------------------------------------------- 4. other accounts

def test_peer_uid_is_read_from_the_kernel_table():
    from voicetrainer.web.peer import uid_in_table

    table = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
             "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
             "   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 2\n")
    assert uid_in_table(table, ("127.0.0.1", 0xD431), ("127.0.0.1", 0x1F90), v6_table=False) == 1001
    assert uid_in_table(table, ("127.0.0.1", 0xD432), ("127.0.0.1", 0x1F90), v6_table=False) is None


def test_the_owner_gets_in_other_accounts_need_the_token(env, monkeypatch):
    app, base, tmp = env
    assert _request(base + "/practice")[0] == 200  # this test process is the account that started the server
    monkeypatch.setattr(app, "owner_uid", app.owner_uid + 1)  # now we look like someone else
    assert _request(base + "/practice")[0] == 303  # to the login page, which points at the printed link
    assert _request(base + "/api/call/status")[0] == 401
    assert _request(base + "/practice", headers={"X-Voicetrainer-Token": app.token})[0] == 200
    visitor = WebSession(base)
    assert visitor.request(f"/practice?token={app.token}")[0] == 303 and visitor.request("/practice")[0] == 200


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to act as another account")
def test_another_real_account_is_refused_without_the_token(env):
    app, base, tmp = env
    code = ("import encodings.idna, os, sys, urllib.request, urllib.error\n"  # imported before giving up root
            "os.setgid(65534); os.setuid(65534)\n"
            "try:\n    urllib.request.urlopen(sys.argv[1], timeout=10); print(200)\n"
            "except urllib.error.HTTPError as e:\n    print(e.code)\n")
    out = subprocess.run([sys.executable, "-c", code, base + "/api/call/status"], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "401", out.stderr
