"""The one RIFF reader: the data offset, declared size and format of real and odd WAV files."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from voicetrainer.audio.riff import read_wav_layout


def _wav(**kw) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((160, 2), np.float32), 16_000, format="WAV", subtype="PCM_16", **kw)
    return buf.getvalue()


def test_a_plain_pcm_wav():
    raw = _wav()
    w = read_wav_layout(io.BytesIO(raw))
    assert (w.channels, w.sample_rate, w.bits, w.data_bytes) == (2, 16_000, 16, 160 * 2 * 2)
    assert w.data_offset == len(raw) - w.data_bytes


def test_chunks_before_the_format_are_skipped_and_odd_sizes_padded():
    raw = _wav()
    junk = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd length: one pad byte
    odd = raw[:12] + junk + raw[12:]
    w = read_wav_layout(io.BytesIO(odd))
    assert (w.channels, w.data_bytes, w.data_offset) == (2, 640, len(odd) - 640)


def test_not_a_wav_or_no_data_chunk():
    assert read_wav_layout(io.BytesIO(b"OggS" + b"\x00" * 40)) is None
    assert read_wav_layout(io.BytesIO(_wav()[:30])) is None
