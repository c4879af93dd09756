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

from .pages import esc

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


def chat_section(personas: list[dict], default_persona: str) -> str:
    """The typed-chat box of the practice page (static/chat.js drives it)."""
    options = "".join(
        f'<option value="{esc(p["id"])}"{" selected" if p["id"] == default_persona else ""}>{esc(p["name"])} '
        f'({esc(p["id"])})</option>' for p in personas)  # fmt: skip
    return (
        '<section id="chat" aria-labelledby="chat-title"><h2 id="chat-title">Practise by typing (chat)</h2>'
        '<p class="hint">The same caller, as a text chat: each answer shows the caller\'s mood and why it said so.</p>'
        f'<p><label for="chat-persona">Caller</label><select id="chat-persona">{options}</select> '
        '<button type="button" id="chat-start">Start chat</button></p>'
        '<ol id="chat-log" class="chat-log" aria-live="polite"></ol>'
        '<form id="chat-form" hidden><label for="chat-text">You (agent)</label> '
        f'<input id="chat-text" maxlength="{MAX_TEXT_CHARS}" size="70" autocomplete="off"> '
        '<button type="submit" id="chat-send">Send</button></form>'
        '<p id="chat-outcome" class="callout" hidden></p></section>'
    )
