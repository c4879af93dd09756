"""`voicetrainer personas list|show|validate|schema|new|preview|chat`: the practice callers (chat: cli/chat.py)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

PREVIEW_GAP_S = 0.5  # silence between lines in a preview WAV


def register(sub, common) -> None:
    p = sub.add_parser(
        "personas", help="list, check, create and preview practice callers",
        description="Practice callers are YAML files in the personas folder ($VOICETRAINER_PERSONAS, "
        "default: the shipped personas/). Write one with `personas new ID`, check it with "
        "`personas validate`, hear it with `personas preview ID`.",
    )  # fmt: skip
    p.set_defaults(func=run, personas_command=None)
    ps = p.add_subparsers(dest="personas_command", metavar="ACTION")
    ps.required = True

    def dir_arg(q):
        q.add_argument("--dir", metavar="DIR", help="personas folder (default: $VOICETRAINER_PERSONAS or the shipped one)")

    def tts_args(q):
        q.add_argument("--cache-dir", metavar="DIR", help="render cache (default: <data dir>/tts-cache)")
        q.add_argument("--tts", choices=("pyttsx3", "fake"), default="pyttsx3",
                       help="speech engines: pyttsx3 = the persona's own engine (espeak-ng or Piper), "
                       "fake = test tones (no engine needed)")  # fmt: skip
        q.add_argument("--phone-line", action="store_true",
                       help="the caller as heard over a telephone line (300-3400 Hz band, light line noise)")

    q = ps.add_parser("list", parents=[common], help="id, name, scenario and difficulty of every persona")
    dir_arg(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=run)

    q = ps.add_parser("show", parents=[common], help="everything about one persona")
    q.add_argument("id", metavar="ID", help="persona id or YAML file")
    dir_arg(q)
    q.add_argument("--json", action="store_true", help="print the validated persona as JSON")
    q.set_defaults(func=run)

    q = ps.add_parser(
        "validate", parents=[common], help="check persona files; exit 2 if any is invalid",
        description="Checks each FILE (default: every persona in the folder) against the schema: "
        "every problem names the file, the field and what is wrong. Valid personas are then "
        "rendered into the TTS cache (skip with --no-render), so practice never waits for speech.",
    )  # fmt: skip
    q.add_argument("files", nargs="*", metavar="FILE")
    dir_arg(q)
    tts_args(q)
    q.add_argument("--no-render", action="store_true", help="check the files only; do not synthesise the lines")
    q.set_defaults(func=run)

    q = ps.add_parser("schema", parents=[common], help="print the persona JSON Schema (for editor autocompletion)")
    q.set_defaults(func=run)

    q = ps.add_parser("new", parents=[common], help="write a commented template persona to start from")
    q.add_argument("id", metavar="ID", help="new persona id: lowercase letters, digits, dashes")
    dir_arg(q)
    q.add_argument("--out", metavar="FILE", help="write here instead of <dir>/<ID>.yaml")
    q.add_argument("--force", action="store_true", help="overwrite an existing file")
    q.set_defaults(func=run)

    q = ps.add_parser(
        "preview", parents=[common], help="render every line; play them when a sound device exists",
    )  # fmt: skip
    q.add_argument("id", metavar="ID", help="persona id or YAML file")
    dir_arg(q)
    tts_args(q)
    q.add_argument("--out", metavar="FILE", help="also write all lines, one after another, to this WAV")
    q.add_argument("--mood", type=float, metavar="0-10", help="voice at this anger (default: the starting anger)")
    q.add_argument("--situation", metavar="NAME", help="only the lines of this situation (opening, escalation, ...)")
    q.add_argument("--no-play", action="store_true", help="do not play, even when a sound device exists")
    q.set_defaults(func=run)

    from voicetrainer.cli import chat

    chat.register(ps, common)


def run(args) -> int:
    return {
        "list": _list,
        "show": _show,
        "validate": _validate,
        "schema": _schema,
        "new": _new,
        "preview": _preview,
    }[args.personas_command](args)


# ------------------------------------------------------------------------------------------


def _cache(args):
    from voicetrainer.cli._common import settings_from_args
    from voicetrainer.config import user_data_dir
    from voicetrainer.persona.cache import RenderCache

    settings = settings_from_args(args)
    cache_dir = Path(args.cache_dir) if args.cache_dir else user_data_dir(settings) / "tts-cache"
    from voicetrainer.persona.voices import CallerVoices

    backend = CallerVoices(settings=settings)  # Piper voices found in the config's voices_dir too
    if args.tts == "fake":
        from voicetrainer.persona.tts import FakeTTS

        backend = FakeTTS()
    return RenderCache(cache_dir, backend=backend, phone_line=getattr(args, "phone_line", False))


@contextlib.contextmanager
def _progress(args):
    """Yields ``start(label) -> callback(done, total)``: a progress bar on a terminal, else nothing."""
    from voicetrainer.cli._common import is_tty

    if not is_tty() or getattr(args, "quiet", False):
        yield lambda label: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True) as bar:

        def start(label: str):
            task = bar.add_task(label, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        yield start


def _list(args) -> int:
    from voicetrainer.cli._common import console
    from voicetrainer.persona.loader import check_file, persona_files

    rows, bad = [], []
    for f in persona_files(args.dir):
        persona, issues = check_file(f)
        if persona is None:
            bad.extend(issues)
            continue
        rows.append({"id": persona.id, "name": persona.name, "difficulty": persona.difficulty,
                     "scenario": persona.scenario.summary, "file": str(f)})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from rich.table import Table

        con = console()
        t = Table()  # ids are what users type: never cut or wrapped; the scenario gets what is left
        widths = [max((len(r[k]) for r in rows), default=0) for k in ("id", "name", "difficulty")]
        for key, w in zip(("id", "name", "difficulty"), widths):
            t.add_column(key, no_wrap=True, min_width=max(w, len(key)))
        room = con.width - sum(max(w, len(k)) for w, k in zip(widths, ("id", "name", "difficulty"))) - 4 * 3 - 1
        if room >= 12:
            t.add_column("scenario", no_wrap=True, max_width=room)
        for r in rows:
            s = r["scenario"]
            cells = [r["id"], r["name"], r["difficulty"]]
            t.add_row(*cells, *([s if len(s) <= room else s[: room - 1] + "…"] if room >= 12 else []))
        con.print(t)
    err = console(stderr=True)
    for i in bad:
        err.print(f"invalid (skipped): {i}", markup=False)
    return 0


def _show(args) -> int:
    from voicetrainer.cli._common import console
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.persona.schema import SITUATIONS
    from voicetrainer.persona.dialog import Thresholds

    p = load_persona(args.id, args.dir)
    if args.json:
        print(json.dumps(p.model_dump(mode="json"), indent=2))
        return 0
    con = console()
    t, v, s = p.temperament, p.voice, p.scenario
    th = Thresholds.for_patience(t.patience)
    con.print(f"[bold]{p.name}[/bold]  ({p.id}, {p.difficulty})")
    con.print(f"\n[bold]Scenario[/bold]  {s.summary}", markup=True)
    if s.facts:
        con.print("[bold]Facts to pick up[/bold]  " + "; ".join(s.facts))
    con.print(f"[bold]Resolves when[/bold]  {s.resolution.description}")
    con.print(f"   needs: {', '.join(s.resolution.requires) or '-'}; anger at most {s.resolution.max_anger:g}")
    con.print(f"\n[bold]Voice[/bold]  {v.voice}, {v.rate_wpm} wpm, pitch {v.pitch}, volume {v.volume:g}")
    con.print(
        f"[bold]Temperament[/bold]  starts at anger {t.start_anger:g}/10, patience {t.patience:g}, "
        f"escalation x{t.escalation:g}, calming x{t.calming:g}, talks over {t.talk_over:.0%}, "
        f"hangs up at {t.hang_up_at:g}, gives up after {t.max_turns} turns"
    )
    con.print(
        f"   reacts to: silence > {th.silence_s:.1f} s, pitch > +{th.pitch_rise_semitones:.1f} st, "
        f"loudness > +{th.loudness_rise_db:.1f} dB, pace > {th.rushing_wpm:.0f} wpm"
    )
    for situation in SITUATIONS:
        con.print(f"\n[bold]{situation}[/bold]")
        for line in p.lines.of(situation):
            con.print(f"  - {line}", markup=False)
    return 0


def _validate(args) -> int:
    from voicetrainer.cli._common import console
    from voicetrainer.persona.loader import check_file, persona_files

    files = [Path(f) for f in args.files] if args.files else persona_files(args.dir)
    out, err = console(), console(stderr=True)
    valid, invalid = [], 0
    for f in files:
        persona, issues = check_file(f)
        if persona is None:
            invalid += 1
            for i in issues:
                err.print(f"error: {i}", markup=False)
        else:
            valid.append((f, persona))
    render_failed: set[Path] = set()  # valid YAML whose lines cannot be voiced: invalid too
    if valid and not args.no_render:
        results = []
        with _cache(args) as cache, _progress(args) as progress:  # print after the bar is gone
            for f, persona in valid:
                results.append((f, persona, cache.prefill(persona, progress=progress(f"voicing {persona.id}"))))
        for f, persona, result in results:
            if result.unknown_voices:
                render_failed.add(f)
                err.print(f"error: {f}: voice.voice: espeak-ng has no voice {persona.voice.voice!r} "
                          "(list them with `espeak-ng --voices` and `espeak-ng --voices=variant`)", markup=False)  # fmt: skip
            for text, voice, msg in result.failed:
                if voice.voice not in result.unknown_voices:
                    render_failed.add(f)
                    err.print(f"error: {f}: lines: {msg}", markup=False)
            if not result.failed:
                out.print(f"ok: {f} ({persona.id}; {result.total} voice renders, {result.rendered} new)", markup=False)
    else:
        for f, persona in valid:
            out.print(f"ok: {f} ({persona.id})", markup=False)
    n, invalid = len(files), invalid + len(render_failed)  # one verdict per file
    summary = f"{n} file{'s' if n != 1 else ''}: {n - invalid} valid, {invalid} invalid"
    (err if invalid else out).print(summary, markup=False)
    return 2 if invalid else 0


def _schema(args) -> int:
    from voicetrainer.persona.schema import Persona

    schema = Persona.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "voicetrainer persona"
    print(json.dumps(schema, indent=2))
    return 0


def _new(args) -> int:
    import re

    from voicetrainer.cli._common import console
    from voicetrainer.errors import InputError
    from voicetrainer.persona.loader import personas_dir, validate_file
    from voicetrainer.persona.template import render_template

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", args.id):
        raise InputError("must be 2-63 lowercase letters, digits and dashes, starting with a letter or digit",
                         field=f"ID {args.id!r}")  # fmt: skip
    path = Path(args.out) if args.out else Path(args.dir or personas_dir()) / f"{args.id}.yaml"
    if path.stem != args.id:
        raise InputError(f"the file must be named {args.id}.yaml (the id and the file name must match)", path=path)
    if path.exists() and not args.force:
        raise InputError("already exists (use --force to overwrite)", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_template(args.id), encoding="utf-8")
    issues = validate_file(path)
    if issues:  # pragma: no cover - the template is tested to validate
        raise InputError(f"template did not validate: {issues[0]}", path=path)
    console().print(f"wrote {path}\nedit it, then run: voicetrainer personas validate {path}", markup=False)
    return 0


def _output_device_available() -> bool:
    try:
        import sounddevice as sd

        sd.query_devices(kind="output")
        return True
    except Exception:  # noqa: BLE001 - PortAudioError, OSError (no PortAudio), ValueError (none)
        return False


def _preview(args) -> int:
    import numpy as np
    import soundfile as sf

    from voicetrainer.cli._common import console
    from voicetrainer.errors import InputError, TTSError
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.persona.schema import SITUATIONS
    from voicetrainer.persona.tts import voice_for_mood

    persona = load_persona(args.id, args.dir)
    situations = SITUATIONS
    if args.situation:
        if args.situation not in SITUATIONS:
            raise InputError(f"unknown situation; choose from {', '.join(SITUATIONS)}", field="--situation")
        situations = (args.situation,)
    mood = persona.temperament.start_anger if args.mood is None else args.mood
    if not 0 <= mood <= 10:
        raise InputError("must be between 0 and 10", field="--mood")
    voice = voice_for_mood(persona.voice, mood)
    con = console()
    play = not args.no_play and _output_device_available()
    if not play and not args.no_play:
        console(stderr=True).print(
            "no sound output device found: rendering only" + ("" if args.out else " (use --out FILE to listen later)"),
            markup=False,
        )
    chunks, rate, failed = [], None, 0
    with _cache(args) as cache:
        if not args.situation and args.mood is None:  # the whole persona: every line in every mood voice
            with _progress(args) as progress:
                cache.prefill(persona, progress=progress(f"voicing {persona.id}"))
        for situation in situations:
            for i, text in enumerate(persona.lines.of(situation)):
                try:
                    path = cache.get(text, voice)
                except TTSError as e:
                    failed += 1
                    console(stderr=True).print(f"error: {situation}[{i}]: {e}", markup=False)
                    continue
                data, rate = sf.read(path, dtype="float32")
                con.print(f"{situation}[{i}] ({len(data) / rate:.1f} s): {text}", markup=False)
                if play:
                    _play(data, rate)
                chunks.extend([data, np.zeros(int(PREVIEW_GAP_S * rate), dtype=np.float32)])
    if args.out and chunks:
        sf.write(args.out, np.concatenate(chunks), rate, subtype="PCM_16")
        con.print(f"wrote {args.out}", markup=False)
    return 1 if failed else 0


def _play(data, rate: int) -> None:
    import sounddevice as sd

    from voicetrainer.errors import DeviceError

    try:
        sd.play(data, rate)
        sd.wait()
    except Exception as e:  # noqa: BLE001 - PortAudioError when the device vanished mid-preview
        raise DeviceError(f"playback failed ({e}); rerun with --no-play --out FILE to listen later") from e
