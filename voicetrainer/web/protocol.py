"""uvicorn's h11 protocol with a deadline on the request head.

uvicorn closes an idle keep-alive connection only after a response, and cancels that timer as soon
as any byte arrives: a client that connects and sends nothing, or trickles a header byte a second,
would hold its connection (one of `server.MAX_CONNECTIONS`) forever. Here every request head -
the first on a connection, and each one after a response - must be complete within
`HEAD_DEADLINE_S`, or the connection is closed. Bodies have their own per-chunk timeout
(`auth.BODY_CHUNK_TIMEOUT_S`); a WebSocket upgrade ends the deadline.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_DEADLINE_S = 20.0  # connect (or finish a response) -> the next request head complete


class DeadlineH11Protocol(H11Protocol):
    head_deadline_s = HEAD_DEADLINE_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_deadline_s, self._head_late)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.cycle is None or self.cycle.response_complete:  # no request under way: drop the connection
            if not self.transport.is_closing():
                self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self.cycle is not None:  # a whole request head arrived
            self._disarm()

    def handle_websocket_upgrade(self, event) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
