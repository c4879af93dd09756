"""Typed chat with a caller on the practice page: the same `ChatSession` as `personas chat`.

One JSON endpoint, ``POST /api/chat`` (origin-checked like every POST, see server._allowed):
``{"action": "start", "persona": ID, "seed"?: N}`` -> ``{"id", "persona", "name", "opening", "mood",
"situation"}``; ``{"action": "say", "id", "text"}`` -> ``{"agent", "caller", "situation", "mood",
"reason", "ends_call", "outcome"}``. At most ``MAX_CHATS`` chats are kept (the oldest is dropped).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict

from voicetrainer.errors import InputError


MAX_CHATS = 16  # chats kept in memory; the oldest is dropped first
MAX_TEXT_CHARS = 600  # one agent turn
PERSONA_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class ChatRooms:
    """The open chats of one server, bounded, behind a lock (handlers run on several threads)."""

    def __init__(self, limit: int = MAX_CHATS):
        self.limit = limit
        self._chats: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, persona, seed: int = 0) -> tuple[str, object]:
        from voicetrainer.persona.chat import ChatSession

        chat = ChatSession(persona, seed=seed)
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._chats[key] = chat
            while len(self._chats) > self.limit:
                self._chats.popitem(last=False)
        return key, chat

    def get(self, key: str):
        with self._lock:
            chat = self._chats.get(key)
            if chat is not None:
                self._chats.move_to_end(key)
        if chat is None:
            raise InputError("this chat has ended or expired: start a new one")
        return chat


_ROOMS_LOCK = threading.Lock()


def rooms_of(app) -> ChatRooms:
    with _ROOMS_LOCK:
        rooms = getattr(app, "chat_rooms", None)
        if rooms is None:
            rooms = app.chat_rooms = ChatRooms()
        return rooms


def handle(app, form: dict) -> dict:
    """The JSON answer to one ``POST /api/chat``."""
    from voicetrainer.persona.loader import load_persona

    rooms = rooms_of(app)
    action = str(form.get("action") or "")
    if action == "start":
        pid = str(form.get("persona") or "")
        if not PERSONA_ID.match(pid):
            raise InputError("choose a caller first")
        try:
            seed = int(form.get("seed") or 0)
        except ValueError as e:
            raise InputError("seed must be a whole number") from e
        key, chat = rooms.start(load_persona(pid, app.personas_dir), seed)
        return {"id": key, "persona": pid, "name": chat.persona.name, "opening": chat.opening.text,
                "mood": chat.opening.mood, "situation": "opening"}  # fmt: skip
    if action == "say":
        chat = rooms.get(str(form.get("id") or ""))
        text = str(form.get("text") or "")[:MAX_TEXT_CHARS]
        if chat.finished:
            return {"agent": text, "caller": "", "situation": "ended", "mood": chat.engine.mood, "reason": "the call has ended",
                    "ends_call": True, "outcome": chat.outcome}  # fmt: skip
        t = chat.say(text)
        return {"agent": t.agent, "caller": t.caller, "situation": t.situation, "mood": t.mood, "reason": t.reason,
                "ends_call": t.ends_call, "outcome": t.outcome}  # fmt: skip
    raise InputError("unknown chat action (start or say)")
