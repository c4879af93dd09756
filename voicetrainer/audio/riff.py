"""The one RIFF/WAVE chunk reader: where a WAV's samples start, how many bytes its header
declares, and its PCM format. Used to spot truncated input (`sources`) and to repair a session
recording cut short by a crash (`recorder`)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class WavLayout:
    """
    Attributes:
        data_offset: byte offset of the first sample.
        data_bytes: the data chunk's declared length in bytes (0 or 0xFFFFFFFF: "unknown",
            as streaming writers leave it).
        channels, sample_rate, bits: from the ``fmt `` chunk, or None when it does not come
            before the data.
    """

    data_offset: int
    data_bytes: int
    channels: int | None = None
    sample_rate: int | None = None
    bits: int | None = None


def read_wav_layout(f: BinaryIO) -> WavLayout | None:
    """Walk the chunks of the RIFF/WAVE file open as `f` (from its start) up to the data chunk;
    None when it is not a RIFF/WAVE file or has no data chunk header."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int] | None = None
    while True:
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        if cid == b"fmt ":
            body = f.read(clen)
            if len(body) < 16:
                return None
            _tag, ch, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (ch, rate, bits)
            if clen & 1:
                f.seek(1, os.SEEK_CUR)
        elif cid == b"data":
            return WavLayout(f.tell(), clen, *(fmt or (None, None, None)))
        else:
            f.seek(clen + (clen & 1), os.SEEK_CUR)
