"""Recordings the browser sends: multipart uploads streamed to disk, and the shipped fixtures.

The forms never ask for a path on the server: a recruit or a QA reviewer uploads recordings
from their own machine, or picks one of the recordings that ship with voicetrainer.

Why python-multipart: it parses ``multipart/form-data`` as a stream (the standard library's
``cgi`` is gone from Python 3.13 and ``email`` needs the whole body in memory), spilling each
file to disk past 1 MiB, so a 300 MB call never sits in memory. Every request is bounded
(`MAX_UPLOAD_BYTES`) before a byte is read, and only audio file names are kept.
"""

from __future__ import annotations

import hmac
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import InputError

log = get_logger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024  # 1 GiB a request: a 1-hour two-channel 48 kHz 16-bit WAV is ~660 MiB
MAX_FIELD_BYTES = 64 * 1024  # a text field of an upload form (a name, a checkbox)
_MEMORY_BYTES = 1024 * 1024  # a file part stays in memory up to 1 MiB, then goes to disk
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded recording. `name`: the browser's file name, made safe; `path`: where it is."""

    name: str
    path: Path
    size: int


@dataclass
class UploadForm:
    """A parsed upload form: its text fields (last value of each, and all values) and files."""

    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").lower().startswith("multipart/form-data")


def safe_name(name: str) -> str:
    """A file name with no folders and only letters, digits, ``_.-`` (spaces etc. become ``-``)."""
    base = _SAFE.sub("-", Path(name.replace("\\", "/")).name).strip(".-")
    return base or "recording"


def unique_path(folder: Path, name: str) -> Path:
    stem, suffix = os.path.splitext(name)
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{suffix}"
    return target


def read_upload_form(headers, chunks, dest: Path, *, max_bytes: int = MAX_UPLOAD_BYTES,
                     expect: dict[str, str] | None = None) -> UploadForm:
    """Parse a ``multipart/form-data`` request body into `dest` (created when a file arrives).

    Args:
        headers: the request headers (``Content-Type`` with its boundary, ``Content-Length``).
        chunks: the request body, an iterator of byte strings (``Content-Length`` bytes in all).
        dest: the folder the uploaded files are written to, under their safe names.
        max_bytes: the largest body accepted, in bytes.
        expect: fields that must arrive, with these values, before any file is kept (the form's
            CSRF token: put its hidden field first in the form). A file part that comes before
            them is dropped with its temp file, and the request is refused.
    Raises:
        InputError: no or a too large ``Content-Length``, a file that is not WAV/FLAC/OGG, a
            malformed body. Files of a refused request are removed.
    """
    from python_multipart import create_form_parser
    from python_multipart.exceptions import FormParserError

    try:
        length = int(headers.get("Content-Length") or -1)
    except ValueError:
        length = -1
    if length < 0:
        raise InputError("an upload needs a Content-Length")
    if length > max_bytes:
        raise InputError(f"the upload is too large ({length / 2**20:.0f} MiB; at most {max_bytes / 2**20:.0f} MiB "
                         "a time): grade it with `voicetrainer grade` on the command line")
    form = UploadForm()
    problems: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)  # large parts spill here (same file system as their final place)

    def on_field(f) -> None:
        name = (f.field_name or b"").decode("utf-8", "replace")
        value = (f.value or b"")[:MAX_FIELD_BYTES].decode("utf-8", "replace")
        form.fields[name] = value
        form.lists.setdefault(name, []).append(value)

    def on_file(f) -> None:
        raw = (f.file_name or b"").decode("utf-8", "replace")
        if expect and not all(hmac.compare_digest(form.fields.get(k, ""), v) for k, v in expect.items()):
            f.close()  # its temp file goes with it
            if "expired" not in "".join(problems):
                problems.append("this form has expired or did not come from this app: reload the page and try again")
            return
        f.file_object.seek(0, os.SEEK_END)
        size = f.file_object.tell()
        if not raw and size == 0:
            return  # a file field left empty
        name = safe_name(raw)
        if not name.lower().endswith(AUDIO_SUFFIXES):
            problems.append(f"{raw or 'the file'}: not a recording (WAV, FLAC or OGG)")
            return
        target = unique_path(dest, name)
        f.file_object.seek(0)
        with open(target, "wb") as out:
            shutil.copyfileobj(f.file_object, out, 1024 * 1024)
        f.close()
        form.files.append(Upload(name=target.name, path=target, size=size))

    hdrs = {"Content-Type": headers.get("Content-Type") or "", "Content-Length": str(length)}
    config = {"MAX_MEMORY_FILE_SIZE": _MEMORY_BYTES, "UPLOAD_DIR": str(dest)}
    try:
        parser = create_form_parser(hdrs, on_field, on_file, config=config)
        got = 0
        for chunk in chunks:
            got += len(chunk)
            if got > length:
                raise InputError("the upload is longer than its Content-Length")
            parser.write(chunk)
        if got < length:
            raise InputError(f"the upload ended after {got} of {length} bytes")
        parser.finalize()
    except (FormParserError, ValueError) as e:
        problems.append(f"the upload could not be read ({e})")
    if problems:
        for up in form.files:
            up.path.unlink(missing_ok=True)
        form.files.clear()
    if not form.files and not any(dest.iterdir()):
        dest.rmdir()
    if problems:
        raise InputError("; ".join(problems))
    log.info("web: received %d recording(s) into %s", len(form.files), dest)
    return form


def fixture_dirs() -> list[Path]:
    """Where shipped recordings live: ``audio_fixtures/`` of a source checkout, the package data."""
    pkg = Path(__file__).resolve().parents[1]
    return [pkg.parent / "audio_fixtures", pkg / "data"]


def shipped_recordings() -> dict[str, Path]:
    """The recordings that ship with voicetrainer, by file name (the pickers' choices)."""
    out: dict[str, Path] = {}
    for folder in fixture_dirs():
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
                    out.setdefault(p.name, p)
    return out


def shipped_recording(name: str) -> Path:
    """The shipped recording called `name`; InputError for any other name (never a path)."""
    found = shipped_recordings().get(name or "")
    if found is None:
        raise InputError(f"no shipped recording is called {name!r}; choose one from the list or upload yours")
    return found


def link_or_copy(src: Path, target: Path) -> Path:
    """`target` with the content of `src`: a hard link where the file system allows, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, target)
    except OSError:
        shutil.copy2(src, target)
    return target
