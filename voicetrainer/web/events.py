"""Server-sent events: the live call, the microphone check and the baseline recording.

The call's stream waits on the event loop (no thread while a call page is open); the mic and
baseline streams are plain generators that Starlette's StreamingResponse steps on the bounded
thread pool, no step blocking longer than one 20 ms microphone frame (or the baseline's queue). The mic and baseline streams open the microphone, so
they also need the page's CSRF token (``?csrf=``: EventSource cannot send a header).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Iterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voicetrainer.errors import VoiceTrainerError

from .auth import csrf_token, current_user, same

SSE_KEEPALIVE_S = 15.0
CALL_POLL_S = 0.05  # the live call page's updates arrive within this of the snapshot (20 a second at most)
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def event(obj: Any, name: str | None = None) -> bytes:
    return ((f"event: {name}\n" if name else "") + f"data: {json.dumps(obj)}\n\n").encode("utf-8")


def _stream(gen: Iterator[bytes]) -> Response:
    return StreamingResponse(gen, media_type="text/event-stream", headers=SSE_HEADERS)


async def call_stream(ctx, job) -> AsyncIterator[bytes]:
    """The call's snapshots as they change (coalesced: a slow page gets the newest only). Waits on
    the event loop (a look at the job's counter every `CALL_POLL_S`), so an open call page holds
    no thread of the pool however long the call lasts."""
    import anyio

    if job is None:
        yield event({"state": "none"})
        return
    seq, quiet_s = -1, 0.0
    while not ctx.closing.is_set():
        if job.seq > seq:
            snap = job.snapshot()
            seq, quiet_s = snap["seq"], 0.0
            yield event(snap)
            if snap["state"] in ("done", "failed"):
                return
        elif quiet_s >= SSE_KEEPALIVE_S:
            quiet_s = 0.0
            yield b": keep-alive\n\n"
        await anyio.sleep(CALL_POLL_S)
        quiet_s += CALL_POLL_S


def mic_stream(ctx, device: str, seconds: float) -> Iterator[bytes]:
    """Microphone level (dBFS) about 10 times a second for `seconds`, then a verdict."""
    from voicetrainer.audio.frames import rms_dbfs
    from voicetrainer.audio.sources import MicSource
    from voicetrainer.stream.vad import EnergyVad

    if ctx.call is not None and ctx.call.active:
        yield event({"error": "a call is running and is using the microphone"}, "error")
        return
    dev = None if not device else int(device) if device.isdigit() else device
    seconds = min(max(seconds, 1.0), 30.0)
    vad = EnergyVad()
    peak = -120.0
    try:
        with MicSource(device=dev, stream_factory=ctx.mic_stream_factory) as mic:
            for frame in mic:
                level = rms_dbfs(frame.channel(0))
                vad.is_speech(level)
                peak = max(peak, level)
                t = (frame.index + 1) * 0.02
                if frame.index % 5 == 4:
                    yield event({"t_s": round(t, 2), "level_dbfs": round(level, 1), "floor_dbfs": round(vad.floor_dbfs, 1)})
                if t >= seconds or ctx.closing.is_set():
                    break
    except VoiceTrainerError as e:
        yield event({"error": str(e)}, "error")
        return
    floor = vad.floor_dbfs
    verdict = ("Your voice is barely above the room noise: move the microphone closer." if peak - floor < 15
               else "Good: your voice is well above the room noise.")
    yield event({"peak_dbfs": round(peak, 1), "floor_dbfs": round(floor, 1), "verdict": verdict}, "done")


def baseline_stream(ctx, device: str, trainee: str) -> Iterator[bytes]:
    """Record the trainee's calm-voice baseline (they read a sentence); levels while listening."""
    import queue
    import threading

    from voicetrainer.audio.sources import MicSource
    from voicetrainer.session.practice import record_baseline

    trainee = (trainee or "").strip()[:60]
    if not trainee:
        yield event({"error": "type your name first: the baseline is kept under it"}, "error")
        return
    if ctx.call is not None and ctx.call.active:
        yield event({"error": "a call is running and is using the microphone"}, "error")
        return
    dev = None if not device else int(device) if device.isdigit() else device
    out: queue.Queue = queue.Queue(maxsize=256)

    def level(t_s: float, level_dbfs: float) -> None:
        if int(round(t_s / 0.02)) % 5 == 0:
            try:
                out.put_nowait(event({"t_s": round(t_s, 2), "level_dbfs": round(level_dbfs, 1)}))
            except queue.Full:
                pass

    def run() -> None:
        try:
            with MicSource(device=dev, stream_factory=ctx.mic_stream_factory) as mic:
                stats = record_baseline(trainee, mic, ctx.settings, on_level=level)
        except VoiceTrainerError as e:
            out.put(event({"error": str(e)}, "error"))
        else:
            if stats is None:
                out.put(event({"error": "I could not hear enough speech: read the whole sentence, a little closer "
                                        "to the microphone"}, "error"))
            else:
                out.put(event({"trainee": trainee, "pitch_median_hz": round(stats.pitch_median_hz, 1),
                               "loudness_dbfs": round(stats.loudness_dbfs, 1)}, "done"))
        out.put(None)

    threading.Thread(target=run, name="web-baseline", daemon=True).start()
    while (chunk := out.get(timeout=120)) is not None:
        yield chunk


def call_events(request: Request) -> Response:
    from .views import my_call

    ctx = request.app.state.ctx
    return _stream(call_stream(ctx, ctx.call if my_call(request) is not None else None))


def _csrf_ok(request: Request) -> bool:
    return same(request.query_params.get("csrf", ""), csrf_token(request))


def _number(text: str, name: str, *, default: float) -> float:
    import math

    from voicetrainer.errors import InputError

    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number")
    return value


def mic_events(request: Request) -> Response:
    if not _csrf_ok(request):  # it opens the microphone: only for the app's own pages
        return JSONResponse({"error": "this page has expired: reload it"}, 403)
    q = request.query_params
    return _stream(mic_stream(request.app.state.ctx, q.get("device", ""), _number(q.get("seconds", ""), "seconds",
                                                                                   default=6.0)))


def baseline_events(request: Request) -> Response:
    from .views import trainee_of

    if not _csrf_ok(request):
        return JSONResponse({"error": "this page has expired: reload it"}, 403)
    current_user(request)
    trainee, _ = trainee_of(request, request.query_params.get("trainee", ""))
    return _stream(baseline_stream(request.app.state.ctx, request.query_params.get("device", ""), trainee))


def routes() -> list:
    return [
        Route("/api/call/events", call_events),
        Route("/api/mic/events", mic_events),
        Route("/api/baseline/events", baseline_events),
    ]
