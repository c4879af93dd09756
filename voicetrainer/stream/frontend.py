"""The audio front end of one channel: is this frame the near talker speaking?

    level + floor (EnergyVad) ─┐
    audio -> Silero P(speech) ─┼─> speech / soft edge -> SpeakerTracker
    near-talker level gate ────┤
    caller reference -> LeakGate (trainee channel only)

The same object runs live (microphone + the played caller) and offline (both channels of a
file). Rules, in order:

1. *Speech or noise*: a frame is voiced by the energy rule (`margin_db` above the noise floor
   and above `min_speech_dbfs`), or, with the Silero model, when P(speech) >= `speech_prob` and
   its level is `low_margin_db` above the floor: the model finds the speech that a fan at
   10 dB SNR or a quiet microphone hides from the level rule (noise alone never reaches the
   model's threshold), and the level places the edges to a frame. The model does not veto
   the energy rule: a loud steady tone is not speech to Silero, but the level rule has always
   counted it and the rest of the pipeline (and its tests) rely on that.
2. *Near talker*: the trainee's mouth is centimetres from the mic, a neighbour's is metres
   away: a voiced frame must be within `near_db` of the near talker's typical speech level (a
   high quantile of the channel's speech-like frames, which the near talker dominates). The
   gate applies only while the room has other voices (Silero hears speech, away from the near
   talker's own words, in at least `ROOM_TALK_ACTIVE` of recent frames; in a two-party call
   it is assumed at the start, as Silero needs a second to call babble speech and the room is
   soon measured while the caller speaks; a trainee-only recording starts from a quiet room,
   or a single speaker's soft last words were cut): in a quiet room it would only cut the
   trainee's own soft words.
3. *Not the caller*: louder than the caller's predicted leak by `leak_margin_db` to start;
   within `LEAK_HOLD_FRAMES` of the near talker's last speech frame (double talk: the trainee
   talking over the caller), by `LEAK_HOLD_MARGIN_DB` only, so their quieter syllables do not
   split a barge-in in two.

A frame that is not speech but above the floor by `low_margin_db` and not leak is *soft*: the
turn tracker uses soft frames next to speech to place onsets and offsets where the voice
starts and ends (the energy threshold alone cut ~50 ms off both ends: gaps +0.1 s, WPM +2-7%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voicetrainer.config import VadConfig
from voicetrainer.stream.crosstalk import LeakEstimate, LeakGate
from voicetrainer.stream.features import Histogram
from voicetrainer.stream.quality import ChannelQuality, QualityMeter
from voicetrainer.stream.vad import EnergyVad, SpeechModel, load_speech_model

NEAR_MIN_FRAMES = 50  # speech-like frames (1 s) before the near-talker level is trusted
NEAR_QUANTILE = 0.95  # the near talker's typical loud speech level
NEAR_REFRESH_FRAMES = 25  # recompute the quantile every this many speech-like frames (0.5 s)
ROOM_TALK_FRAMES = 75  # time constant (1.5 s) of the share of frames with voices far below the near talker
ROOM_TALK_ACTIVE = 0.2
ROOM_TALK_START = 0.5  # two-party calls: the room is assumed to talk until measured
ROOM_MEASURED_FRAMES = 20  # frames (0.4 s) away from the near talker before the room counts as measured
NEAR_HOLD_FRAMES = 50  # frames (1 s) after the near talker's speech that say nothing about the room (their soft last words)
LISTEN_MIN_FRAMES = 50  # frames (1 s) of caller speech before the room level heard meanwhile is trusted
LEAK_HOLD_FRAMES = 20  # frames (0.4 s, the turn tracker's end-of-speech silence) of the hold
LEAK_HOLD_MARGIN_DB = 4.0  # a frame this far above the caller's predicted leak continues speech
NEAR_SEED_FRAMES = 500  # a seeded near level holds as a minimum until this many (10 s) were heard
NEAR_SEED_QUANTILE = 0.98  # seed: this quantile of all the channel's frame levels


@dataclass(frozen=True, slots=True)
class FrameDecision:
    """What the front end says about one frame.

    Attributes:
        speech: the near talker speaks.
        soft: not speech, but above the noise floor and not the caller's leak (an edge candidate).
        prob: the speech model's P(speech), None without a model.
    """

    speech: bool
    soft: bool
    prob: float | None = None


class ChannelFrontEnd:
    """``push(samples, level_dbfs, ref_level_dbfs=None) -> FrameDecision`` once per frame.

    Args:
        cfg: thresholds (`VadConfig`).
        model: a speech model (`load_speech_model(cfg)` by default; None = energy only).
        near_gate: apply the near-talker gate (the trainee's microphone in a room; not the
            caller's line, whose far end we do not grade).
    """

    def __init__(self, cfg: VadConfig = VadConfig(), *, model: SpeechModel | None | str = "auto",
                 near_gate: bool = True):
        self.cfg = cfg
        self.energy = EnergyVad(cfg)
        self.model = load_speech_model(cfg) if model == "auto" else model
        self.leak: LeakGate | None = None
        self.near_gate = near_gate
        self._near = Histogram(-100.0, 10.0, 0.5)
        self._near_db = -math.inf
        self._near_since = 0
        self._near_seed = -math.inf
        self._all = Histogram(-100.0, 10.0, 0.5)  # every frame's level
        self._bg_db = -math.inf  # their median (dBFS): the room's typical level
        self._room_frames = 0  # frames that measured the room (away from the near talker)
        self._since_near = 0  # frames since the near talker's last voiced frame
        self._since_speech = LEAK_HOLD_FRAMES  # frames since the last frame this front end called speech
        self._room_talk = 0.0  # share of recent frames (away from the near talker) with a voice
        self._listen = Histogram(-100.0, 10.0, 0.5)  # this channel's levels while the caller speaks
        self._listen_db = -math.inf  # their median: the room around the trainee while they listen
        self.meter = QualityMeter()

    @property
    def floor_dbfs(self) -> float:
        return self.energy.floor_dbfs

    def leak_estimate(self) -> LeakEstimate | None:
        return self.leak.estimate() if self.leak is not None else None

    def quality(self) -> ChannelQuality:
        """Band, noise, clipping and caller leak of everything pushed so far."""
        est = self.leak_estimate()
        return self.meter.summary(crosstalk_db=est.coupling_db if est is not None and est.detected else None)

    def push(self, samples: np.ndarray, level_dbfs: float, ref_level_dbfs: float | None = None) -> FrameDecision:
        cfg = self.cfg
        floor = self.energy.update(level_dbfs)
        above = level_dbfs > floor + cfg.low_margin_db
        prob = self.model.push(samples, active=above) if self.model is not None else None
        leak_dbfs = -math.inf
        if ref_level_dbfs is not None:
            if self.leak is None:
                self.leak = LeakGate(cfg)
                if self.energy.seen <= 1:  # a two-party call from its start: assume a talking room
                    self._room_talk = ROOM_TALK_START
            leak_dbfs = self.leak.push(level_dbfs, ref_level_dbfs)
            if self.leak.ref_active:  # the trainee listens: what the mic hears is the room
                self._listen.add((level_dbfs,))
                if self._listen.n >= LISTEN_MIN_FRAMES and self._listen.n % NEAR_REFRESH_FRAMES == 0:
                    self._listen_db = self._listen.quantile(0.5)
        if not self.energy.warm:
            self.meter.push(samples, level_dbfs, floor, False)
            return FrameDecision(False, False, prob)
        held = self._since_speech < LEAK_HOLD_FRAMES
        not_leak = level_dbfs > leak_dbfs + (LEAK_HOLD_MARGIN_DB if held else cfg.leak_margin_db)
        voiced = level_dbfs > floor + cfg.margin_db and level_dbfs > cfg.min_speech_dbfs
        if prob is not None and prob >= cfg.speech_prob and above:
            voiced = True  # speech the level rule misses: low SNR, a quiet microphone
        self._all.add((level_dbfs,))
        if voiced and not_leak:
            self._learn_near(level_dbfs)
        near = level_dbfs >= self._near_db - cfg.near_db
        self._since_near = 0 if voiced and near else self._since_near + 1
        if self._since_near > NEAR_HOLD_FRAMES:  # away from the near talker's own (soft) words
            far_voice = prob is not None and prob >= cfg.speech_prob and not_leak  # the caller's leak is no room voice
            self._room_talk += (float(far_voice) - self._room_talk) / ROOM_TALK_FRAMES
            self._room_frames += 1
        # the room's level: heard while the caller speaks (two-party calls), else the channel's
        # median once enough frames away from the near talker measured it
        listened = self._listen.n >= LISTEN_MIN_FRAMES
        bg_db = self._listen_db if listened else self._bg_db
        if self._room_talk < ROOM_TALK_ACTIVE or not self.near_gate:
            near = True  # no other voices in the room: the trainee's quiet words are theirs
        elif (listened or self._room_frames >= ROOM_MEASURED_FRAMES) and bg_db > self._near_db - 1.5 * cfg.near_db:
            # loud babble (the room less than 1.5 x near_db under the near talker, measured, not
            # assumed): the gate sits halfway between them
            near = near and level_dbfs >= (self._near_db + bg_db) / 2
        speech = voiced and not_leak and near
        self._since_speech = 0 if speech else self._since_speech + 1
        self.meter.push(samples, level_dbfs, floor, voiced and not_leak)
        return FrameDecision(speech, not speech and above and not_leak, prob)

    def seed_near(self, levels_dbfs: np.ndarray) -> float:
        """Seed the near talker's level from the frame levels of the whole channel (offline: a
        cheap pre-scan of the file; live: the trainee's check or baseline reading).

        Without it, a room that babbles before the trainee first speaks sets the near level
        to the babble's and the babble becomes the trainee's first "turns". The seed (the
        `NEAR_SEED_QUANTILE` of all levels: the near talker's loud syllables whenever they
        talk for more than a few % of the channel) is a floor for the learnt level until
        `NEAR_SEED_FRAMES` speech-like frames were heard. Returns the seed in dBFS.
        """
        levels = np.asarray(levels_dbfs, dtype=np.float64)
        if len(levels) < NEAR_MIN_FRAMES:
            return -math.inf
        self._near_seed = float(np.quantile(levels, NEAR_SEED_QUANTILE))
        self._near_db = max(self._near_db, self._near_seed)
        self._bg_db = float(np.median(levels))
        return self._near_seed

    def _learn_near(self, level_dbfs: float) -> None:
        self._near.add((level_dbfs,))
        self._near_since += 1
        if self._near.n >= NEAR_MIN_FRAMES and self._near_since >= NEAR_REFRESH_FRAMES:
            self._near_since = 0
            learnt = self._near.quantile(NEAR_QUANTILE)
            self._bg_db = self._all.quantile(0.5)
            self._near_db = max(learnt, self._near_seed) if self._near.n < NEAR_SEED_FRAMES else learnt
