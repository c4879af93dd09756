"""Speech recognition: the faster-whisper adapter (`whisper`), the one ASR stage live practice
and offline grading share (`stage`), and the live turn policy on top of it (`turn`)."""

from voicetrainer.asr.stage import (  # noqa: F401
    CAPTION,
    FINAL,
    AsrJob,
    AsrSpanResult,
    AsrStage,
    IncrementalPolicy,
    PackedPolicy,
)
from voicetrainer.asr.whisper import (  # noqa: F401
    FULL_WINDOW_S,
    HALLUCINATIONS,
    LIVE_WINDOW_S,
    MAX_TOKENS_BASE,
    MAX_TOKENS_PER_S,
    MODEL_FILES,
    Transcriber,
    Transcript,
    WhisperTranscriber,
    _looping,
    _reject,
    caption_recogniser,
    live_recogniser,
    load_model,
    resolve_model_path,
)
