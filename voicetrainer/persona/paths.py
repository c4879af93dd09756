"""Path safety for persona files: stay inside the personas folder, refuse escapes and huge files.

A persona file (and anything it names: audio, a base persona) must resolve to a regular file
inside the personas folder. The check resolves first (following every symlink and ``..``), then
tests containment of the *resolved* path, so ``../x``, an absolute path elsewhere, and a symlink
whose target is outside are all refused. A symlink that stays inside is fine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from voicetrainer.errors import PersonaError

MAX_PERSONA_BYTES = 256_000  # a persona is a page of YAML; 256 kB is ~50 times that


def resolve_inside(path: str | Path, root: str | Path, *, max_bytes: int = MAX_PERSONA_BYTES) -> Path:
    """The resolved path of `path` if it is a regular file inside `root` of at most `max_bytes`.

    A relative `path` is taken relative to `root`. Raises `PersonaError` naming the file and the
    reason: outside the folder, a symlink pointing out, missing, not a regular file (a folder, a
    FIFO, a device), or larger than `max_bytes`.
    """
    raw = os.fspath(path)
    if "\0" in raw:
        raise PersonaError("path contains a NUL byte", path=raw.replace("\0", "\\0"))
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise PersonaError(f"personas folder is not readable ({e})", path=root) from e
    if not base.is_dir():
        raise PersonaError("personas folder is not a folder", path=root)
    p = Path(raw).expanduser()
    if not p.is_absolute():
        p = base / p
    try:
        resolved = p.resolve(strict=False)
    except (OSError, RuntimeError) as e:  # symlink loop
        raise PersonaError(f"cannot resolve the path ({e})", path=raw) from e
    if not resolved.is_relative_to(base):
        via = _symlink_on_the_way(p)
        if via is not None:
            raise PersonaError(
                f"is a symlink ({via} -> {os.readlink(via)}) pointing outside the personas folder "
                f"{base}; copy the file into the folder instead", path=raw,
            )
        raise PersonaError(f"is outside the personas folder {base}; persona files may only "
                           "refer to files inside it", path=raw)
    try:
        st = resolved.stat()
    except FileNotFoundError as e:
        raise PersonaError("file not found", path=raw) from e
    except OSError as e:
        raise PersonaError(f"cannot read the file ({e.strerror or e})", path=raw) from e
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise PersonaError(f"is {what}; expected a persona file", path=raw)
    if st.st_size > max_bytes:
        raise PersonaError(
            f"file is {st.st_size} bytes, over the {max_bytes}-byte limit for persona files", path=raw,
        )
    return resolved


def read_text_inside(path: str | Path, root: str | Path, *, max_bytes: int = MAX_PERSONA_BYTES) -> str:
    """`resolve_inside`, then read the file as UTF-8, never more than `max_bytes` (a file that
    grows between the check and the read is still refused)."""
    resolved = resolve_inside(path, root, max_bytes=max_bytes)
    try:
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:  # e.g. swapped for a symlink after the check (ELOOP with O_NOFOLLOW)
        raise PersonaError(f"cannot read the file safely ({e.strerror or e})", path=path) from e
    if len(data) > max_bytes:
        raise PersonaError(f"file is over the {max_bytes}-byte limit for persona files", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PersonaError(f"is not UTF-8 text (byte {e.start})", path=path) from e


def _symlink_on_the_way(p: Path) -> Path | None:
    """The first symlink among `p` and its parents (lexically), or None."""
    for q in [p, *p.parents]:
        try:
            if q.is_symlink():
                return q
        except OSError:
            return None
    return None
