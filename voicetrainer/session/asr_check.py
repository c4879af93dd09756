"""What the grader adds to a report about the audio and the recognition it rests on.

- *No silent loss*: a packed recognition job that came back without words for a stretch of
  speech is retried stretch by stretch in the ASR stage (`voicetrainer.asr.stage`); a turn that
  still has speech and no text is marked ``asr_error`` here and warned, instead of showing an
  empty answer.
- *Quality that tells the truth*: each channel's front end measured its band from the
  spectrum, its speech-to-noise ratio, clipping and the caller's leak
  (`voicetrainer.stream.quality`); they go into ``metrics.audio_quality`` and the warnings.
"""

from __future__ import annotations

from voicetrainer.report.schema import Turn
from voicetrainer.stream.quality import CLIPPED_WARN, ChannelQuality, quality_warnings

MIN_SPEECH_S = 0.5  # a turn with this much speech is expected to carry at least one word
NO_TEXT_ERROR = "no words recognised in {dur:.1f} s of speech"


def mark_empty_turns(turns: list[Turn], transcribed: set[str], *, min_s: float = MIN_SPEECH_S) -> int:
    """Set `asr_error` on turns of a `transcribed` speaker with at least `min_s` of speech and no
    text; returns how many were marked."""
    n = 0
    for t in turns:
        if t.speaker in transcribed and t.text_source != "known" and not t.text.strip() \
                and t.end_s - t.start_s >= min_s and not t.asr_error:
            t.asr_error = NO_TEXT_ERROR.format(dur=t.end_s - t.start_s)
            n += 1
    return n


def audio_checks(quality: dict[str, ChannelQuality], turns: list[Turn], transcribed: set[str], *,
                 header_telephone: bool, clipped_fraction: float = 0.0) -> tuple[dict, list[str]]:
    """(``metrics.audio_quality``, warnings) of a graded call; marks empty turns `asr_error`.

    `header_telephone`: the file itself is 8 kHz or u-law (warned even when the spectrum check
    had too little speech to judge); `clipped_fraction`: clipped samples the decoder counted
    over all channels (warned when no channel's own count already says so)."""
    warnings = []
    if header_telephone and not any(q.telephone_band for q in quality.values()):
        warnings.append("telephone-band audio (8 kHz or u-law): pitch and vocal-effort figures are less precise")
    if clipped_fraction > CLIPPED_WARN and not any(q.clipped_fraction > CLIPPED_WARN for q in quality.values()):
        warnings.append(f"audio quality: {clipped_fraction:.1%} of samples are clipped; loudness figures are unreliable")
    for name, q in quality.items():
        warnings += quality_warnings(name, q)
    empty = mark_empty_turns(turns, transcribed)
    if empty:
        warnings.append(f"speech recognition returned no text for {empty} turn(s) with speech, even on its own; "
                        "they are marked asr_error")
    return {name: q.to_dict() for name, q in quality.items()}, warnings
