"""Browser practice over a WebSocket (the browser is the headset; several seats).

Owned by the browser-audio work; `app.create_app` includes `routes()`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
