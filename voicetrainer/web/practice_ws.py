"""Browser practice over a WebSocket: the browser is the headset; several seats at once.

- ``GET /practice/{persona_id}[?assignment=ID]``: the call page (``templates/practice/call.html``,
  ``static/practice.js`` + the AudioWorklet ``static/practice-worklet.js``).
- ``WS /practice/{persona_id}/ws[?assignment=ID]``: one call. The page sends JSON ``start``
  (its AudioContext rate and latencies), binary microphone frames (float64 AudioContext time of
  the first sample, then 16 kHz int16), JSON ``played`` reports and ``end``; the server sends
  ``ready`` (open the microphone), binary caller clips (uint32 id, float64 session second to
  be heard at, then 16 kHz int16), JSON ``stop``, ``update`` (the live view), ``ended`` (the
  outcome and the session folder), ``refused``/``error`` with a message, then ``closed``.
  See `voicetrainer.session.browser_headset` for the clocks.

The Guard middleware has already checked the user and the handshake's Origin. The call runs on
its own thread (`session.seats.BrowserCall`); `session.seats.Seats` admits it or refuses it.
The seat limit: ``$VOICETRAINER_SEATS``, else measured capacity x cores (`SeatPolicy`).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicetrainer import get_logger
from voicetrainer.errors import VoiceTrainerError
from voicetrainer.session.browser_headset import BrowserHeadset, parse_text
from voicetrainer.session.seats import BrowserCall, CallRequest, SeatPolicy, Seats, SeatsFull

from .auth import current_user

log = get_logger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # a microphone frame is 648 bytes; anything this big is not the page
ASSIGNMENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_seats_lock = threading.Lock()


def seats_of(app) -> Seats:
    """The app's seats (made on first use; ``$VOICETRAINER_SEATS`` fixes the limit)."""
    with _seats_lock:
        seats = getattr(app.state, "seats", None)
        if seats is None:
            env = os.environ.get("VOICETRAINER_SEATS", "").strip()
            seats = app.state.seats = Seats(SeatPolicy(seats=int(env) if env.isdigit() and int(env) > 0 else None))
        return seats


def caller_voices_of(app):
    """One caller-voice engine for every seat (the server's own, else made on first use): a
    Piper voice is loaded once, not once per call (it is thread-safe: a lock per voice)."""
    ctx = app.state.ctx
    if ctx.tts_backend is not None:
        return ctx.tts_backend
    with _seats_lock:
        voices = getattr(app.state, "caller_voices", None)
        if voices is None:
            from voicetrainer.persona.voices import CallerVoices

            voices = app.state.caller_voices = CallerVoices(settings=ctx.settings)
        return voices


def _assignment(params) -> str | None:
    value = (params.get("assignment") or "").strip()
    return value if ASSIGNMENT.match(value) else None


def practice_call_page(request: Request) -> Response:
    from voicetrainer.persona.loader import load_persona_file

    from .app import render

    user = current_user(request)
    ctx = request.app.state.ctx
    path = ctx.persona_by_id(request.path_params["persona_id"])  # PersonaError -> a 400 page
    persona = load_persona_file(path)
    seats = seats_of(request.app)
    return render(request, "practice/call.html", title=f"Call with {persona.name}", active="/practice",
                  scripts=["practice.js"], persona=persona, persona_id=persona.id, trainee=user.name,
                  assignment=_assignment(request.query_params), seats_free=max(0, seats.policy.limit - seats.active),
                  seats_limit=seats.policy.limit)


async def practice_socket(ws: WebSocket) -> None:
    user = ws.scope.get("vt_user")  # the Guard closed the handshake if there is none
    ctx = ws.app.state.ctx
    await ws.accept()
    if user is None:
        await ws.close(code=1008)
        return
    try:
        path = ctx.persona_by_id(ws.path_params["persona_id"])
        seat = seats_of(ws.app).take(user.name, path.stem)
    except (SeatsFull, VoiceTrainerError) as e:
        await ws.send_json({"type": "refused" if isinstance(e, SeatsFull) else "error", "message": str(e)})
        await ws.close(code=1013 if isinstance(e, SeatsFull) else 1008)
        return
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue = asyncio.Queue()
    headset = BrowserHeadset(lambda message: loop.call_soon_threadsafe(outbox.put_nowait, message))
    seats = seats_of(ws.app)
    try:
        transcriber = await run_in_threadpool(ctx.transcriber)
    except Exception:
        seats.release(seat)
        raise
    request = CallRequest(persona=str(path), trainee=user.name, settings=ctx.settings, sessions_root=ctx.sessions_root,
                          assignment=_assignment(ws.query_params), tts_backend=caller_voices_of(ws.app))
    call = BrowserCall(request, headset, seat=seat, seats=seats, transcriber=transcriber)
    call.start()
    sender = asyncio.create_task(_send_all(ws, outbox))
    try:
        while not sender.done():
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data, text = message.get("bytes"), message.get("text")
            if data is not None:
                if len(data) <= MAX_MESSAGE_BYTES:
                    headset.feed_mic(data)
            elif text is not None and len(text) <= MAX_MESSAGE_BYTES:
                msg = parse_text(text)
                kind = msg.get("type")
                if kind == "start":
                    headset.feed_start(msg)
                elif kind == "played":
                    headset.feed_report(msg)
                elif kind == "end":
                    call.end()
    except WebSocketDisconnect:
        pass
    finally:
        if call.thread.is_alive():  # the page went away mid-call: what was recorded is kept and graded
            headset.end("the browser disconnected")
        if not sender.done():
            sender.cancel()


async def _send_all(ws: WebSocket, outbox: asyncio.Queue) -> None:
    """Messages from the call thread to the page, until the call is closed."""
    try:
        while True:
            message = await outbox.get()
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_json(message)
                if message.get("type") == "closed":
                    await ws.close()
                    return
    except (WebSocketDisconnect, RuntimeError):  # the page is gone; the call ends on its own
        return


def routes() -> list[BaseRoute]:
    return [
        Route("/practice/{persona_id:str}", practice_call_page, name="practice_call"),
        WebSocketRoute("/practice/{persona_id:str}/ws", practice_socket, name="practice_socket"),
    ]
