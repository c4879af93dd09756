"""Recordings sent by the browser (issue #16 item 16): streamed to the data folder, bounded in
size before a byte is read, only audio kept, refused from other sites, never a server path."""

from __future__ import annotations

import io
import json

import pytest

from test_web_server import _serve, personas  # noqa: F401 - fixture
from voicetrainer.errors import InputError
from voicetrainer.web import uploads
from voicetrainer.web.server import WebApp
from web_helpers import WebSession

BOUNDARY = "vt-test-boundary"


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for field, name, data in files:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def _headers(body: bytes) -> dict:
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(len(body))}


def test_upload_form_streams_files_with_safe_names(tmp_path):
    big = b"RIFF" + bytes(3 * 1024 * 1024)  # past the in-memory limit: spilled to disk on the way
    body = _multipart({"history": "1", "fixture": "demo_trainee.wav"},
                      [("recordings", "../../etc/my call.wav", big), ("recordings", "", b""),
                       ("recordings", "b.FLAC", b"fLaC")])
    form = uploads.read_upload_form(_headers(body), io.BytesIO(body), tmp_path / "up")
    assert form.fields == {"history": "1", "fixture": "demo_trainee.wav"}
    assert [(u.name, u.size) for u in form.files] == [("my-call.wav", len(big)), ("b.FLAC", 4)]
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == ["b.FLAC", "my-call.wav"]
    assert (tmp_path / "up" / "my-call.wav").read_bytes() == big


def test_upload_refuses_non_audio_and_oversize_before_reading(tmp_path):
    body = _multipart({}, [("recordings", "ok.wav", b"RIFF"), ("recordings", "notes.txt", b"hello")])
    with pytest.raises(InputError, match="notes.txt: not a recording"):
        uploads.read_upload_form(_headers(body), io.BytesIO(body), tmp_path / "up")
    assert not (tmp_path / "up").exists()  # the accepted part of a refused request is removed too

    class Unread(io.BytesIO):
        def read(self, *a):  # noqa: ARG002
            raise AssertionError("a refused upload must not be read")

    with pytest.raises(InputError, match="too large"):
        uploads.read_upload_form({**_headers(b""), "Content-Length": str(2 * 2**30)}, Unread(), tmp_path / "x")
    with pytest.raises(InputError, match="no shipped recording"):
        uploads.shipped_recording("/etc/passwd")
    assert uploads.shipped_recording("demo_trainee.wav").is_file()


def test_server_takes_uploads_only_from_its_own_pages_and_no_paths(personas, tmp_path):
    app = WebApp(personas_dir=personas)
    server = _serve(app)
    me = WebSession(server.url)
    token = me.csrf
    try:
        body = _multipart({"csrf": token, "history": ""}, [("recordings", "a.wav", b"RIFF....")])
        status, _, _ = me.request(f"/api/batch/start?csrf={token}", method="POST", data=body,
                                  headers={**_headers(body), "Origin": "http://evil.example"})
        assert status == 403 and not list((app.data_dir / "recordings").glob("upload-*"))
        # an upload carries the token in its address (checked before a byte of the body is read)
        status, _, _ = me.request("/api/batch/start", method="POST", data=body, headers=_headers(body))
        assert status == 403 and not list((app.data_dir / "recordings").glob("upload-*"))
        status, _, text = me.request(f"/api/personas/save?csrf={token}", method="POST", data=body, headers=_headers(body))
        assert status == 400 and b"no file uploads" in text
        # a server path is no longer a way in: the old `folder` / `recording` fields are ignored
        status, _, text = me.request("/api/batch/start", method="POST", data=b"folder=/etc&csrf=" + token.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 400 and b"choose recordings to upload" in text
        status, _, text = me.post_json("/api/call/start", {"persona": "billing-double-charge", "simulate": "1",
                                                            "fixture": "../../etc/passwd.wav"})
        assert status == 400 and b"no shipped recording" in text
    finally:
        server.shutdown()
        server.server_close()


def test_upload_keeps_no_file_without_the_forms_token_first(tmp_path):
    """CSRF: the form's token field must come before any file, with the right value."""
    good = _multipart({"csrf": "t0ken", "history": "1"}, [("recordings", "a.wav", b"RIFF" + bytes(2 * 2**20))])
    form = uploads.read_upload_form(_headers(good), io.BytesIO(good), tmp_path / "ok", expect={"csrf": "t0ken"})
    assert [u.name for u in form.files] == ["a.wav"]
    for fields in ({"csrf": "wrong"}, {}):
        bad = _multipart(fields, [("recordings", "a.wav", b"RIFF" + bytes(2 * 2**20))])
        with pytest.raises(InputError, match="did not come from this app"):
            uploads.read_upload_form(_headers(bad), io.BytesIO(bad), tmp_path / "bad", expect={"csrf": "t0ken"})
        assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
