"""The recording beside its report, so report.html plays wherever it is opened.

A report page links its recording by a path relative to the page. A link that climbs out of
the report folder (``../../qa_in/call.wav``) breaks as soon as the folder is moved, copied to
another machine, or served by the web app (which serves report folders, not the disk). So
the recording goes into the report folder: a hard link where the file system allows (no
extra space, the same bytes), else a copy. A recording already inside the folder (a practice
session) stays where it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from voicetrainer import get_logger

log = get_logger(__name__)


def _same_content(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and int(sa.st_mtime) == int(sb.st_mtime)  # our earlier copy (copy2 keeps mtime)


def place_recording(audio: str | Path | None, out_dir: str | Path) -> Path | None:
    """The recording `audio` inside `out_dir` (linked or copied there if it is outside).

    Returns the path inside `out_dir`, or None when there is no recording or it cannot be read
    (the report then says that no recording is linked). A file of the same name that voicetrainer
    did not put there is never replaced: the copy gets a new name (``call-2.wav``).
    """
    if not audio:
        return None
    src, out = Path(audio), Path(out_dir)
    if not src.is_file():
        log.warning("the recording %s is gone: the report cannot play it", src)
        return None
    try:
        if src.resolve().parent == out.resolve():
            return src
    except OSError:
        return None
    target, n = out / src.name, 1
    while target.exists() or target.is_symlink():
        if _same_content(src, target):
            return target
        n += 1
        target = out / f"{src.stem}-{n}{src.suffix}"
    out.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, target)
    except OSError:
        try:
            shutil.copy2(src, target)
        except OSError as e:
            log.warning("could not put the recording beside the report (%s): it will not play there", e)
            target.unlink(missing_ok=True)
            return None
    return target
