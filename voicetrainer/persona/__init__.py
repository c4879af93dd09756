"""Personas: trainer-authored angry callers (YAML), their voice (TTS + render cache) and mind (dialog).

Modules:
    schema   the persona file format (pydantic; unknown keys are errors)
    loader   load_persona(id_or_path), validate_file(path) -> issues; safe YAML only
    tts      VoiceSettings, voice_for_mood, TTSBackend (one method), Pyttsx3Backend, FakeTTS
    cache    RenderCache(cache_dir).get(text, voice) -> WAV path; prefill(persona); phone_line
    voices   CallerVoices: the default backend, routes espeak/piper lines and shapes them by mood
    piper_voice  PiperBackend (neural voice), where Piper voice files are found
    prosody  what anger does to a line (PROSODY_BY_BAND, shape_line), the telephone line
    dialog   DialogEngine(persona, seed): opening / respond / on_interrupted -> CallerLine
             (call: the value types; mood: how a turn moves the mood; facts, listening, reply:
             what the caller understood and answers; linebook, phrasing: the lines, never twice)
    chat     ChatSession(persona, seed): a typed conversation with the same engine
    template the commented template written by `voicetrainer personas new ID`

The names below are importable from here; they load their module on first use so that
``import voicetrainer.persona`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Persona": "schema",
    "SITUATIONS": "schema",
    "load_persona": "loader",
    "validate_file": "loader",
    "personas_dir": "loader",
    "persona_files": "loader",
    "VoiceSettings": "tts",
    "voice_for_mood": "tts",
    "TTSBackend": "tts",
    "Pyttsx3Backend": "tts",
    "FakeTTS": "tts",
    "RenderCache": "cache",
    "CallerVoices": "voices",
    "DialogEngine": "dialog",
    "TraineeObservation": "dialog",
    "CallerLine": "dialog",
    "Decision": "dialog",
    "CallEnd": "call",
    "ChatSession": "chat",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
