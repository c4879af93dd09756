"""Recovery after escalation, and emotional contagion: does the trainee's voice follow the caller's?

Pure functions over what a report already holds: the per-channel plot tracks
(``report.tracks[speaker] = {"t_s", "pitch_hz", "loudness_dbfs"}``, one point per 250 ms, None
where the speaker was silent or unvoiced), the turns, the dialog's decision events and the
trainee's calm baseline (``report.metrics["calm"]["baseline"]``).

Escalations:
- practice sessions: the caller's mood rose (a ``decision`` event with ``mood_after >
  mood_before``); the escalation is heard at the start of the caller's next turn.
- graded calls (no dialog): a caller turn whose median pitch or mean loudness rises above the
  caller's own first turn by `RecoveryOptions.caller_pitch_rise_st` / `caller_loudness_rise_db`
  (the onset of a raised stretch, or a further rise over the previous caller turn).

Baseline band: the trainee is inside it while their smoothed pitch is at most
``baseline + pitch_tol_st`` and their loudness at most ``baseline + loudness_tol_db``. Only a
rise leaves the band: a lower or quieter voice is never agitation (as in `analysis.calm`).

Recovery time of one escalation: seconds from the escalation's onset until the trainee's voice
is back inside the band (for `hold_s` of speech) after it had left it; 0 when it never
left; None when it had not come back by the next escalation (or `window_s`, or the call's end).

Contagion of one escalation: the trainee's pitch (loudness) in their first `response_s` of
voiced speech after the onset, minus their level just before it, while the caller's rose (by
voice in graded calls; a mood rise counts as the caller's rise in sessions).
For the call: the share of caller rises the trainee followed, and the correlation between the
caller's per-turn level and the trainee's level in the turn that answers it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voicetrainer.config import TRACK_BUCKET_S as TRACK_STEP_S  # report tracks: a point per 250 ms
from voicetrainer.stream.features import hz_to_semitones, semitones_to_hz


@dataclass(frozen=True)
class RecoveryOptions:
    """Thresholds of the recovery and contagion analysis (units in the names).

    Attributes:
        pitch_tol_st: the band's upper pitch edge, in semitones above the baseline median.
        loudness_tol_db: the band's upper loudness edge, in dB above the baseline loudness.
            Both are wider than `analysis.calm`'s whole-turn tolerances because they apply to
            short windows. Measured on a constructed espeak-ng call (tests/test_calm_recovery.py):
            calm sentences reach +2.1 st (1 s median) and +6.8 dB (2 s mean) over a first-turn
            baseline, whose mean loudness is pulled down by the pauses inside the turn; the
            raised sentences sit at +7.3 st and above.
        pitch_smooth_s: a point's pitch is the median of the voiced points within this many
            seconds either side (one octave error or stressed syllable is no rise).
        loudness_smooth_s: a point's loudness is the mean of the speech points within this many
            seconds either side (the same statistic as the baseline's, over a longer window
            because loudness swings more than pitch from syllable to syllable).
        hold_s: back inside the band for this much speech (track points) = recovered.
        window_s: follow an escalation at most this long (or until the next one).
        caller_pitch_rise_st, caller_loudness_rise_db: graded calls: a caller turn this far
            above the caller's first turn (pitch median / mean loudness) is raised.
        response_s: contagion: the trainee's first this-many seconds of voiced speech after
            an escalation are their response.
        follow_pitch_st, follow_loudness_db: contagion: the trainee's response this far above
            their level before the escalation means they followed the caller's rise.
        min_pairs: correlations need at least this many caller-turn/trainee-turn pairs.
        min_mood_rise: sessions: a caller turn is an escalation when the mood rose by at least
            this many points (of 10) before it; the +0.4 "nothing that helps" drift is not one.
    """

    pitch_tol_st: float = 2.5
    loudness_tol_db: float = 8.0
    pitch_smooth_s: float = 0.5
    loudness_smooth_s: float = 1.0
    hold_s: float = 1.0
    window_s: float = 30.0
    caller_pitch_rise_st: float = 2.0
    caller_loudness_rise_db: float = 3.0
    response_s: float = 2.0
    follow_pitch_st: float = 1.0
    follow_loudness_db: float = 3.0
    min_pairs: int = 4
    min_mood_rise: float = 1.0


@dataclass(frozen=True)
class Track:
    """One speaker's plot track as arrays [shape=(n,)]: times (s), pitch (semitones re 100 Hz,
    NaN = unvoiced/silent), loudness (dBFS, NaN = silent)."""

    t_s: np.ndarray
    pitch_st: np.ndarray
    loudness_dbfs: np.ndarray

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "Track":
        d = d or {}
        t = np.asarray(d.get("t_s") or [], dtype=float)
        n = len(t)

        def arr(key: str) -> np.ndarray:
            vals = list(d.get(key) or [])
            if len(vals) != n:
                raise ValueError(f"track {key!r} has {len(vals)} points, t_s has {n}")
            return np.array([math.nan if v is None else float(v) for v in vals], dtype=float)

        hz = arr("pitch_hz")
        return cls(t, hz_to_semitones(hz), arr("loudness_dbfs"))

    def window(self, start_s: float, end_s: float) -> "Track":
        m = (self.t_s >= start_s) & (self.t_s < end_s)
        return Track(self.t_s[m], self.pitch_st[m], self.loudness_dbfs[m])

    def voiced(self) -> "Track":
        m = ~np.isnan(self.pitch_st)
        return Track(self.t_s[m], self.pitch_st[m], self.loudness_dbfs[m])

    def level(self) -> tuple[float, float]:
        """(median pitch of the voiced points in semitones, mean loudness of the speech points in
        dBFS); NaN when nothing is voiced."""
        v = self.voiced()
        if not len(v.t_s):
            return math.nan, math.nan
        loud = self.loudness_dbfs[~np.isnan(self.loudness_dbfs)]
        return float(np.median(v.pitch_st)), float(np.mean(loud)) if len(loud) else math.nan


@dataclass(frozen=True)
class Escalation:
    """A moment the caller got angrier.

    Attributes:
        t_s: onset as the trainee hears it (start of the caller turn), seconds.
        source: "mood" (dialog decision) or "voice" (caller's pitch/loudness rose).
        caller_turn: index of the caller turn among the caller's turns, or None.
        mood_before, mood_after: the dialog mood around it ("mood" escalations).
        reason: the dialog's reason, when known.
    """

    t_s: float
    source: str
    caller_turn: int | None = None
    mood_before: float | None = None
    mood_after: float | None = None
    reason: str = ""


def _turns(turns: Iterable, speaker: str) -> list[tuple[float, float]]:
    out = []
    for t in turns:
        spk = t.get("speaker") if isinstance(t, Mapping) else t.speaker
        if spk == speaker:
            a = t.get("start_s") if isinstance(t, Mapping) else t.start_s
            b = t.get("end_s") if isinstance(t, Mapping) else t.end_s
            out.append((float(a), float(b)))
    return sorted(out)


def st(hz: float | None) -> float:
    """Semitones re 100 Hz (NaN for None/non-positive)."""
    return float(hz_to_semitones(hz))


def mood_escalations(events: Sequence[Mapping], caller_turns: Sequence[tuple[float, float]], *,
                     min_rise: float = RecoveryOptions.min_mood_rise) -> list[Escalation]:
    """Escalations from dialog decisions whose mood rose, each placed at the start of the first
    caller turn that begins at or after the decision (decisions that land on the same turn are
    merged: mood before of the first, after of the last); only rises of `min_rise` or more count."""
    out: dict[float, Escalation] = {}
    starts = [a for a, _ in caller_turns]
    for ev in events:
        if ev.get("type", "decision") != "decision":
            continue
        before, after = ev.get("mood_before"), ev.get("mood_after")
        if before is None or after is None or not after > before:
            continue
        t = float(ev.get("t_s") or 0.0)
        k = next((i for i, a in enumerate(starts) if a >= t - 0.05), None)
        onset = starts[k] if k is not None else t
        prev = out.get(onset)
        out[onset] = Escalation(
            onset, "mood", k, prev.mood_before if prev else float(before), float(after),
            (prev.reason + "; " if prev else "") + str(ev.get("reason", "")),
        )
    return sorted((e for e in out.values() if e.mood_after - e.mood_before >= min_rise - 1e-9), key=lambda e: e.t_s)


def turn_levels(track: Track, turns: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(median pitch st, mean loudness dBFS) of each turn; NaN where a turn has no voiced points."""
    return [track.window(a - 1e-6, b + 1e-6).level() for a, b in turns]


def voice_escalations(caller: Track, caller_turns: Sequence[tuple[float, float]],
                      options: RecoveryOptions = RecoveryOptions()) -> list[Escalation]:
    """Caller turns whose voice rose above the caller's own first turn (graded calls)."""
    levels = turn_levels(caller, caller_turns)
    ref_i = next((i for i, (p, _) in enumerate(levels) if not math.isnan(p)), None)
    if ref_i is None:
        return []
    ref_p, ref_l = levels[ref_i]
    out: list[Escalation] = []
    prev_raised, prev = False, levels[ref_i]
    for i in range(ref_i + 1, len(levels)):
        p, loud = levels[i]
        if math.isnan(p):
            continue
        raised = (p - ref_p >= options.caller_pitch_rise_st) or (
            not math.isnan(loud) and not math.isnan(ref_l) and loud - ref_l >= options.caller_loudness_rise_db
        )
        further = (p - prev[0] >= options.caller_pitch_rise_st) or (
            not math.isnan(loud) and not math.isnan(prev[1]) and loud - prev[1] >= options.caller_loudness_rise_db
        )
        if raised and (not prev_raised or further):
            out.append(Escalation(round(caller_turns[i][0], 3), "voice", i))
        prev_raised, prev = raised, (p, loud)
    return out


def smooth(t_s: np.ndarray, x: np.ndarray, *, half_s: float, how: str) -> np.ndarray:
    """Each point replaced by the median or mean ("median" | "mean") of the non-NaN values within
    ``half_s`` seconds of it (NaN where there are none). [shape=(n,)] like `x`."""
    if how not in ("median", "mean"):
        raise ValueError(f"how must be 'median' or 'mean', got {how!r}")
    f = np.median if how == "median" else np.mean
    out = np.full(len(x), math.nan)
    ok = ~np.isnan(x)
    for i in range(len(x)):
        m = ok & (np.abs(t_s - t_s[i]) <= half_s + 1e-9)
        if m.any():
            out[i] = f(x[m])
    return out


@dataclass(frozen=True)
class Band:
    """The trainee's calm band: upper edges of pitch (semitones re 100 Hz) and loudness (dBFS)."""

    pitch_max_st: float
    loudness_max_dbfs: float
    pitch_st: float
    loudness_dbfs: float

    @classmethod
    def from_baseline(cls, baseline: Mapping, options: RecoveryOptions = RecoveryOptions()) -> "Band":
        p = st(baseline.get("pitch_median_hz"))
        loud = baseline.get("loudness_dbfs")
        loud = math.nan if loud is None else float(loud)
        return cls(p + options.pitch_tol_st, loud + options.loudness_tol_db, p, loud)

    def outside(self, pitch_st: np.ndarray, loudness_dbfs: np.ndarray) -> np.ndarray:
        """True where a point is above the band (NaN edges or values never count as above)."""
        with np.errstate(invalid="ignore"):
            hi_p = pitch_st > self.pitch_max_st if not math.isnan(self.pitch_max_st) else np.zeros(len(pitch_st), bool)
            hi_l = (
                loudness_dbfs > self.loudness_max_dbfs
                if not math.isnan(self.loudness_max_dbfs) else np.zeros(len(loudness_dbfs), bool)
            )
        return np.asarray(hi_p | hi_l, dtype=bool)


def recovery_after(trainee: Track, onset_s: float, until_s: float, band: Band,
                   options: RecoveryOptions = RecoveryOptions()) -> dict:
    """How the trainee's voice behaved after one escalation at `onset_s`, up to `until_s`.

    Returns ``{"left_band", "recovered", "recovery_s", "left_at_s", "back_at_s",
    "peak_pitch_rise_st", "peak_loudness_rise_db", "first_voice_s"}`` (seconds on the call
    clock; rises against the baseline; None where there was nothing to measure).
    """
    w = trainee.window(onset_s, until_s)
    speech = ~np.isnan(w.loudness_dbfs) | ~np.isnan(w.pitch_st)
    w = Track(w.t_s[speech], w.pitch_st[speech], w.loudness_dbfs[speech])
    res = {"left_band": None, "recovered": None, "recovery_s": None, "left_at_s": None, "back_at_s": None,
           "peak_pitch_rise_st": None, "peak_loudness_rise_db": None, "first_voice_s": None}
    if np.all(np.isnan(w.pitch_st)):
        return res  # the trainee did not speak: nothing to recover from, nothing to credit
    p = smooth(w.t_s, w.pitch_st, half_s=options.pitch_smooth_s, how="median")
    loud = smooth(w.t_s, w.loudness_dbfs, half_s=options.loudness_smooth_s, how="mean")
    out = band.outside(p, loud)
    res["first_voice_s"] = round(float(w.t_s[np.argmax(~np.isnan(w.pitch_st))]), 3)
    if not math.isnan(band.pitch_st):
        res["peak_pitch_rise_st"] = round(float(np.nanmax(p) - band.pitch_st), 2)
    if not math.isnan(band.loudness_dbfs) and not np.all(np.isnan(loud)):
        res["peak_loudness_rise_db"] = round(float(np.nanmax(loud) - band.loudness_dbfs), 2)
    if not out.any():
        res.update(left_band=False, recovered=True, recovery_s=0.0)
        return res
    first_out = int(np.argmax(out))
    hold = max(1, int(math.ceil(options.hold_s / TRACK_STEP_S - 1e-9)))
    res.update(left_band=True, recovered=False, left_at_s=round(float(w.t_s[first_out]), 3))
    run = 0
    for i in range(first_out + 1, len(out)):
        run = 0 if out[i] else run + 1
        if run >= hold:
            back = float(w.t_s[i - hold + 1]) - TRACK_STEP_S / 2  # start of the first in-band bucket
            res.update(recovered=True, back_at_s=round(back, 3), recovery_s=round(max(0.0, back - onset_s), 2))
            break
    return res


def _corr(x: list[float], y: list[float], min_pairs: int) -> float | None:
    pairs = [(a, b) for a, b in zip(x, y) if not (math.isnan(a) or math.isnan(b))]
    if len(pairs) < min_pairs:
        return None
    a, b = np.array(pairs).T
    if np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 3)


def analyze_recovery(
    *, tracks: Mapping[str, Mapping], turns: Iterable, baseline: Mapping | None, events: Sequence[Mapping] = (),
    duration_s: float | None = None, options: RecoveryOptions = RecoveryOptions(),
) -> dict:
    """Recovery and contagion for one call, as a report-ready dict (``metrics["recovery"]``).

    Args:
        tracks: ``report.tracks`` (needs "trainee"; "caller" for voice escalations and contagion).
        turns: ``report.turns`` (Turn objects or dicts with speaker, start_s, end_s).
        baseline: the trainee's calm baseline (``metrics["calm"]["baseline"]``).
        events: ``report.events``; mood decisions there make the escalations (sessions).
        duration_s: call length (default: the last track point).

    Returns:
        ``{"escalation_source", "band": {...}, "escalations": [...], "recovery_s",
        "max_recovery_s", "unrecovered", "contagion": {...}}``; ``recovery_s`` is the mean over
        escalations the trainee answered and recovered from (0 for those where they never left
        the band), None when there were none.
    """
    turns = list(turns)
    trainee = Track.from_dict(tracks.get("trainee"))
    caller = Track.from_dict(tracks.get("caller")) if tracks.get("caller") else None
    caller_turns = _turns(turns, "caller")
    trainee_turns = _turns(turns, "trainee")
    end_s = duration_s if duration_s is not None else (float(trainee.t_s[-1]) + 1.0 if len(trainee.t_s) else 0.0)
    band = Band.from_baseline(baseline or {}, options)
    mood = mood_escalations(events, caller_turns, min_rise=options.min_mood_rise)
    if mood or any(e.get("type") == "decision" for e in events):
        escalations, source = mood, "mood"
    elif caller is not None:
        escalations, source = voice_escalations(caller, caller_turns, options), "voice"
    else:
        escalations, source = [], None
    caller_levels = turn_levels(caller, caller_turns) if caller is not None else []
    ref = next(((p, loud) for p, loud in caller_levels if not math.isnan(p)), (math.nan, math.nan))

    rows = []
    for i, esc in enumerate(escalations):
        until = min(end_s, esc.t_s + options.window_s, escalations[i + 1].t_s if i + 1 < len(escalations) else math.inf)
        rec = recovery_after(trainee, esc.t_s, until, band, options)
        row = {"t_s": round(esc.t_s, 3), "source": esc.source, **rec}
        if esc.mood_before is not None:
            row.update(mood_before=round(esc.mood_before, 2), mood_after=round(esc.mood_after, 2))
        # contagion: the caller's rise (this turn vs their first) and the trainee's change
        c_p = c_l = math.nan
        if esc.caller_turn is not None and esc.caller_turn < len(caller_levels):
            cp, cl = caller_levels[esc.caller_turn]
            c_p, c_l = cp - ref[0], cl - ref[1]
        before = _level_before(trainee, trainee_turns, esc.t_s, band)
        resp = _response(trainee, esc.t_s, until, options)
        t_p, t_l = resp[0] - before[0], resp[1] - before[1]
        # a mood rise is the caller's rise whatever the synthetic voice did (it moves ~1 st a band)
        rose_p = esc.source == "mood" or (not math.isnan(c_p) and c_p >= options.caller_pitch_rise_st)
        rose_l = esc.source == "mood" or (not math.isnan(c_l) and c_l >= options.caller_loudness_rise_db)
        row.update(
            caller_pitch_rise_st=_r(c_p), caller_loudness_rise_db=_r(c_l),
            trainee_pitch_change_st=_r(t_p), trainee_loudness_change_db=_r(t_l),
            followed_pitch=_follow(rose_p, t_p, options.follow_pitch_st),
            followed_loudness=_follow(rose_l, t_l, options.follow_loudness_db),
        )
        rows.append(row)

    answered = [r for r in rows if r["recovered"] is not None]
    recovered = [r["recovery_s"] for r in answered if r["recovered"]]
    # call contagion: caller turn level (vs first) against the answering trainee turn (vs baseline)
    pairs_p: tuple[list[float], list[float]] = ([], [])
    pairs_l: tuple[list[float], list[float]] = ([], [])
    for (a, b), (cp, cl) in zip(caller_turns, caller_levels):
        nxt = next(((ta, tb) for ta, tb in trainee_turns if ta >= a), None)
        if nxt is None:
            continue
        tp, tl = trainee.window(nxt[0] - 1e-6, nxt[1] + 1e-6).level()
        pairs_p[0].append(cp - ref[0])
        pairs_p[1].append(tp - band.pitch_st)
        pairs_l[0].append(cl - ref[1])
        pairs_l[1].append(tl - band.loudness_dbfs)

    def share(key: str) -> float | None:
        rose = [r for r in rows if r[key] is not None]  # None: the caller did not rise, or no answer
        return round(sum(r[key] for r in rose) / len(rose), 3) if rose else None

    return {
        "escalation_source": source,
        "band": {
            "pitch_max_hz": _r(semitones_to_hz(band.pitch_max_st)) if not math.isnan(band.pitch_max_st) else None,
            "loudness_max_dbfs": _r(band.loudness_max_dbfs),
            "pitch_tol_st": options.pitch_tol_st, "loudness_tol_db": options.loudness_tol_db,
        },
        "escalations": rows,
        "recovery_s": round(float(np.mean(recovered)), 2) if recovered else None,
        "max_recovery_s": round(float(max(recovered)), 2) if recovered else None,
        "left_band": sum(1 for r in answered if r["left_band"]),
        "unrecovered": sum(1 for r in answered if not r["recovered"]),
        "contagion": {
            "pitch_followed_share": share("followed_pitch"),
            "loudness_followed_share": share("followed_loudness"),
            "pitch_r": _corr(*pairs_p, options.min_pairs),
            "loudness_r": _corr(*pairs_l, options.min_pairs),
            "pairs": sum(1 for a, b in zip(*pairs_p) if not (math.isnan(a) or math.isnan(b))),
        },
    }


def report_recovery(report, options: RecoveryOptions = RecoveryOptions()) -> dict:
    """`analyze_recovery` on a `Report` (its tracks, turns, events and calm baseline)."""
    calm = (report.metrics or {}).get("calm") or {}
    return analyze_recovery(
        tracks=report.tracks or {}, turns=report.turns, baseline=calm.get("baseline"),
        events=report.events or [], duration_s=report.duration_s, options=options,
    )


def _level_before(trainee: Track, trainee_turns, onset_s: float, band: Band) -> tuple[float, float]:
    """The trainee's level in their last turn before `onset_s`; the baseline if none."""
    prev = [(a, b) for a, b in trainee_turns if b <= onset_s + 1e-6]
    if prev:
        p, loud = trainee.window(prev[-1][0] - 1e-6, prev[-1][1] + 1e-6).level()
        if not math.isnan(p):
            return p, loud
    return band.pitch_st, band.loudness_dbfs


def _response(trainee: Track, onset_s: float, until_s: float, options: RecoveryOptions) -> tuple[float, float]:
    v = trainee.window(onset_s, until_s).voiced()
    n = max(1, int(round(options.response_s / TRACK_STEP_S)))
    return Track(v.t_s[:n], v.pitch_st[:n], v.loudness_dbfs[:n]).level()


def _follow(caller_rose: bool, trainee_change: float, trainee_th: float) -> bool | None:
    """Did the trainee follow? None when the caller did not rise or the trainee did not answer."""
    if not caller_rose or math.isnan(trainee_change):
        return None
    return bool(trainee_change >= trainee_th)


def _r(x, nd: int = 2):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)
