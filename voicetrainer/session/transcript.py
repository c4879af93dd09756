"""Grade a text transcript: ``voicetrainer.transcript/1`` JSON or WebVTT with voice tags.

QA teams often have transcripts from their telephony platform, and chat support has nothing
else. A transcript gives the same report as a recording, with every audio measure (vocal calm,
pitch, loudness, pace, fillers, interruptions) absent and a warning saying so: only the words
and the turn times are known. Word times inside a turn are spread evenly over it, so evidence
still points at a moment of the call.

JSON::

    {"schema": "voicetrainer.transcript/1", "persona"?: ID,
     "turns": [{"speaker": "caller" | "trainee", "start_s": 0.0, "end_s": 4.2, "text": "..."}]}

WebVTT: cues with ``<v Caller>`` / ``<v Agent>`` voice tags (also Customer, Trainee, Rep...);
consecutive cues of one speaker make one turn.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from voicetrainer import get_logger
from voicetrainer.errors import InputError
from voicetrainer.report.schema import Report, Turn, Word

log = get_logger(__name__)

SCHEMA = "voicetrainer.transcript/1"
SUFFIXES = (".json", ".vtt")
LONG_SILENCE_S = 3.0  # as the audio grader: silences at least this long are listed as dead air
VOICES = {  # WebVTT voice name (lowercase) -> speaker
    **dict.fromkeys(("caller", "customer", "client", "member", "user", "guest"), "caller"),
    **dict.fromkeys(("agent", "trainee", "rep", "representative", "advisor", "adviser", "support", "csr",
                     "operator", "associate"), "trainee"),
}  # fmt: skip
AUDIO_ABSENT = ("text transcript: no audio, so vocal calm, pitch, loudness, pace, fillers and interruptions "
                "are not measured; calm is not scored")  # fmt: skip

_CUE_TIME = re.compile(
    r"^\s*(?P<a>(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)\s+-->\s+(?P<b>(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)"
)
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Transcript:
    """A read transcript: turns in time order (caller and trainee), and the persona id if given."""

    path: str
    format: str  # "json" | "vtt"
    turns: tuple[Turn, ...]
    persona: str | None = None


def is_transcript(path: str | Path) -> bool:
    """True for a file named *.json or *.vtt (a transcript, not audio)."""
    p = Path(path)
    return p.suffix.lower() in SUFFIXES and not p.is_dir()


def read_transcript(path: str | Path) -> Transcript:
    """Read and check a transcript. Raises InputError naming the file and what is wrong."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise InputError("file not found", path=p) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the transcript ({e})", path=p) from e
    if p.suffix.lower() == ".vtt":
        t = Transcript(str(p), "vtt", tuple(_vtt_turns(raw, p)))
    else:
        t = _json_transcript(raw, p)
    if not any(turn.speaker == "trainee" and turn.text.strip() for turn in t.turns):
        raise InputError("no trainee turns with text: nothing to grade (speaker must be 'trainee', or "
                         "<v Agent> in WebVTT)", path=p)  # fmt: skip
    return t


def _json_transcript(raw: str, p: Path) -> Transcript:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON ({e.msg} at line {e.lineno})", path=p) from e
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"not a transcript: expected \"schema\": \"{SCHEMA}\", got {got!r}", path=p, field="schema")
    items = doc.get("turns")
    if not isinstance(items, list):
        raise InputError("must be a list of turns", path=p, field="turns")
    persona = doc.get("persona")
    if persona is not None and not isinstance(persona, str):
        raise InputError("must be a persona id (a string)", path=p, field="persona")
    turns = []
    for i, it in enumerate(items):
        where = f"turns[{i}]"
        if not isinstance(it, dict):
            raise InputError("must be an object with speaker, start_s, end_s, text", path=p, field=where)
        speaker = it.get("speaker")
        if speaker not in ("caller", "trainee"):
            raise InputError(f"must be 'caller' or 'trainee', got {speaker!r}", path=p, field=f"{where}.speaker")
        times = []
        for key in ("start_s", "end_s"):
            v = it.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise InputError(f"must be a number of seconds >= 0, got {v!r}", path=p, field=f"{where}.{key}")
            times.append(float(v))
        if times[1] < times[0]:
            raise InputError(f"ends ({times[1]:g} s) before it starts ({times[0]:g} s)", path=p, field=f"{where}.end_s")
        text = it.get("text")
        if not isinstance(text, str):
            raise InputError("must be a string", path=p, field=f"{where}.text")
        turns.append(_turn(speaker, times[0], times[1], text))
    turns.sort(key=lambda t: t.start_s)
    return Transcript(str(p), "json", tuple(turns), persona)


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return sum(float(x) * 60**k for k, x in enumerate(reversed(parts)))


def _vtt_turns(raw: str, p: Path) -> list[Turn]:
    lines = raw.splitlines()
    if not lines or not lines[0].lstrip().startswith("WEBVTT"):
        raise InputError("not a WebVTT file: the first line must be WEBVTT", path=p)
    cues: list[tuple[str, float, float, str]] = []
    i = 1
    while i < len(lines):
        m = _CUE_TIME.match(lines[i])
        if not m:
            i += 1
            continue
        start, end = _seconds(m["a"]), _seconds(m["b"])
        payload = []
        i += 1
        while i < len(lines) and lines[i].strip():
            payload.append(lines[i])
            i += 1
        text = " ".join(payload)
        voice = _VOICE.search(text)
        if voice is None:
            raise InputError(f"cue at {m['a']} has no <v Caller>/<v Agent> voice tag", path=p)
        name = voice.group(1).strip().split()[0].lower()
        speaker = VOICES.get(name)
        if speaker is None:
            raise InputError(f"cue at {m['a']}: unknown voice {voice.group(1).strip()!r}; use one of "
                             f"{', '.join(sorted(VOICES))}", path=p)  # fmt: skip
        cues.append((speaker, start, end, " ".join(_TAG.sub(" ", text).split())))
    turns: list[Turn] = []
    for speaker, start, end, text in cues:
        if turns and turns[-1].speaker == speaker:  # one speaker's consecutive cues: one turn
            last = turns.pop()
            turns.append(_turn(speaker, last.start_s, max(end, last.end_s), f"{last.text} {text}".strip()))
        else:
            turns.append(_turn(speaker, start, end, text))
    return turns


def _turn(speaker: str, start_s: float, end_s: float, text: str) -> Turn:
    """A turn whose words are spread evenly over its time (text transcripts have no word times)."""
    toks = text.split()
    step = (end_s - start_s) / max(1, len(toks))
    words = [Word(w, round(start_s + k * step, 3), round(start_s + (k + 1) * step, 3)) for k, w in enumerate(toks)]
    return Turn(speaker, round(start_s, 3), round(end_s, 3), text=text, words=words, text_source="known")


def transcript_report(t: Transcript) -> Report:
    """The report of a transcript before scoring: turns, times, and the measures text allows."""
    turns = list(t.turns)
    caller = [x for x in turns if x.speaker == "caller"]
    trainee = [x for x in turns if x.speaker == "trainee"]
    gaps, quiet, end = [], [], None
    for prev, cur in zip(turns, turns[1:]):
        if prev.speaker == "caller" and cur.speaker == "trainee" and cur.start_s >= prev.end_s:
            gaps.append((cur.start_s, cur.start_s - prev.end_s))
    for x in turns:
        if end is not None and x.start_s > end:
            quiet.append((end, x.start_s))
        end = x.end_s if end is None else max(end, x.end_s)
    talk = {s: sum(x.end_s - x.start_s for x in turns if x.speaker == s) for s in ("caller", "trainee")}
    metrics = {
        "trainee_wpm": None,
        "trainee_words": sum(len(x.words) for x in trainee),
        "talk_ratio": round(talk["trainee"] / (talk["trainee"] + talk["caller"]), 3)
        if caller and talk["trainee"] + talk["caller"] > 0 else None,
        "mean_response_gap_s": round(sum(g for _, g in gaps) / len(gaps), 3) if gaps else None,
        "response_gaps": [{"t_s": round(ts, 3), "gap_s": round(g, 3)} for ts, g in gaps],
        "longest_silence_s": round(max((b - a for a, b in quiet), default=0.0), 3),
        "long_silences": [{"start_s": round(a, 3), "duration_s": round(b - a, 3)}
                          for a, b in quiet if b - a >= LONG_SILENCE_S],
        "interruptions_by_trainee": None,
        "filler_rate": None,
        "calm": None,
    }  # fmt: skip
    return Report(
        duration_s=round(max((x.end_s for x in turns), default=0.0), 3),
        turns=turns,
        metrics=metrics,
        source={"input": t.path, "mode": "transcript", "format": t.format, "speakers": {"caller": None, "trainee": None},
                **({"persona": t.persona} if t.persona else {})},
        warnings=[AUDIO_ABSENT],
    )


def persona_facts(t: Transcript) -> list[str]:
    """The scenario facts of the transcript's persona (for repeat-back), [] without one."""
    if not t.persona:
        return []
    from voicetrainer.errors import PersonaError
    from voicetrainer.persona.loader import load_persona

    try:
        return list(load_persona(t.persona).scenario.facts)
    except PersonaError as e:
        raise InputError(f"unknown persona {t.persona!r} ({e.reason})", path=t.path, field="persona") from e


def grade_transcript(path: str | Path, *, rubric: str | None = None) -> Report:
    """Read, check and score a transcript: the same report schema as an audio call."""
    from voicetrainer.analysis import rubric as rubric_mod

    t = read_transcript(path)
    report = transcript_report(t)
    r = rubric_mod.load_rubric(rubric)
    report.source["rubric"], report.source["rubric_name"] = str(r.path), r.name
    facts = persona_facts(t) + [x.text for x in t.turns if x.speaker == "caller" and x.text]
    report.skills, report.overall = rubric_mod.score_skills(report, r, facts=facts)
    log.info("graded transcript %s: overall %s", path, report.overall)
    return report
