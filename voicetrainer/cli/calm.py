"""``voicetrainer calm breathe | drill``: the stress-calm trainer (paced breathing, calm-voice drills)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from voicetrainer.cli._common import add_history_args, console, history_db, settings_from_args

PATTERN_HELP = "box (in 4, hold 4, out 4, hold 4), 4-7-8 (in 4, hold 7, out 8), resonance (5.5 breaths/min)"
DEFAULT_PERSONA = "billing-double-charge"


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "calm", parents=[common], help="stress-calm trainer: paced breathing, calm-voice drills",
        description="Practise staying calm: a breathing pacer with soft tones on the headset, and a drill where "
        "the caller provokes you and each one-sentence answer is scored on your voice alone.",
    )  # fmt: skip
    calm_sub = p.add_subparsers(dest="calm_command", metavar="EXERCISE")
    calm_sub.required = True

    b = calm_sub.add_parser("breathe", parents=[common], help="paced breathing with soft tones and an animation",
                            description="Paced breathing: a soft rising tone to breathe in, a falling one to breathe "
                            "out, a short steady tone to hold; the terminal shows the same pace.")
    b.add_argument("--pattern", default="box", metavar="NAME", help=PATTERN_HELP + " (default: box)")
    b.add_argument("--minutes", type=float, default=3.0, metavar="N", help="length in minutes, whole cycles (default 3)")
    b.add_argument("--output", metavar="DEV", help="headset output device (name or index, see `voicetrainer devices`)")
    b.add_argument("--out", metavar="FILE", help="write the cues to a WAV file instead of playing them")
    b.add_argument("--no-audio", action="store_true", help="animation only (no device needed)")
    b.set_defaults(func=run)

    d = calm_sub.add_parser("drill", parents=[common], help="answer provocations calmly; scored on your voice",
                            description="The caller throws short provocations; answer each with one calm sentence. "
                            "Each answer is scored on pitch, loudness and pace against your calm baseline, with "
                            "immediate feedback; the provocations get harsher while you stay calm.")
    d.add_argument("--persona", default=DEFAULT_PERSONA, metavar="ID", help="whose lines and voice (see `personas list`)")
    d.add_argument("--trainee", default="trainee", metavar="NAME", help="your name (baseline and history)")
    d.add_argument("--rounds", type=int, default=6, metavar="N", help="provocations (default 6)")
    d.add_argument("--level", type=int, default=1, metavar="0-3", help="starting harshness: 0 mild .. 3 furious (default 1)")
    d.add_argument("--input", metavar="DEV", help="microphone (name or index)")
    d.add_argument("--output", metavar="DEV", help="headset output (name or index)")
    d.add_argument("--simulate", metavar="FILE", help="use a recording of spoken answers as the microphone (no devices)")
    d.add_argument("--seed", type=int, default=0, help="line choice seed")
    add_history_args(d, "the drill")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return {"breathe": run_breathe, "drill": run_drill}[args.calm_command](args)


# ----------------------------------------------------------------------------- breathe

def breath_view(cues, t_s: float, *, width: int = 40):
    """The animation frame at `t_s`: phase, seconds left, a breath bar that fills and empties."""
    from rich.panel import Panel
    from rich.text import Text

    from voicetrainer.calm.breathe import PHASE_LABELS, lung_fill, phase_at

    cue, progress = phase_at(cues, t_s)
    if cue is None:
        return Panel(Text("get comfortable ...", style="dim"), title="breathe", width=width + 4)
    fill = int(round(lung_fill(cue, progress) * width))
    style = {"inhale": "cyan", "hold": "blue", "exhale": "green", "hold_out": "blue"}[cue.phase]
    left = max(0, int(cue.end_s - t_s + 0.999))
    body = Text()
    body.append(f"{PHASE_LABELS[cue.phase]:<14}", style=f"bold {style}")
    body.append(f"{left:>2} s\n")
    body.append("█" * fill + "·" * (width - fill), style=style)
    cycles = cues[-1].cycle + 1
    remaining = max(0.0, cues[-1].end_s - t_s)
    return Panel(body, title=f"breath {cue.cycle + 1} of {cycles}",
                 subtitle=f"{int(remaining // 60)}:{int(remaining % 60):02d} left · Ctrl-C stops", width=width + 4)


def run_breathe(args: argparse.Namespace) -> int:
    from voicetrainer.calm.breathe import PHASE_LABELS, Pacer, cue_schedule, get_pattern, render_cues
    from voicetrainer.config import SAMPLE_RATE
    from voicetrainer.errors import DeviceError

    con = console()
    pattern = get_pattern(args.pattern)
    cues = cue_schedule(pattern, minutes=args.minutes)
    audio = render_cues(cues)
    cycles = cues[-1].cycle + 1
    con.print(f"{pattern.description}: {cycles} breath{'s' if cycles != 1 else ''}, {cues[-1].end_s / 60:.1f} min")
    if args.out:
        import soundfile as sf

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), audio, SAMPLE_RATE, subtype="PCM_16")
        con.print(f"cues written to {out} ({len(audio) / SAMPLE_RATE:.0f} s, {SAMPLE_RATE} Hz)")
        return 0
    player = None
    from voicetrainer.audio.sources import NO_DEVICES, has_devices

    if not args.no_audio and args.output is None and not has_devices(inputs=False):
        con.print(f"{NO_DEVICES}: the pacer runs without its tones (--out FILE.wav writes them to a file)")
    elif not args.no_audio:
        from voicetrainer.audio.playback import Player
        from voicetrainer.calm.breathe import BREATHE_BLOCK_MS

        player = Player(device=_device_arg(args.output), blocksize_ms=BREATHE_BLOCK_MS)
        try:
            player.open()
        except DeviceError as e:
            raise DeviceError(f"{e} Or run without sound: --no-audio (animation only) or --out FILE.wav.") from e
    pacer = Pacer(audio, player=player)
    tty = sys.stdout.isatty() and not args.quiet
    try:
        pacer.start()
        if tty:
            from rich.live import Live

            with Live(breath_view(cues, 0.0), console=con, refresh_per_second=20, transient=True) as live:
                while not pacer.done:
                    live.update(breath_view(cues, pacer.position_s()))
                    time.sleep(0.05)
        else:  # a log, one line per phase
            from voicetrainer.calm.breathe import phase_at

            shown = None
            while not pacer.done:
                cue, _ = phase_at(cues, pacer.position_s())
                if cue is not None and cue is not shown:
                    shown = cue
                    if not args.quiet:
                        con.print(f"{cue.start_s:6.1f} s  {PHASE_LABELS[cue.phase]} {cue.duration_s:.1f} s")
                time.sleep(0.02)
    except KeyboardInterrupt:
        con.print("stopped.")
    finally:
        if player is not None:
            player.stop()
            player.close()
    con.print("done. Notice how you feel, then go back to your calls.")
    return 0


# ----------------------------------------------------------------------------- drill

def run_drill(args: argparse.Namespace) -> int:
    from voicetrainer.calm.drill import LEVEL_NAMES, CalmDrill, DrillOptions, ProvocationDeck
    from voicetrainer.config import user_data_dir
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.session.practice import VoiceBank, load_baseline

    settings = settings_from_args(args)
    con = console()
    options = DrillOptions(rounds=args.rounds, start_level=args.level)
    persona = load_persona(args.persona)
    cache = RenderCache(user_data_dir(settings) / "tts-cache")
    con.print(f"preparing {persona.name}'s voice ...")
    for text, voice in ProvocationDeck(persona, seed=args.seed).all_renders():
        cache.get(text, voice)  # rendered now, so no answer ever waits for synthesis
    baseline = load_baseline(args.trainee, settings)
    con.print(f"calm drill with {persona.name}: {options.rounds} provocations. Answer each in one calm sentence."
              + ("" if baseline is not None else " Your first answer sets your calm baseline."))

    def on_state(state: str, index: int, prov) -> None:
        if state == "provoking":
            con.print(f"\n[bold]{index + 1}.[/bold] [red]{persona.name} ({LEVEL_NAMES[prov.level]}):[/red] {prov.text}")
        elif state == "listening":
            con.print("   [dim]your answer ...[/dim]")

    def on_round(rnd) -> None:
        style = "green" if rnd.score is not None and rnd.score >= options.up_score else (
            "yellow" if rnd.score is not None and rnd.score >= options.down_score else "red")
        if rnd.score is None:
            style = "cyan"
        con.print(f"   [{style}]{rnd.feedback}[/{style}]", markup=True)
        if rnd.level_after != rnd.level:
            con.print(f"   [dim]next: {'harsher' if rnd.level_after > rnd.level else 'gentler'} "
                      f"({LEVEL_NAMES[rnd.level_after]})[/dim]")

    drill = CalmDrill(persona, voice=VoiceBank(cache), player=None, settings=settings, options=options,
                      baseline=baseline, trainee=args.trainee, seed=args.seed, on_round=on_round, on_state=on_state)
    if args.simulate:
        result = _simulated(drill, args.simulate)
    else:
        from voicetrainer.audio.playback import Player
        from voicetrainer.audio.sources import MicSource
        from voicetrainer.errors import DeviceError

        try:
            with Player(device=_device_arg(args.output)) as player, MicSource(device=_device_arg(args.input)) as mic:
                drill.player = player
                result = drill.run(mic)
        except DeviceError as e:
            raise DeviceError(f"{e} Without a headset, try --simulate FILE (a recording of spoken answers).") from e
        except KeyboardInterrupt:
            con.print("stopped.")
            return 130
    con.print("")
    scores = result.scores
    if scores:
        con.print(f"drill done: mean calm {result.mean_score:.0f}/100 over {len(scores)} answers (worst "
                  f"{min(scores):.0f}); reached {LEVEL_NAMES[result.max_level]}, next time start at "
                  f"--level {result.final_level}")
    else:
        con.print("drill done: no answer could be scored" + (f" ({result.aborted})" if result.aborted else ""))
    if result.aborted:
        con.print(f"note: {result.aborted}")
    db_path = history_db(args)
    if db_path is not None:
        from voicetrainer.report.history import HistoryDB, default_db_path

        with HistoryDB(db_path or default_db_path(settings)) as db:
            db.add_drill(result)
            con.print(f"saved to history: {db.path}")
    if scores and result.mean_score < options.down_score:
        con.print("tip: reset with paced breathing before the next round: voicetrainer calm breathe --pattern resonance --minutes 2")
    return 0


def _simulated(drill, recording: str):
    """Answers from a recording (a simulation script beside it, or each speech segment), no devices."""
    from voicetrainer.audio.playback import NullPlayer
    from voicetrainer.session.simulate import ScriptedTrainee, load_script

    audio, answers = load_script(recording)
    drill.player = NullPlayer()
    sim = ScriptedTrainee(audio, answers, drill.caller_active)
    return drill.run(sim.frames(max_s=60.0 * drill.options.rounds))


def _device_arg(value):
    if value is None:
        return None
    return int(value) if value.isdigit() else value
