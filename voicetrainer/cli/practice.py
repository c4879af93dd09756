"""`voicetrainer practice | demo | devices | check`: live calls on the headset, and the simulated demo."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from voicetrainer.analysis.pacing import WPM_BAND
from voicetrainer.cli._common import add_history_args, add_model_args, console, history_db, settings_from_args

DEFAULT_DEMO_PERSONA = "billing-double-charge"
PHONE_LINE_HELP = "the caller as heard over a telephone line (300-3400 Hz band, 8 kHz, light line noise)"


def _fixture(name: str) -> Path:
    here = Path(__file__).resolve().parents[2] / "audio_fixtures" / name
    if here.exists():
        return here
    from importlib.resources import files

    return Path(str(files("voicetrainer") / "data" / name))


def register(sub, common) -> None:
    p = sub.add_parser("practice", parents=[common], help="a live practice call on the headset",
                       description="Practice a call: the caller plays on the output device, your microphone is analysed live.")
    p.add_argument("--persona", default=DEFAULT_DEMO_PERSONA, metavar="ID", help="persona id (see `personas list`)")
    p.add_argument("--input", metavar="DEV", help="microphone (name or index, see `voicetrainer devices`)")
    p.add_argument("--output", metavar="DEV", help="headset output (name or index)")
    p.add_argument("--trainee", default="trainee", metavar="NAME", help="your name (history and voice baseline)")
    p.add_argument("--baseline", action="store_true", help="record your calm-voice baseline again")
    p.add_argument("--simulate", metavar="FILE", help="use a recording of spoken answers as the microphone")
    p.add_argument("--seed", type=int, default=0, help="caller choices seed")
    p.add_argument("--out", metavar="DIR", help="session folder (default: user data folder)")
    p.add_argument("--phone-line", action="store_true", help=PHONE_LINE_HELP)
    add_history_args(p, "the call")
    add_model_args(p)
    p.set_defaults(func=run_practice)

    d = sub.add_parser("demo", parents=[common], help="a whole simulated practice call (no audio device needed)",
                       description="Runs a whole call through the live pipeline with a shipped persona and a "
                       "shipped trainee recording (real speech), in real time.")
    d.add_argument("--out", metavar="DIR", default=None, help="session folder (default: ./demo-out)")
    d.add_argument("--persona", default=DEFAULT_DEMO_PERSONA, metavar="ID")
    d.add_argument("--fast", action="store_true", help="accelerated clock (no waiting; latency is then estimated)")
    d.add_argument("--agent", default="good", metavar="good|rude|FILE",
                   help="the simulated agent's playbook: good (default), rude (escalation and a hang-up), or a YAML file")
    d.add_argument("--phone-line", action="store_true", help=PHONE_LINE_HELP)
    add_history_args(d, "the call")
    add_model_args(d)
    d.set_defaults(func=run_demo)

    v = sub.add_parser("devices", parents=[common], help="list audio devices")
    v.set_defaults(func=run_devices)

    c = sub.add_parser("check", parents=[common], help="microphone level and noise floor for a few seconds")
    c.add_argument("--input", metavar="DEV")
    c.add_argument("--output", metavar="DEV")
    c.add_argument("--seconds", type=float, default=4.0)
    c.set_defaults(func=run_check)


# ----------------------------------------------------------------------------- live view

class LiveView:
    """The terminal view: mood, voice against the baseline band, WPM, captions, one nudge.

    On a terminal it is a rich Live panel; otherwise new captions are printed as lines.
    """

    def __init__(self, persona_name: str, *, enabled: bool = True):
        self.persona_name = persona_name
        self.tty = sys.stdout.isatty() and enabled
        self.enabled = enabled
        self._live = None
        self._lines = CaptionLines()
        self._con = console()

    def __enter__(self):
        if self.tty:
            from rich.live import Live

            self._live = Live(self._render(None), console=self._con, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live:
            self._live.__exit__(*exc)

    def update(self, u) -> None:
        if not self.enabled:
            return
        if self._live:
            self._live.update(self._render(u))
            return
        for c in self._lines.feed(u):
            who = "CALLER " if c["speaker"] == "caller" else "YOU    "
            self._con.print(f"{_mmss(c['t_s'])} {who} {c['text']}", markup=False, highlight=False)

    def _render(self, u):
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        if u is None:
            return Panel(Text("connecting..."), title=f"call with {self.persona_name}")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(justify="right", style="bold")
        grid.add_column()
        mood = u.mood if u.mood is not None else 0
        bar = "█" * int(round(mood)) + "░" * (10 - int(round(mood)))
        grid.add_row("caller mood", Text(f"{bar} {mood:.1f}/10", style="red" if mood >= 7 else "yellow" if mood >= 4 else "green"))
        base = u.baseline or {}
        lvl = f"{u.trainee_level_dbfs:6.1f} dBFS"
        if base.get("loudness_dbfs") is not None:
            lvl += f"  (your calm: {base['loudness_dbfs']:.0f} ±3)"
        grid.add_row("your loudness", lvl)
        pitch = f"{u.trainee_pitch_hz:5.0f} Hz" if u.trainee_pitch_hz else "   -"
        if base.get("pitch_median_hz"):
            pitch += f"  (your calm: {base['pitch_median_hz']:.0f} Hz)"
        grid.add_row("your pitch", pitch)
        grid.add_row("pace", f"{u.wpm:.0f} wpm (aim {WPM_BAND[0]:.0f}-{WPM_BAND[1]:.0f})" if u.wpm else "-")
        who = "caller speaking" if u.caller_speaking else ("you are speaking" if u.trainee_speaking else "")
        grid.add_row("", Text(who, style="dim"))
        caps = Text()
        for c in sorted(u.captions, key=lambda c: c["t_s"])[-4:]:
            caps.append(f"{_mmss(c['t_s'])} ", style="dim")
            caps.append("Caller: " if c["speaker"] == "caller" else "You: ", style="bold red" if c["speaker"] == "caller" else "bold cyan")
            caps.append(c["text"] + "\n")
        grid.add_row("captions", caps)
        if u.nudge:
            grid.add_row("tip", Text(u.nudge, style="bold yellow"))
        return Panel(grid, title=f"call with {self.persona_name}  {_mmss(u.t_s)}", subtitle="Ctrl-C ends the call")


class CaptionLines:
    """New captions as terminal lines, in time order.

    A trainee caption exists only once their turn has ended and been transcribed, but the caller
    may have cut in meanwhile: while a trainee turn is open, captions from its start on wait
    until its caption arrives (or the call ends), then all print sorted by time.
    """

    ONSET_MARGIN_S = 1.5  # the turn began up to this long before an update shows trainee_speaking

    def __init__(self) -> None:
        self._seen: set[tuple[str, float]] = set()
        self._pending: list[dict] = []
        self._open_from_s: float | None = None

    def feed(self, u) -> list[dict]:
        """The captions of update `u` that can be printed now, oldest first (empty texts dropped)."""
        for c in u.captions:
            key = (c["speaker"], c["t_s"])
            if key not in self._seen:
                self._seen.add(key)
                self._pending.append(c)
                if c["speaker"] == "trainee":
                    self._open_from_s = None
        if u.trainee_speaking and self._open_from_s is None and not u.ended:
            self._open_from_s = u.t_s - self.ONSET_MARGIN_S
        hold = math.inf if self._open_from_s is None or u.ended else self._open_from_s
        ready = sorted((c for c in self._pending if c["t_s"] < hold), key=lambda c: c["t_s"])
        self._pending = [c for c in self._pending if c["t_s"] >= hold]
        return [c for c in ready if str(c.get("text") or "").strip()]


def _mmss(t: float) -> str:
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


# ----------------------------------------------------------------------------- commands

def _print_result(report, session_dir, con) -> None:
    lat = report.latency or {}
    con.print(f"session: {session_dir}")
    con.print(f"report:  {Path(session_dir) / 'report.json'}" + ("  +  report.html" if (Path(session_dir) / "report.html").exists() else ""))
    skills = ", ".join(f"{k} {v.score:.0f}" for k, v in report.skills.items() if v.score is not None)
    con.print(f"overall {report.overall if report.overall is not None else '-'}  ({skills})")
    if lat.get("reply_p50_s") is not None:
        barge = (f"; barge-in detected in {lat['barge_in_p50_s']:.2f} s" if lat.get("barge_in_p50_s") is not None
                 else "; no barge-in")
        con.print(f"caller reply latency p50 {lat['reply_p50_s']:.2f} s, p95 {lat['reply_p95_s']:.2f} s{barge} "
                  f"({lat.get('clock')})")
    for w in report.warnings:
        con.print(f"note: {w}")
    from voicetrainer.calm.breathe import breathing_suggestion  # after a hang-up or a voice that stayed high

    if tip := breathing_suggestion(report):
        con.print(f"tip: {tip}")


# what a demo run writes in its folder (audio/recorder.py, session/practice.py, report/); a run
# replaces these and nothing else
DEMO_FILES = ("session.json", "call.wav", "events.jsonl", "trainee_script.json", "report.json", "report.html")


def _clear_demo_folder(out: Path) -> None:
    """Make `out` ready for a new demo: missing or empty is fine; a folder holding only an earlier
    demo's files has those files removed; anything else is refused (InputError, exit 2) and left
    untouched: the demo never deletes what it did not write."""
    from voicetrainer.errors import InputError

    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("is not a folder; give --out a new or empty folder", path=out)
    entries = list(out.iterdir())
    if not entries:
        return
    ours = (out / "session.json").is_file()
    foreign = [e.name for e in entries
               if not (e.is_file() and not e.is_symlink() and (e.name in DEMO_FILES or e.name.endswith(".tmp")))]
    if not ours or foreign:
        shown = ", ".join(sorted(foreign)[:3]) + (" ..." if len(foreign) > 3 else "")
        raise InputError(f"is not empty and holds files the demo did not write ({shown or 'no session.json'}); "
                         "give --out a new or empty folder", path=out)
    for e in entries:
        e.unlink()


def run_demo(args) -> int:
    from rich.markup import escape

    from voicetrainer.session.demo import demo_call

    settings = settings_from_args(args)
    out = Path(args.out) if args.out else Path("demo-out")
    _clear_demo_folder(out)
    con = console()
    con.print(f"demo: persona '{args.persona}' and a simulated agent ({args.agent} playbook) that listens, speaks "
              f"with a second voice into the microphone path and is transcribed by Whisper "
              f"({'accelerated' if args.fast else 'real time'})")
    view = LiveView(args.persona, enabled=not args.quiet)
    t0 = time.perf_counter()
    with view:
        result = demo_call(args.persona, out, playbook=args.agent, settings=settings, realtime=not args.fast,
                           on_update=view.update, db=history_db(args), phone_line=args.phone_line)
    con.print(f"call finished in {time.perf_counter() - t0:.0f} s")
    _print_conversation(out, con, escape)
    con.print(f"[bold]outcome: {result.outcome or 'none'}[/bold]")
    _print_result(result.report, out, con)
    return 0


def _print_conversation(session_dir: Path, con, escape) -> None:
    """The call as it happened: caller lines (situation, mood) and what the caller's mind heard."""
    import json

    path = Path(session_dir) / "events.jsonl"
    if not path.exists():
        return
    for raw in path.read_text().splitlines():
        e = json.loads(raw)
        if e.get("type") == "caller_line":
            con.print(f"{_mmss(e['start_s'])} [bold]caller[/bold] [dim]({e.get('situation')}, "
                      f"mood {e.get('mood') or 0:.1f})[/dim]: {escape(e.get('text', ''))}")
        elif e.get("type") == "trainee_turn" and e.get("text"):
            con.print(f"{_mmss(e['start_s'])} [bold cyan]agent[/bold cyan]: {escape(e['text'])}")


def run_practice(args) -> int:
    from voicetrainer.asr import live_recogniser
    from voicetrainer.session.practice import CallSetup, load_baseline, practice, prepare, simulate

    settings = settings_from_args(args)
    con = console()
    if args.simulate:
        view = LiveView(args.persona, enabled=not args.quiet)
        with view:
            report = simulate(args.persona, args.simulate, Path(args.out) if args.out else None, settings=settings,
                              seed=args.seed, on_update=view.update, trainee=args.trainee, db=history_db(args),
                              phone_line=args.phone_line)
        _print_result(report, report.source.get("input"), con)
        return 0
    _recover_on_start(settings)
    _require_devices()  # before the baseline sentence and the voice cache: fail first, say what works
    device_in = _device_arg(args.input)
    device_out = _device_arg(args.output)
    baseline = None if args.baseline else load_baseline(args.trainee, settings)
    setup = CallSetup(persona=args.persona, trainee=args.trainee, seed=args.seed,
                      session_dir=Path(args.out) if args.out else None, db=history_db(args),
                      phone_line=args.phone_line)
    con.print(f"preparing the caller's voice ({args.persona}) ...")
    prepared = prepare(setup, settings)
    transcriber = live_recogniser(settings.asr)
    if baseline is None:
        baseline = _record_baseline(args.trainee, device_in, settings, con)
    view = LiveView(prepared[0].name, enabled=not args.quiet)
    with view:
        report, session_dir = practice(setup, settings, device_in=device_in, device_out=device_out,
                                       transcriber=transcriber, baseline=baseline, prepared=prepared,
                                       on_update=view.update)
    _print_result(report, session_dir, con)
    return 0


def _require_devices() -> None:
    from voicetrainer.audio.sources import NO_DEVICES, has_devices
    from voicetrainer.errors import DeviceError

    if not has_devices():
        raise DeviceError(f"{NO_DEVICES}, so a live call cannot start. Without devices: "
                          "`voicetrainer practice --simulate answers.wav` uses a recording of your answers as the "
                          "microphone, and `voicetrainer demo` runs a whole simulated call")


def _device_arg(value):
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _recover_on_start(settings) -> None:
    from voicetrainer.session.practice import sessions_root
    from voicetrainer.session.recover import recover_on_start

    recover_on_start(sessions_root(settings))


def _record_baseline(trainee, device, settings, con):
    """Read one neutral sentence; its pitch, loudness and rate become the trainee's baseline."""
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.session.practice import BASELINE_SENTENCE, record_baseline, save_baseline

    con.print("Before your first call: read this sentence calmly, as you would to a customer:")
    con.print(f"  [bold]{BASELINE_SENTENCE}[/bold]")
    with MicSource(device=device) as mic:
        stats = record_baseline(trainee, mic, settings, save=False)
    if stats is None:
        con.print("I could not hear enough speech for a baseline; the call will use your first answer instead.")
        return None
    path = save_baseline(trainee, stats, settings)
    con.print(f"baseline saved ({stats.pitch_median_hz:.0f} Hz, {stats.loudness_dbfs:.0f} dBFS) -> {path}")
    return stats


def run_devices(args) -> int:
    from rich.table import Table

    from voicetrainer.audio.sources import list_devices

    con = console()
    devs = list_devices()
    if not devs:
        con.print("No audio devices found. Without a sound card (or PulseAudio/PipeWire running) there is nothing "
                  "to open; `voicetrainer demo` and `practice --simulate FILE` work without devices.")
        return 0
    t = Table("index", "name", "in", "out", "default rate")
    for d in devs:
        t.add_row(str(d["index"]), d["name"], str(d["max_input_channels"]), str(d["max_output_channels"]),
                  f"{d['default_samplerate']:.0f}")
    con.print(t)
    return 0


def run_check(args) -> int:
    """Mic level and noise floor; warns when the mic hears the caller (no headset)."""
    import numpy as np

    from voicetrainer.audio.frames import rms_dbfs
    from voicetrainer.audio.playback import Player
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.stream.vad import EnergyVad

    con = console()
    vad = EnergyVad()
    levels = []
    t = np.arange(int(16000 * 0.6)) / 16000
    probe = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    leak = []
    with MicSource(device=_device_arg(args.input)) as mic, Player(device=_device_arg(args.output)) as player:
        con.print(f"listening for {args.seconds:.0f} s: say a few words at your normal call volume ...")
        t0 = time.monotonic()
        probe_at = args.seconds - 1.0
        probed = False
        for frame in mic:
            el = time.monotonic() - t0
            lvl = rms_dbfs(frame.channel(0))
            vad.is_speech(lvl)
            (leak if probed and el < probe_at + 0.6 else levels).append(lvl)
            if not probed and el >= probe_at:
                player.play(probe)
                probed = True
            if el >= args.seconds:
                break
    floor = vad.floor_dbfs
    peak = max(levels) if levels else -120
    con.print(f"noise floor {floor:.0f} dBFS, loudest speech {peak:.0f} dBFS")
    if peak - floor < 15:
        con.print("[yellow]your voice is barely above the room noise: move the microphone closer[/yellow]")
    if leak and np.median(leak) > floor + 10:
        con.print("[yellow]the microphone hears the caller's audio: use a headset, or the caller will talk to itself[/yellow]")
    return 0
