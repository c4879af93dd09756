"""What a channel's audio is like, measured on the audio itself: band, noise, clipping, leak.

The file header tells only the container: a telephone call saved as a 16 kHz WAV looks
wideband. `QualityMeter` looks at the long-term spectrum of the channel's speech frames
instead (a telephone channel has nothing above ~3.6 kHz, whatever the sample rate), measures
the speech-to-noise ratio against the noise floor, counts clipped samples, and takes the
caller-leak coupling from the crosstalk gate. `quality_warnings` turns a summary into the
report's plain-language warnings; every threshold is defined here, once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from voicetrainer.config import FRAME_SAMPLES, SAMPLE_RATE

SPECTRUM_EVERY = 16  # one speech frame in this many (0.3 s) feeds the long-term spectrum
MIN_SPECTRUM_FRAMES = 10  # spectra (3 s of speech) before the band is judged
VOICE_BAND_HZ = (300.0, 3400.0)
HIGH_BAND_HZ = (4200.0, 7600.0)  # above any telephone channel, inside a 16 kHz one
TELEPHONE_HIGH_DB = -60.0  # high band this far below the voice band: upsampled 8 kHz audio
# (measured: upsampled telephone speech -100 to -110 dB; wideband speech -7 to -18 dB; jfk.wav, a
# 1961 broadcast that rolls off from 3.8 kHz but is not telephone audio, -39 to -55 dB)
CLIP_LEVEL = 0.999  # |sample| at or above this is clipped (int16 full scale is 0.99997)
CLIP_CHECK_DBFS = -30.0  # frames quieter than this cannot hold a clipped sample (crest factor)
CLIPPED_WARN = 0.001  # warn above 0.1% of samples clipped
LOW_SNR_DB = 15.0  # warn when speech is less than this far above the noise
CROSSTALK_WARN_DB = -35.0  # warn when the caller leaks in louder than this

_FREQS = np.fft.rfftfreq(FRAME_SAMPLES, 1 / SAMPLE_RATE)
_VOICE = (_FREQS >= VOICE_BAND_HZ[0]) & (_FREQS <= VOICE_BAND_HZ[1])
_HIGH = (_FREQS >= HIGH_BAND_HZ[0]) & (_FREQS <= HIGH_BAND_HZ[1])
_WINDOW = np.hanning(FRAME_SAMPLES).astype(np.float32)


@dataclass(frozen=True)
class ChannelQuality:
    """One channel's audio quality.

    Attributes:
        high_band_db: speech energy in 4.2-7.6 kHz relative to 300-3400 Hz (per Hz), in dB;
            None with too little speech.
        telephone_band: the spectrum ends at the telephone band (the audio was 8 kHz once).
        snr_db: mean speech level minus the median noise floor, in dB.
        noise_dbfs: median noise floor, dBFS.
        clipped_fraction: share of samples at full scale.
        crosstalk_db: the caller's leak into this channel (level difference), when detected.
    """

    high_band_db: float | None
    telephone_band: bool
    snr_db: float | None
    noise_dbfs: float | None
    clipped_fraction: float
    crosstalk_db: float | None = None

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class QualityMeter:
    """Streaming; ``push`` once per frame with the front end's view of it. Constant memory."""

    def __init__(self):
        self._spec = np.zeros(len(_FREQS), dtype=np.float64)
        self._spec_frames = 0
        self._speech_frames = 0
        self._speech_power = 0.0
        self._floors = np.zeros(121, dtype=np.int64)  # noise floor histogram, 1 dB bins, -120..0
        self._clipped = 0
        self._samples = 0

    def push(self, samples: np.ndarray, level_dbfs: float, floor_dbfs: float, speech: bool) -> None:
        self._samples += len(samples)
        # a frame with a full-scale sample has its RMS within ~30 dB of full scale (crest factor)
        if level_dbfs > CLIP_CHECK_DBFS and float(np.max(np.abs(samples))) >= CLIP_LEVEL:
            self._clipped += int(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL))
        self._floors[min(max(int(round(-floor_dbfs)), 0), 120)] += 1
        if not speech:
            return
        self._speech_frames += 1
        self._speech_power += 10 ** (level_dbfs / 10)
        if self._speech_frames % SPECTRUM_EVERY == 0 and len(samples) == FRAME_SAMPLES:
            self._spec += np.abs(np.fft.rfft(samples * _WINDOW)) ** 2
            self._spec_frames += 1

    def summary(self, *, crosstalk_db: float | None = None) -> ChannelQuality:
        high = None
        if self._spec_frames >= MIN_SPECTRUM_FRAMES:
            voice = self._spec[_VOICE].mean()
            high = 10 * math.log10(self._spec[_HIGH].mean() / voice + 1e-15) if voice > 0 else None
        noise = None
        if self._floors.sum():
            cum = np.cumsum(self._floors)
            noise = -float(np.searchsorted(cum, cum[-1] / 2))
        snr = None
        if self._speech_frames and noise is not None:
            snr = 10 * math.log10(self._speech_power / self._speech_frames) - noise
        return ChannelQuality(
            high_band_db=None if high is None else round(high, 1),
            telephone_band=high is not None and high < TELEPHONE_HIGH_DB,
            snr_db=None if snr is None else round(snr, 1), noise_dbfs=noise,
            clipped_fraction=self._clipped / max(1, self._samples), crosstalk_db=crosstalk_db,
        )


def quality_warnings(channel: str, q: ChannelQuality) -> list[str]:
    """Plain-language warnings for one channel's quality summary."""
    out = []
    if q.telephone_band:
        out.append(f"audio quality, {channel} channel: telephone-band audio (nothing above ~3.6 kHz, {q.high_band_db:.0f} dB): "
                   "pitch and vocal-effort figures are less precise")
    if q.snr_db is not None and q.snr_db < LOW_SNR_DB:
        out.append(f"audio quality, {channel} channel: noisy (speech {q.snr_db:.0f} dB above the noise): "
                   "words and pauses may be missed")
    if q.clipped_fraction > CLIPPED_WARN:
        out.append(f"audio quality, {channel} channel: {q.clipped_fraction:.1%} of samples are clipped (input too loud): "
                   "loudness figures are unreliable")
    if q.crosstalk_db is not None and q.crosstalk_db > CROSSTALK_WARN_DB:
        out.append(f"audio quality, {channel} channel: the caller leaks into the microphone at {q.crosstalk_db:.0f} dB "
                   "(headset echo); the leak is not counted as the trainee speaking")
    return out
