#!/usr/bin/env python3
"""Does the caller sound angry, and can it be understood? One row per shipped persona.

    python scripts/caller_voice.py [PERSONA...] [--json] [--cache DIR] [--phone-line] [--repeat N]

For each persona: its complaint lines rendered (through the render cache, exactly as
`voicetrainer personas preview ID --mood M --situation complaint` renders them) at anger 1 and
at anger 9.5; the furious file's calm score against the calm one (`voicetrainer voice
furious.wav --baseline calm.wav`, 0-100, higher = calmer); and the word error rate of Whisper
(the shipped tiny.en, the grader's settings) on each furious line against its text, numbers
aside (``wer_words``: "$35", "35 dollars" and "thirty five dollars" are the same words; a
misheard digit is still an error), with jiwer. ``--repeat N`` renders everything N times, each
in a fresh cache, and reports the mean and the spread (Piper renders without sampling noise, so
the spread is 0 unless an engine changes). Also the render time per line of the furious band and
the time to fill the cache for the whole persona (every line x every mood band), per engine.
tests/test_caller_voice.py holds two personas to CALM_MAX and WER_MAX.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CALM_MOOD, FURIOUS_MOOD = 1.0, 9.5
CALM_MAX = 60.0  # a furious render must score at most this "calm" against the calm one
WER_MAX = 0.08  # ... and Whisper must get at least 92 % of its words right
GAP_S = 0.5  # silence between lines in the rendered files (as `personas preview --out`)


@dataclass
class Row:
    """One persona's figures (times in seconds; wer 0-1)."""

    persona: str
    engine: str
    calm_score: float | None
    wer: float
    words: int
    render_s_per_line: float
    prefill_s: float
    prefill_lines: int
    wer_calm: float = math.nan  # the same lines at anger 1: what Whisper misses without the anger
    misheard: list[str] = field(default_factory=list)  # "text -> what Whisper heard" for lines with errors
    renders: int = 1  # with --repeat: calm_score and wer are means over this many renders
    calm_range: tuple[float, float] | None = None  # (min, max) over the renders
    wer_range: tuple[float, float] = (math.nan, math.nan)

    @property
    def ok(self) -> bool:
        return self.calm_score is not None and self.calm_score <= CALM_MAX and self.wer <= WER_MAX


def wer_words(text: str, reference: list[str] | None = None) -> list[str]:
    """The words WER compares, numbers aside: lower case, no punctuation, hyphens split, every
    number as digits whichever way it was written -- "$4,800" = "4800 dollars" = "four thousand
    eight hundred dollars", "89.99" = "eighty nine ninety nine" = "89 99", "March 3rd" = "March
    third" = "march 3", and a run of spoken digits as one string ("four eight two one" = "4821")
    -- using the caller facts' reading of spoken numbers
    (voicetrainer.analysis.language.numbers.spoken_runs). With ``reference`` (the reference's
    words), two adjacent words that make one reference word are that word ("over draft" =
    "overdraft": how a word is split when written is not a word misheard)."""
    import re

    from voicetrainer.analysis.language.numbers import spoken_runs

    t = text.lower()
    currency = {"$": "dollars", "\u00a3": "pounds", "\u20ac": "euros"}  # "$35" is said "35 dollars"
    t = re.sub(r"([$\u00a3\u20ac])(\d[\d,]*(?:\.\d+)?)", lambda m: f"{m.group(2)} {currency[m.group(1)]}", t)
    t = re.sub(r"(\d),(\d{3})", r"\1\2", t)
    t = re.sub(r"(\d)\.(\d)", r"\1 \2", t)
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", t)
    parts, pos = [], 0
    for start, end, values in spoken_runs(t):
        digits = len(values) > 1 and all(v < 10 for v in values)
        parts += [t[pos:start], " ", "".join(map(str, values)) if digits else " ".join(map(str, values)), " "]
        pos = end
    parts.append(t[pos:])
    t = re.sub(r"[^\w' ]+", " ", "".join(parts).replace("-", " "))
    words = [w.strip("'") for w in t.split() if w.strip("'")]
    if reference is None:
        return words
    ref, out, i = set(reference), [], 0
    while i < len(words):
        pair = words[i] + words[i + 1] if i + 1 < len(words) else ""
        if pair in ref and pair not in words:
            out.append(pair)
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def render_lines(cache, lines, voice, out: Path) -> tuple[list[np.ndarray], int, float]:
    """Render (or fetch) each line, write them one after another to ``out``; (line samples,
    rate, seconds spent rendering)."""
    import soundfile as sf

    chunks, parts, rate, spent = [], [], 0, 0.0
    for text in lines:
        t0 = time.perf_counter()
        path = cache.get(text, voice)
        spent += time.perf_counter() - t0
        y, rate = sf.read(path, dtype="float32")
        chunks.append(y)
        parts += [y, np.zeros(int(GAP_S * rate), dtype=np.float32)]
    sf.write(out, np.concatenate(parts), rate, subtype="PCM_16")
    return chunks, rate, spent


def check_persona(persona_id: str, transcriber, cache_dir: Path, work: Path, *, phone_line: bool = False,
                  situation: str = "complaint", prefill: bool = True) -> Row:  # fmt: skip
    """The figures of one persona; renders into ``cache_dir`` (use a fresh one for honest times),
    writes the calm and furious files into ``work``. ``prefill=False`` skips the cache fill."""
    from voicetrainer.cli.voice import analyze_clip
    from voicetrainer.config import Settings
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.persona.tts import voice_for_mood
    from voicetrainer.session.grader import analyze_voice_file

    persona = load_persona(persona_id)
    lines = persona.lines.of(situation)
    with RenderCache(cache_dir / "lines", phone_line=phone_line) as cache:  # lines rendered one by one
        calm_wav, furious_wav = work / f"{persona.id}-calm.wav", work / f"{persona.id}-furious.wav"
        calm_lines, _, _ = render_lines(cache, lines, voice_for_mood(persona.voice, CALM_MOOD), calm_wav)
        furious, rate, spent = render_lines(cache, lines, voice_for_mood(persona.voice, FURIOUS_MOOD), furious_wav)
    prefill_s, prefilled = math.nan, 0
    if prefill:  # the whole persona into another cache: what a call waits for before it starts
        with RenderCache(cache_dir / "prefill", phone_line=phone_line) as cache:
            t0 = time.perf_counter()
            prefilled = cache.prefill(persona).total
            prefill_s = time.perf_counter() - t0
    settings = Settings()
    baseline, _ = analyze_voice_file(calm_wav, settings)
    calm = analyze_clip(str(furious_wav), baseline, settings)["calm"]["score"]
    misheard: list[str] = []
    wer = _wer(transcriber, lines, furious, rate, misheard)
    wer_calm = _wer(transcriber, lines, calm_lines, rate, [])
    words = sum(len(wer_words(t)) for t in lines)
    return Row(persona.id, persona.voice.engine, calm, round(wer, 4), words, round(spent / len(lines), 3),
               round(prefill_s, 2), prefilled, round(wer_calm, 4), misheard)  # fmt: skip


def _wer(transcriber, lines, audio, rate: int, misheard: list[str]) -> float:
    """Word error rate (numbers aside, ``wer_words``) of Whisper on each rendered line against
    its text, over all the lines (jiwer); appends "text -> heard" to ``misheard`` for every line
    with an error."""
    import jiwer
    import soxr

    refs, hyps = [], []
    for text, y in zip(lines, audio, strict=True):
        heard = transcriber.transcribe(soxr.resample(y, rate, 16_000).astype(np.float32)).text
        ref = wer_words(text)
        hyp = wer_words(heard, ref)
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
        if ref != hyp:
            misheard.append(f"{text!r} -> {heard.strip()!r}")
    out = jiwer.process_words(refs, hyps)
    return (out.substitutions + out.deletions + out.insertions) / max(1, sum(len(r.split()) for r in refs))


def measure(persona_id: str, transcriber, work: Path, *, repeat: int = 1, phone_line: bool = False,
            prefill: bool = True, situation: str = "complaint") -> Row:  # fmt: skip
    """``check_persona`` ``repeat`` times, each in a fresh cache (the cache fill timed on the
    first only): the mean calm score and WER, with their (min, max) over the renders."""
    rows = [check_persona(persona_id, transcriber, work / f"cache-{i}", work, phone_line=phone_line,
                          situation=situation, prefill=prefill and i == 0) for i in range(repeat)]  # fmt: skip
    calms = [r.calm_score for r in rows if r.calm_score is not None]
    wers = [r.wer for r in rows]
    first = rows[0]
    first.renders = repeat
    first.calm_score = round(float(np.mean(calms)), 1) if len(calms) == repeat else None
    first.calm_range = (min(calms), max(calms)) if calms else None
    first.wer = round(float(np.mean(wers)), 4)
    first.wer_range = (min(wers), max(wers))
    first.wer_calm = round(float(np.mean([r.wer_calm for r in rows])), 4)
    first.render_s_per_line = round(float(np.mean([r.render_s_per_line for r in rows])), 3)
    first.misheard = sorted({m for r in rows for m in r.misheard})
    return first


def main(argv=None) -> int:
    from voicetrainer.config import Settings
    from voicetrainer.persona.loader import persona_files
    from voicetrainer.session.batch import _get_transcriber

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("personas", nargs="*", help="persona ids (default: every shipped persona)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cache", metavar="DIR", help="render cache (default: a fresh temporary folder)")
    ap.add_argument("--phone-line", action="store_true", help="render through the telephone line")
    ap.add_argument("--no-prefill", action="store_true", help="skip timing the whole-persona cache fill")
    ap.add_argument("--repeat", type=int, default=1, metavar="N", help="render N times: mean and spread")
    ap.add_argument("--misheard", action="store_true", help="list the lines Whisper got wrong")
    ap.add_argument("--situation", default="complaint", help="which lines (default: complaint; e.g. escalation)")
    args = ap.parse_args(argv)
    ids = args.personas or [p.stem for p in persona_files()]
    transcriber = _get_transcriber(Settings())
    rows = []
    with tempfile.TemporaryDirectory(prefix="caller-voice-") as tmp:
        work = Path(args.cache) if args.cache else Path(tmp)
        for pid in ids:
            rows.append(measure(pid, transcriber, work, repeat=max(1, args.repeat), phone_line=args.phone_line,
                                prefill=not args.no_prefill, situation=args.situation))  # fmt: skip
            if not args.json:
                r = rows[-1]
                spread = ""
                if r.renders > 1:
                    lo, hi = r.calm_range or (math.nan, math.nan)
                    spread = (f" [calm {lo}-{hi}, WER {100 * r.wer_range[0]:.1f}-{100 * r.wer_range[1]:.1f}% "
                              f"over {r.renders} renders]")  # fmt: skip
                print(f"{r.persona:30s} {r.engine:6s} calm {r.calm_score!s:>5} WER {100 * r.wer:4.1f}% "
                      f"(at anger 1: {100 * r.wer_calm:4.1f}%, {r.words} words){spread} "
                      f"render {r.render_s_per_line:.3f} s/line, prefill {r.prefill_s:.1f} s "
                      f"({r.prefill_lines} lines) {'ok' if r.ok else 'FAIL'}", flush=True)  # fmt: skip
                if args.misheard:
                    for m in r.misheard:
                        print(f"    {m}")
    if args.json:
        print(json.dumps([asdict(r) | {"ok": r.ok} for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
    sys.exit(main())


# ----------------------------------------------------------------------------- bench section (v)

BENCH_ESPEAK_VOICE = "en-us"  # the espeak-ng voice the espeak rows use


def bench_engines(tmp: Path, *, persona_id: str = "billing-double-charge", tiny: bool = False) -> dict:
    """Per engine (espeak, piper), the persona's voice switched to it: the first line (engine
    start-up or model load included), render time per line over one mood band's complaint lines
    in a fresh cache, and the cache fill before a call (every line x every mood band, as
    `prepare` does). ``tiny``: the first line and three more only."""
    from voicetrainer.persona.cache import RenderCache
    from voicetrainer.persona.loader import load_persona
    from voicetrainer.persona.tts import voice_for_mood

    base = load_persona(persona_id)
    out: dict = {"persona": persona_id}
    for engine in ("espeak", "piper"):
        persona = base.model_copy(update={"voice": base.voice.model_copy(
            update={"engine": engine, "voice": BENCH_ESPEAK_VOICE, "model": None})})  # fmt: skip
        lines = persona.lines.of("complaint") + persona.lines.of("escalation")
        lines = lines[:4] if tiny else lines
        voice = voice_for_mood(persona.voice, FURIOUS_MOOD)
        with RenderCache(tmp / f"bench-{engine}-lines") as cache:
            t0 = time.perf_counter()
            cache.get(lines[0], voice)
            first_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for text in lines[1:]:
                cache.get(text, voice)
            per_line_s = (time.perf_counter() - t0) / max(1, len(lines) - 1)
        row = {"first_line_s": round(first_s, 3), "render_s_per_line": round(per_line_s, 3), "lines": len(lines) - 1}
        if not tiny:
            with RenderCache(tmp / f"bench-{engine}-prefill") as cache:
                t0 = time.perf_counter()
                res = cache.prefill(persona)
                row |= {"prefill_s": round(time.perf_counter() - t0, 2), "prefill_lines": res.total,
                        "prefill_failed": len(res.failed)}  # fmt: skip
        out[engine] = row
    return out
