"""Settings as frozen dataclasses, and the optional config file that overrides them.

The config file is TOML, looked up in this order: ``--config FILE``, ``$VOICETRAINER_CONFIG``,
``<user config dir>/voicetrainer/config.toml``. Its tables mirror the dataclasses::

    [asr]
    model = "/models/faster-whisper-small.en"
    beam_size = 1

    [vad]
    margin_db = 9.0
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from voicetrainer.errors import ConfigError

SAMPLE_RATE = 16_000  # Hz; every analysis stage runs at this rate
FRAME_MS = 20  # one Frame = 20 ms hop
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320 samples
TRACK_BUCKET_S = 0.25  # report pitch/loudness tracks: one point per 250 ms


@dataclass(frozen=True)
class VadConfig:
    """Energy voice-activity detection with an adaptive noise floor.

    Attributes:
        margin_db: a frame is speech when its loudness is this many dB above the noise floor.
        min_speech_dbfs: and louder than this absolute level (dBFS), whatever the floor.
        floor_window_s: the noise floor is the quietest frame of this many seconds (minimum
            statistics): long enough that speech dips to it, short enough to follow a new noise.
        floor_init_dbfs: the noise floor assumed before any audio is seen.
        floor_min_dbfs: the floor never goes below this (digital silence would otherwise make
            every breath speech).
        backend: "silero" (speech/noise model from the audio, energy for the edges) or
            "energy" (level only; also the fallback when the model cannot load).
        speech_prob: Silero probability above which a frame is voiced.
        low_margin_db: with the model, a voiced frame is this far above the floor; frames this
            far above it next to speech are soft edges (onset/offset placement).
        near_db: a voiced frame within this many dB of the near talker's typical loud speech
            level is the near talker; quieter voices (a neighbour, babble) are not.
        leak_margin_db: a trainee frame must be this much louder than the caller's predicted
            leak (`voicetrainer.stream.crosstalk`).
    """

    margin_db: float = 10.0
    min_speech_dbfs: float = -48.0
    floor_window_s: float = 2.0
    floor_init_dbfs: float = -60.0
    floor_min_dbfs: float = -70.0
    backend: str = "silero"
    speech_prob: float = 0.5
    low_margin_db: float = 6.0
    near_db: float = 10.0
    leak_margin_db: float = 10.0


@dataclass(frozen=True)
class TurnConfig:
    """Hysteresis of the per-speaker state machine, and two-party turn rules.

    Attributes:
        min_speech_ms: speech must last this long before a speech start is confirmed.
        min_silence_ms: silence must last this long before a speech end is confirmed.
        backchannel_max_s: an overlapping utterance shorter than this ...
        backchannel_max_words: ... with at most this many words is a backchannel, not an
            interruption.
        merge_pause_s: same-speaker segments closer than this, with nobody else speaking in
            between, form one turn.
        edge_s: soft frames (above the noise floor, below the speech threshold) move a
            segment's onset back and its offset forward by at most this long.
    """

    min_speech_ms: int = 80
    min_silence_ms: int = 400
    backchannel_max_s: float = 1.0
    backchannel_max_words: int = 3
    merge_pause_s: float = 2.0
    edge_s: float = 0.05  # measured: onset and offset errors centred on zero (scripts/eval_room.py calls)


@dataclass(frozen=True)
class PitchConfig:
    """YIN pitch estimation.

    Attributes:
        fmin_hz, fmax_hz: search range in Hertz.
        window_ms: analysis window length.
        threshold: YIN absolute threshold on the cumulative mean normalised difference.
        batch_frames: frames analysed together (vectorised); adds batch_frames * 20 ms delay to
            pitch only, never to voice activity.
    """

    fmin_hz: float = 65.0
    fmax_hz: float = 500.0
    window_ms: float = 40.0
    threshold: float = 0.2
    batch_frames: int = 10


@dataclass(frozen=True)
class AsrConfig:
    """Speech recognition (faster-whisper).

    Attributes:
        model: a faster-whisper (CTranslate2) model folder; None = the bundled tiny.en.
        compute_type: CTranslate2 compute type.
        beam_size: 1 = greedy (fastest; measured in scripts/bench.py).
        cpu_threads: threads per model instance.
        no_speech_threshold: segments whose no_speech_prob is above this are dropped.
        logprob_threshold: ... and whose avg_logprob is below this.
        language: the models shipped are English-only.
        noisy_beam_size: beam width for a job whose frame levels spread less than
            `noisy_below_db` (speech in noise: about its SNR; `asr.whisper.beam_size_for`).
        temperature_fallback: re-decode a window at temperatures 0.2 ... 1.0 when its text is
            repetitive or improbable (Whisper's default). Off: greedy only, deterministic, and a
            window never costs 6 decodes (a packed window of repeated phrases did; see
            scripts/bench.py).
    """

    model: str | None = None
    compute_type: str = "int8"
    beam_size: int = 1
    cpu_threads: int = 2
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    language: str = "en"
    temperature_fallback: bool = False
    noisy_beam_size: int = 5
    noisy_below_db: float = 20.0


@dataclass(frozen=True)
class GradeConfig:
    """Batch grading (`voicetrainer grade`).

    Attributes:
        scheduler: a Dask scheduler address (tcp://HOST:PORT): batches are graded on that
            cluster; None = on this machine.
        jobs: local grading processes; None = what fits the cores (see session/batch.py).
        send_audio: on a cluster, send each file's bytes to the workers (True), let them read
            the paths (False), or None = send only when a worker cannot see the files.
    """

    scheduler: str | None = None
    jobs: int | None = None
    send_audio: bool | None = None


@dataclass(frozen=True)
class Settings:
    vad: VadConfig = field(default_factory=VadConfig)
    turns: TurnConfig = field(default_factory=TurnConfig)
    pitch: PitchConfig = field(default_factory=PitchConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    grade: GradeConfig = field(default_factory=GradeConfig)
    data_dir: str | None = None  # history DB, baselines, TTS cache; None = platformdirs default
    voices_dir: str | None = None  # Piper voices (NAME.onnx + NAME.onnx.json) found by name

    def replace(self, **sections) -> "Settings":
        return dataclasses.replace(self, **sections)


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("voicetrainer")) / "config.toml"


def user_data_dir(settings: Settings | None = None) -> Path:
    if settings and settings.data_dir:
        return Path(settings.data_dir)
    env = os.environ.get("VOICETRAINER_DATA")
    if env:
        return Path(env)
    from platformdirs import user_data_dir as _udd

    return Path(_udd("voicetrainer"))


def _apply(section_cls, current, table: dict, path: Path, section: str):
    names = {f.name: f for f in dataclasses.fields(section_cls)}
    for key in table:
        if key not in names:
            raise ConfigError(
                f"unknown setting {key!r}; known: {', '.join(sorted(names))}", path=path, field=section
            )
    try:
        return dataclasses.replace(current, **table)
    except TypeError as e:  # pragma: no cover - replace only fails on unknown names
        raise ConfigError(str(e), path=path, field=section) from e


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from the config file (if any), defaults elsewhere."""
    if path is None:
        env = os.environ.get("VOICETRAINER_CONFIG")
        path = Path(env) if env else user_config_path()
        if not path.exists():
            return Settings()
    path = Path(path)
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError("config file not found", path=path) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML ({e})", path=path) from e
    settings = Settings()
    sections = {"vad": VadConfig, "turns": TurnConfig, "pitch": PitchConfig, "asr": AsrConfig, "grade": GradeConfig}
    updates = {}
    for key, value in doc.items():
        if key in sections:
            if not isinstance(value, dict):
                raise ConfigError("must be a table", path=path, field=key)
            updates[key] = _apply(sections[key], getattr(settings, key), value, path, key)
        elif key in ("data_dir", "voices_dir"):
            updates[key] = str(value)
        else:
            raise ConfigError(
                f"unknown section {key!r}; known: {', '.join([*sections, 'data_dir', 'voices_dir'])}", path=path
            )
    return settings.replace(**updates)
