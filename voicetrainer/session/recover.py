"""Find and repair sessions a crash left behind, then grade them.

`recover_on_start` is cheap (a directory listing and a few manifest reads; a header rewrite per
interrupted session) and runs at the start of every practice session. `recover_and_grade` is
what ``voicetrainer recover`` does: repair, then grade with the offline grader and write the
report next to the audio, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.audio.recorder import find_interrupted, read_manifest, recover_session, writer_alive
from voicetrainer.config import Settings, user_data_dir
from voicetrainer.errors import VoiceTrainerError

log = get_logger(__name__)


def default_sessions_root(settings: Settings | None = None) -> Path:
    """Where live sessions are recorded: ``<user data dir>/sessions``."""
    return user_data_dir(settings) / "sessions"


@dataclass
class RecoverResult:
    """What happened to one session folder.

    Attributes:
        repaired: the header/events/manifest were fixed and the session marked "recovered".
        duration_s: seconds of audio in the recording after repair.
        report_path: the report written by grading, if graded.
        error: why repair or grading failed (one line), else None.
        exit_code: 0, or the error's exit status (2 bad input, 1 internal).
    """

    session: str
    repaired: bool = False
    duration_s: float | None = None
    report_path: str | None = None
    error: str | None = None
    exit_code: int = 0


def recover_on_start(root: str | Path | None = None) -> list[Path]:
    """Repair every interrupted session under `root` (default: the sessions folder); no grading.

    Never raises for a damaged session: it is logged and skipped. Returns the repaired folders.
    """
    root = Path(root) if root is not None else default_sessions_root()
    repaired = []
    for d in find_interrupted(root):
        try:
            if recover_session(d):
                repaired.append(d)
                meta = read_manifest(d) or {}
                log.warning("repaired interrupted session %s (%.1f s of audio kept); grade it with "
                            "`voicetrainer recover`", d, meta.get("duration_s") or 0.0)
        except (VoiceTrainerError, OSError) as e:
            log.warning("could not repair interrupted session %s: %s", d, e)
    return repaired


def needs_grading(session_dir: Path) -> bool:
    """A closed session (complete, recovered or aborted) with no report, whose closing process is
    gone: killed after the manifest said "complete" but before the report was written, say."""
    meta = read_manifest(session_dir) or {}
    if meta.get("status") not in ("complete", "recovered", "aborted") or (session_dir / "report.json").exists():
        return False
    return not writer_alive({"writer": meta.get("closed_by")})  # still alive: it is writing the report


def recover_and_grade(
    dirs: list[Path] | None = None, *, root: Path | None = None, grade: bool = True,
    settings: Settings = Settings(), db: str | None = "", transcriber=None, out: Path | None = None,
) -> list[RecoverResult]:
    """Repair `dirs` (or every interrupted session under `root`) and grade them.

    With `dirs` given, each is repaired if needed and graded (unless `grade` is False). Without,
    the interrupted sessions under `root` are repaired, and closed sessions never graded are
    graded too. `transcriber` overrides the ASR backend (tests). With `out`, the sessions are
    only read: each is copied to ``out/<name>`` and repaired and graded there (a full or
    read-only disk).
    """
    if dirs is None:
        root = root or default_sessions_root(settings)
        targets = find_interrupted(root)
        if grade and root.is_dir():
            targets += [d for d in sorted(root.iterdir()) if d.is_dir() and d not in targets and needs_grading(d)]
    else:
        targets = [Path(d) for d in dirs]
    results = []
    for d in targets:
        res = RecoverResult(str(d))
        results.append(res)
        try:
            if not d.is_dir():
                raise VoiceTrainerError("not a folder; expected a session folder", path=d)
            meta = read_manifest(d)
            if meta is not None and meta.get("status") == "recording" and writer_alive(meta):
                raise VoiceTrainerError("is still being recorded by a running process; leave it alone", path=d)
            if out is not None:
                d = _copy_session(d, Path(out))
                res.session = str(d)
            res.repaired = recover_session(d)
            res.duration_s = (read_manifest(d) or {}).get("duration_s")
        except VoiceTrainerError as e:
            res.error, res.exit_code = str(e), 2
            continue
        except OSError as e:
            res.error, res.exit_code = f"{d}: {e}", 2
            continue
        if grade:
            _grade(d, res, settings, db=db, transcriber=transcriber)
    return results


SESSION_FILES = ("session.json", "call.wav", "events.jsonl", "trainee_script.json")


def _copy_session(d: Path, out: Path) -> Path:
    """Copy a session's own files to ``out/<name>`` (the original is only read)."""
    import shutil

    dest = out / d.name
    if (dest / "session.json").exists():
        raise VoiceTrainerError("already holds this session; choose another --out", path=dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in SESSION_FILES:
        if (d / name).is_file():
            shutil.copyfile(d / name, dest / name)
    log.info("recover: copied %s to %s (the original is left as it is)", d, dest)
    return dest


def _grade(d: Path, res: RecoverResult, settings: Settings, *, db, transcriber) -> None:
    from voicetrainer.session import batch

    if transcriber is None:
        task = batch.GradeTask(input=str(d), out_dir=str(d), db=db)
        out = batch.grade_one(task, settings)
        res.report_path, res.error, res.exit_code = out.report_path, out.error, out.exit_code
        return
    from voicetrainer.session.grader import grade

    try:
        report = grade(d, settings=settings, transcriber=transcriber)
        rp, _ = batch.write_outputs(report, d, db=db)
        res.report_path = str(rp)
    except VoiceTrainerError as e:
        res.error, res.exit_code = str(e), e.exit_code
