"""Anger you can hear: how the caller's mood shapes a rendered line, for every speech engine.

Public API::

    p = prosody_for_band(3)                          # furious: faster, higher, louder, effortful
    y = shape_line(y, sr=22050, prosody=p, pitch_shift_st=2.0, text="Let me finish!")
    y = phone_line(y, sr=22050, seed=7)              # telephone band (300-3400 Hz) + line noise

What anger does to a voice, and how each part is made here (acted-emotion studies agree on the
direction: higher and more variable pitch, louder, flatter spectrum = more vocal effort, faster,
shorter pauses):

- rate: the engine's own control (espeak-ng speed, Piper ``length_scale``);
- pitch level: espeak-ng's pitch, or librosa's phase-vocoder ``pitch_shift`` for engines without
  one (Piper); pitch *range*: espeak-ng's range control (``emphasise`` can raise the louder
  stretches of a Piper line further, but the shipped bands leave it off: see PROSODY_BY_BAND);
- pauses between phrases shortened and phrase ends clipped (the fall-off of a sentence cut short);
- vocal effort: a pre-emphasis blend (flatter spectral tilt) and soft saturation (``tanh``);
- loudness: a gain by band, then a peak limit;
- an exasperated exhale (a sigh) before some furious lines, chosen by the text so that a line
  always sounds the same (``Prosody.sigh``).

Every function is pure: ``f(y, *, sr, ...) -> y`` on float32 mono samples in -1..1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# bumped whenever shape_line renders differently (part of the render-cache key)
PROSODY_VERSION = 2

PEAK_LIMIT = 0.97  # final peak after shaping (headroom for the resampler)
SPLIT_TOP_DB = 32.0  # stretches quieter than peak - this are pauses (librosa.effects.split)
MIN_PAUSE_S = 0.06  # a shortened pause never becomes shorter than this
PHRASE_PAUSE_S = 0.15  # a silence at least this long ends a phrase (its end may be clipped)
CLIP_FLOOR_DB = 30.0  # a clipped phrase ends where its level falls this far below the phrase peak
CLIP_SEARCH_S = 0.30  # ... searched within this much of the phrase end
FADE_S = 0.012  # fades at cuts and joins (no clicks)
FRAME = 512  # analysis frame (samples) for splitting and levels
HOP = 128
SHIFT_NFFT = 512  # phase-vocoder window (23 ms at 22050 Hz): short enough to keep consonants crisp
EFFORT_BRIGHTNESS = 1.0  # weight of the pre-emphasised copy at effort 1
EFFORT_DRIVE = 1.0  # tanh drive added at effort 1 (2 = peaks squashed by about 2.4 dB)


@dataclass(frozen=True)
class Prosody:
    """How one mood band shapes a line.

    Attributes:
        name: the band's name (calm, upset, angry, furious).
        rate_factor: speaking-rate multiplier on the persona's own rate.
        pitch_st: mean pitch raise in semitones over the persona's own pitch.
        range_factor: pitch-range multiplier (espeak-ng's range control; 1 = the voice's own).
        emphasis_st: extra semitones on the louder stretches of a line, for engines without a
            range control (widens the pitch range the way stressed words do).
        gain_db: loudness in dB relative to the persona's volume (0 = as loud as it gets).
        effort: 0-1 vocal effort: spectral tilt flattening and saturation drive.
        pause_factor: pauses between phrases are scaled by this (1 = as rendered).
        clip_ends: cut the fall-off at the end of each phrase.
        sigh: an exasperated exhale before some lines (one in ``SIGH_EVERY``).
        noise_scale: Piper's generator noise (more = livelier voice quality; > 0 = a different
            render every time).
        noise_w_scale: Piper's phoneme-duration noise (more = less even rhythm; > 0 = as above).
    """

    name: str
    rate_factor: float = 1.0
    pitch_st: float = 0.0
    range_factor: float = 1.0
    emphasis_st: float = 0.0
    gain_db: float = 0.0
    effort: float = 0.0
    pause_factor: float = 1.0
    clip_ends: bool = False
    sigh: bool = False
    noise_scale: float = 0.0
    noise_w_scale: float = 0.0


# One per mood band (persona.tts.MOOD_BAND_NAMES). Calm is the persona's own voice, 10 dB down;
# furious is +3 semitones, a wider range (espeak-ng's control), full loudness, full effort, 5 %
# faster and pauses cut to 60 %. Measured with scripts/caller_voice.py on the shipped personas
# (calm score of furious vs calm lines, Whisper tiny.en WER of the furious lines):
# - the faster rate buys no calm points (rates within +-20 % are not compared) and a slower one
#   did not help Whisper, so it rises little;
# - Piper renders with no sampling noise (noise_scale = noise_w_scale = 0): the same line is the
#   same audio every time (onnxruntime's random generator cannot be seeded per line), so the
#   cache, the calm score and the WER are reproducible; the default noise (0.667 / 0.8) did not
#   make the voice easier to understand (WER spread 0-11 % per persona between renders);
# - emphasis_st (stressed stretches raised further, two phase-vocoder shifts cross-faded) is 0:
#   it raised the pitch median rather than the spread, and cost Whisper words (escalation and
#   opening lines of all 8 personas, 477 words: WER 3.6 % with it, 1.9 % without); the calm
#   band's extra 2 dB down buys back the calm points it gave.
PROSODY_BY_BAND = (
    Prosody("calm", gain_db=-10.0),
    Prosody("upset", rate_factor=1.02, pitch_st=1.0, range_factor=1.2, gain_db=-5.5, effort=0.35,
            pause_factor=0.85),
    Prosody("angry", rate_factor=1.04, pitch_st=2.0, range_factor=1.45, gain_db=-3.0, effort=0.7,
            pause_factor=0.7, clip_ends=True),
    Prosody("furious", rate_factor=1.05, pitch_st=3.0, range_factor=1.7, gain_db=0.0, effort=1.0,
            pause_factor=0.6, clip_ends=True, sigh=True),
)  # fmt: skip
SIGH_EVERY = 3  # a sighing band sighs before one line in three (chosen by the text)


def prosody_for_band(band: int) -> Prosody:
    if not 0 <= band < len(PROSODY_BY_BAND):
        raise ValueError(f"mood band must be 0-{len(PROSODY_BY_BAND) - 1}, got {band}")
    return PROSODY_BY_BAND[band]


def _check(y: np.ndarray, sr: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono samples [shape=(n,)], got shape {y.shape}")
    if sr <= 0:
        raise ValueError(f"sr must be > 0 Hz, got {sr}")
    return y


def _fade(n: int) -> np.ndarray:
    return np.sin(np.linspace(0.0, np.pi / 2, max(1, n), dtype=np.float32)) ** 2


def _intervals(y: np.ndarray) -> np.ndarray:
    """Non-silent stretches [shape=(k, 2)] in samples (librosa.effects.split)."""
    import librosa

    if not len(y) or float(np.max(np.abs(y))) == 0.0:
        return np.zeros((0, 2), dtype=int)
    return librosa.effects.split(y, top_db=SPLIT_TOP_DB, frame_length=FRAME, hop_length=HOP)


def _pauses(iv: np.ndarray, sr: int) -> list[tuple[int, int]]:
    """Silences of at least PHRASE_PAUSE_S between stretches: [(start, end)] in samples. Shorter
    gaps (stop closures, gaps inside words) are not pauses and are never touched."""
    return [(int(b), int(a2)) for (_, b), (a2, _) in zip(iv[:-1], iv[1:]) if a2 - b >= PHRASE_PAUSE_S * sr]


def shorten_pauses(y: np.ndarray, *, sr: int, factor: float) -> np.ndarray:
    """Pauses between phrases (silences >= PHRASE_PAUSE_S) scaled by ``factor``, never below
    MIN_PAUSE_S; the speech itself is kept sample for sample."""
    y = _check(y, sr)
    iv = _intervals(y)
    if factor >= 1.0 or len(iv) < 2:
        return y
    parts, pos = [], 0
    for a, b in _pauses(iv, sr):
        keep = max(int(MIN_PAUSE_S * sr), int((b - a) * factor))
        parts += [y[pos:a], np.zeros(keep, dtype=np.float32)]
        pos = b
    parts.append(y[pos:])
    return np.concatenate(parts).astype(np.float32)


def clip_phrase_ends(y: np.ndarray, *, sr: int) -> np.ndarray:
    """Cut the fall-off of each phrase (speech followed by >= PHRASE_PAUSE_S of silence, or the
    end): the phrase stops where its level first stays CLIP_FLOOR_DB below its peak within the
    last CLIP_SEARCH_S, with a short fade; the cut is replaced by silence (timing kept)."""
    import librosa

    y = _check(y, sr).copy()
    iv = _intervals(y)
    fade = int(FADE_S * sr)
    for i, (a, b) in enumerate(iv):
        gap = (iv[i + 1][0] - b) if i + 1 < len(iv) else PHRASE_PAUSE_S * sr
        if gap < PHRASE_PAUSE_S * sr or b - a < 4 * FRAME:
            continue
        db = librosa.amplitude_to_db(librosa.feature.rms(y=y[a:b], frame_length=FRAME, hop_length=HOP)[0], ref=np.max)
        tail0 = max(0, len(db) - int(CLIP_SEARCH_S * sr / HOP))
        low = np.nonzero(db[tail0:] < -CLIP_FLOOR_DB)[0]
        if not len(low):
            continue
        cut = a + (tail0 + int(low[0])) * HOP + FRAME // 2
        if cut >= b:
            continue
        f = min(fade, cut - a)
        y[cut - f:cut] *= _fade(f)[::-1]
        y[cut:b] = 0.0
    return y


def pitch_shift(y: np.ndarray, *, sr: int, n_steps: float) -> np.ndarray:
    """librosa's phase-vocoder pitch shift by ``n_steps`` semitones (length kept)."""
    import librosa

    y = _check(y, sr)
    if abs(n_steps) < 1e-3 or not len(y):
        return y
    return librosa.effects.pitch_shift(y, sr=sr, n_steps=float(n_steps), n_fft=SHIFT_NFFT,
                                       hop_length=SHIFT_NFFT // 4).astype(np.float32)  # fmt: skip


def emphasise(y: np.ndarray, *, sr: int, base_st: float, emphasis_st: float) -> np.ndarray:
    """Shift the whole line by ``base_st`` semitones, and its louder stretches (energy at or above
    the line's median stretch) by ``base_st + emphasis_st``: a wider pitch range, peaks on
    stressed words. The two shifted versions are cross-faded (FADE_S) at the stretch edges."""
    y = _check(y, sr)
    base = pitch_shift(y, sr=sr, n_steps=base_st)
    iv = _intervals(y)
    if emphasis_st <= 0 or len(iv) < 2:
        return base
    high = pitch_shift(y, sr=sr, n_steps=base_st + emphasis_st)
    weight = np.zeros(len(y), dtype=np.float32)
    energy = np.array([float(np.mean(y[a:b] ** 2)) for a, b in iv])
    chosen = set(np.nonzero(energy >= np.median(energy))[0].tolist())
    fade = int(FADE_S * sr)
    for k in chosen:
        a, b = iv[k]
        weight[a:b] = 1.0
        f = min(fade, (b - a) // 2)
        if f:
            weight[a:a + f] = _fade(f)
            weight[b - f:b] = _fade(f)[::-1]
    return (base * (1.0 - weight) + high * weight).astype(np.float32)


def add_effort(y: np.ndarray, *, sr: int, effort: float) -> np.ndarray:
    """Vocal effort 0-1: blend in a pre-emphasised copy (more energy above 1 kHz, a flatter
    spectral tilt, as in raised voices) and drive a soft saturation (tanh)."""
    import librosa

    y = _check(y, sr)
    if effort <= 0 or not len(y):
        return y
    peak = float(np.max(np.abs(y))) or 1.0
    x = y / peak
    bright = librosa.effects.preemphasis(x, coef=0.95)
    x = x + EFFORT_BRIGHTNESS * effort * bright
    drive = 1.0 + EFFORT_DRIVE * effort
    x = np.tanh(drive * x / max(1e-6, float(np.max(np.abs(x))))) / np.tanh(drive)
    return (x * peak).astype(np.float32)


def exhale(*, sr: int, seed: int, duration_s: float = 0.55, level: float = 0.12) -> np.ndarray:
    """An audible, exasperated out-breath [shape=(n,)]: band-passed noise (500-2500 Hz) with a
    quick rise and slow decay, followed by a short gap."""
    from scipy.signal import butter, sosfilt

    n = int(duration_s * sr)
    noise = np.random.default_rng(seed).standard_normal(n)
    sos = butter(2, [500.0, min(2500.0, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    breath = sosfilt(sos, noise)
    t = np.linspace(0.0, 1.0, n)
    env = np.minimum(1.0, t / 0.15) * np.exp(-3.0 * np.maximum(0.0, t - 0.15))
    breath = breath * env
    breath *= level / max(1e-9, float(np.max(np.abs(breath))))
    return np.concatenate([breath, np.zeros(int(0.12 * sr))]).astype(np.float32)


def text_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


def shape_line(
    y: np.ndarray, *, sr: int, prosody: Prosody, pitch_shift_st: float = 0.0, emphasis: bool = False,
    volume: float = 1.0, text: str = "",
) -> np.ndarray:
    """A rendered line shaped by ``prosody``.

    Args:
        y: the engine's samples [shape=(n,)].
        sr: their rate in Hertz.
        prosody: the mood band's prosody.
        pitch_shift_st: semitones to shift by here (the engine had no pitch control), 0 = none.
        emphasis: also raise stressed stretches by ``prosody.emphasis_st`` (the engine had no
            pitch-range control).
        volume: the persona's volume 0-1 (linear), before the band's gain.
        text: the line (chooses which lines sigh, deterministically).
    """
    y = _check(y, sr)
    if pitch_shift_st or (emphasis and prosody.emphasis_st):
        y = emphasise(y, sr=sr, base_st=pitch_shift_st, emphasis_st=prosody.emphasis_st if emphasis else 0.0)
    y = shorten_pauses(y, sr=sr, factor=prosody.pause_factor)
    if prosody.clip_ends:
        y = clip_phrase_ends(y, sr=sr)
    y = add_effort(y, sr=sr, effort=prosody.effort)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y = y * (PEAK_LIMIT / peak)  # every engine's line at the same peak before the gain
    y = y * float(volume) * 10 ** (prosody.gain_db / 20)
    if prosody.sigh and text and text_seed(text) % SIGH_EVERY == 0:
        y = np.concatenate([exhale(sr=sr, seed=text_seed(text)) * float(volume), y])
    return np.clip(y, -PEAK_LIMIT, PEAK_LIMIT).astype(np.float32)


# --------------------------------------------------------------------------------------------
# telephone line

PHONE_LOW_HZ = 300.0
PHONE_HIGH_HZ = 3400.0
PHONE_RATE_HZ = 8000  # narrowband telephony
PHONE_NOISE_DBFS = -48.0  # line hiss level (RMS)
PHONE_HUM_HZ = 50.0  # mains hum on the line (low level; the band filter has already run)


def phone_line(y: np.ndarray, *, sr: int, seed: int = 0) -> np.ndarray:
    """``y`` as heard over a telephone line: band-limited to 300-3400 Hz (4th-order Butterworth,
    scipy.signal), through 8 kHz mu-law (soxr resampling, librosa mu-law companding), with light
    hiss and hum; returned at ``sr``, same length."""
    import librosa
    import soxr
    from scipy.signal import butter, sosfiltfilt

    y = _check(y, sr)
    if not len(y):
        return y
    sos = butter(4, [PHONE_LOW_HZ, min(PHONE_HIGH_HZ, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    band = sosfiltfilt(sos, y).astype(np.float32)
    narrow = soxr.resample(band, sr, PHONE_RATE_HZ, quality="HQ")
    narrow = librosa.mu_expand(librosa.mu_compress(np.clip(narrow, -1, 1), mu=255, quantize=True), mu=255,
                               quantize=True)  # fmt: skip
    rng = np.random.default_rng(seed)
    t = np.arange(len(narrow)) / PHONE_RATE_HZ
    hiss = rng.standard_normal(len(narrow)) * 10 ** (PHONE_NOISE_DBFS / 20)
    hum = 0.5 * 10 ** (PHONE_NOISE_DBFS / 20) * np.sin(2 * np.pi * PHONE_HUM_HZ * t)
    out = soxr.resample((narrow + hiss + hum).astype(np.float32), PHONE_RATE_HZ, sr, quality="HQ")
    out = np.resize(out, len(y)) if len(out) != len(y) else out
    return np.clip(out, -1.0, 1.0).astype(np.float32)
