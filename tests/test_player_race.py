"""Playback thread safety: play()/stop() reach the audio callback through a queue, and the
callback alone owns the playing clip. Each test replays an interleaving that lost or garbled
a caller line when the callback and play() both wrote `_clip`/`_pos`."""

from __future__ import annotations

import threading
import time

import numpy as np

from voicetrainer.audio.playback import FADE_MS, Player

RATE = 16_000
BLOCK = 320


class _Stream:
    """An OutputStream stand-in: the test drives the callback itself."""

    samplerate = RATE
    latency = 0.0

    def __init__(self, callback, **_):
        self.callback = callback

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass


def _player() -> Player:
    holder = {}
    p = Player(sample_rate=RATE, stream_factory=lambda **kw: holder.setdefault("s", _Stream(**kw)))
    p.open()
    return p


def _block(p: Player, out: list[np.ndarray], hook=None) -> None:
    buf = _HookedBuffer((BLOCK, 1), hook) if hook else np.zeros((BLOCK, 1), np.float32)
    p._callback(buf, BLOCK, None, None)
    out.append(np.array(buf[:, 0]).view(np.ndarray))


class _HookedBuffer(np.ndarray):
    """An output buffer that runs `hook` the first time the callback writes into it: a play()
    landing inside the callback, between its read of the clip and its bookkeeping."""

    def __new__(cls, shape, hook):
        obj = np.zeros(shape, np.float32).view(cls)
        obj.hooks = [hook]  # shared with every view of the buffer
        return obj

    def __array_finalize__(self, obj):
        self.hooks = getattr(obj, "hooks", [])

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if self.hooks:
            self.hooks.pop()()


def test_a_line_started_inside_the_callback_plays_whole_from_its_start():
    p = _player()
    first = np.full(BLOCK // 2, 0.25, np.float32)  # ends inside the next block
    second = np.linspace(0.1, 0.9, 3 * BLOCK, dtype=np.float32)
    out: list[np.ndarray] = []
    p.play(first)
    _block(p, out, hook=lambda: p.play(second))  # the new line arrives mid-callback
    while p.playing:
        _block(p, out)
    played = np.concatenate(out)
    assert np.allclose(played[: BLOCK // 2], 0.25)
    start = BLOCK  # the next block after the one the play() landed in
    assert np.count_nonzero(played[:start]) == BLOCK // 2
    assert np.allclose(played[start : start + len(second)], second), "the second line was lost or garbled"
    assert p.stats.samples_out == len(played)


def test_stop_fades_from_where_the_callback_is():
    p = _player()
    clip = np.full(10 * BLOCK, 0.5, np.float32)
    out: list[np.ndarray] = []
    p.play(clip)
    _block(p, out)
    _block(p, out)
    p.stop()
    while p.playing:
        _block(p, out)
    played = np.concatenate(out)
    fade = int(RATE * FADE_MS / 1000)
    assert np.allclose(played[: 2 * BLOCK], 0.5)
    tail = played[2 * BLOCK : 2 * BLOCK + fade]
    assert tail[0] == np.float32(0.5) and np.all(np.diff(tail) <= 0) and tail[-1] < 0.02
    assert not np.any(played[2 * BLOCK + fade :])


def test_play_from_another_thread_never_loses_a_line():
    """Many lines queued from a second thread while the callback runs: every one is played,
    in order, each from its first sample (lines are distinct constant levels)."""
    p = _player()
    levels = [0.05 * (k + 1) for k in range(12)]
    out: list[np.ndarray] = []
    done = threading.Event()

    def producer():
        for lv in levels:
            while p.playing:  # the next line only after the previous one ended
                time.sleep(0)
            p.play(np.full(BLOCK + 37, lv, np.float32))
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        _block(p, out)
        if done.is_set() and not p.playing:
            break
    t.join(5)
    played = np.concatenate(out)
    heard = [round(float(v), 3) for v in played[played > 0]]
    runs = [heard[0]] + [b for a, b in zip(heard, heard[1:]) if b != a]
    assert runs == [round(lv, 3) for lv in levels]
    for lv in levels:
        assert np.count_nonzero(np.isclose(played, lv)) == BLOCK + 37
