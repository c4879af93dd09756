"""`voicetrainer voice FILE...`: vocal calm of clips, against a baseline."""

from __future__ import annotations

import json
from pathlib import Path

from voicetrainer.errors import printable


def register(sub, common) -> None:
    p = sub.add_parser(
        "voice", parents=[common], help="vocal analysis (pitch, loudness, calm score) of clips",
        description="Vocal calm of each clip, relative to --baseline (a calm clip of the same "
        "person) or else to the clip's own first turn. Score 0-100, higher = calmer.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--baseline", metavar="FILE", help="a calm recording of the same voice")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.set_defaults(func=run)


def analyze_clip(path: str, baseline, settings) -> dict:
    from voicetrainer.analysis.calm import calm_score
    from voicetrainer.errors import AudioInputError
    from voicetrainer.session.grader import BASELINE_MIN_VOICED, analyze_voice_file
    from voicetrainer.session.pipeline import VoiceAccumulator

    stats, segments = analyze_voice_file(path, settings)
    if stats.voiced_frames == 0:
        raise AudioInputError("no voiced speech found (silent, noise, or not speech)", path=path)
    source = "baseline clip"
    if baseline is None:
        acc = VoiceAccumulator()
        for rec in segments:
            acc.merge(rec.voice)
            if acc.pitch.n >= BASELINE_MIN_VOICED:
                break
        baseline, source = acc.stats(), "first turn of the clip"
    rate = stats.syllable_rate * 60 if stats.syllable_rate == stats.syllable_rate else None
    brate = baseline.syllable_rate * 60 if baseline.syllable_rate == baseline.syllable_rate else None
    calm = calm_score(stats, baseline, rate=rate, baseline_rate=brate)
    calm["baseline_source"] = source
    return {"file": printable(path), "duration_s": round(stats.speech_s, 2), "calm": calm}


def run(args) -> int:
    from voicetrainer.cli._common import console, settings_from_args
    from voicetrainer.errors import AudioInputError, VoiceTrainerError
    from voicetrainer.session.grader import analyze_voice_file

    settings = settings_from_args(args)
    baseline = None
    if args.baseline:
        baseline, _ = analyze_voice_file(args.baseline, settings)
        if baseline.voiced_frames == 0:
            raise AudioInputError("baseline has no voiced speech", path=args.baseline)
    results, errors = [], []
    for f in args.files:
        try:
            results.append(analyze_clip(f, baseline, settings))
        except VoiceTrainerError as e:
            errors.append(e)
            results.append({"file": printable(f), "error": str(e)})
    con = console()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        from rich.table import Table

        t = Table("file", "calm", "pitch Hz", "pitch SD st", "loudness dBFS", "effort dB", "rate /min")
        for r in results:
            if "error" in r:
                t.add_row(Path(r["file"]).name, "[red]error[/red]", r["error"], "", "", "", "")
                continue
            c = r["calm"]
            t.add_row(Path(r["file"]).name, str(c["score"]), str(c["pitch_median_hz"]), str(c["pitch_sd_semitones"]),
                      str(c["loudness_dbfs"]), str(c["tilt_db"]), str(c["rate"]))
        con.print(t)
    for e in errors:
        console(stderr=True).print(f"voicetrainer: error: {e}", markup=False)
    return max((e.exit_code for e in errors), default=0)
