"""Worker process for pyttsx3 (espeak-ng): renders one line to one WAV per request.

Run by ``voicetrainer.persona.tts.Pyttsx3Backend`` as ``python -m voicetrainer.persona._tts_worker``.
Isolates pyttsx3's known faults from the app: ``runAndWait`` can hang (the parent kills us on a
timeout), it prints "Audio saved to ..." (fd 1 goes to /dev/null; replies use a private copy of
the original stdout), a second queued ``save_to_file`` can be dropped (one file per
``runAndWait``), and an unknown voice is reported only through the error callback while the
previous voice stays set (we check the callback *and* the voice actually selected).

Rate and pitch travel as espeak embedded commands in the text (the properties are applied one
utterance late, see _with_embedded_settings). runAndWait also returns before espeak-ng's asynchronous synthesis has written the file; we wait
for the driver's "finished-utterance" notification (sent after the write).

Protocol: one JSON object per line on stdin ``{"text", "voice", "rate_wpm", "pitch", "range", "out"}``;
one JSON reply per line ``{"ok": true, "empty_retries": n}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading


WAV_HEADER_BYTES = 44  # a WAV this size has no samples
# The driver sometimes writes a WAV with no samples (seen: ~1 line in 30, timing dependent, with
# the same text rendering fine right after). Re-render in place before bothering the parent.
EMPTY_RETRIES = 2


def _with_embedded_settings(req: dict) -> str:
    """The text prefixed with espeak embedded commands for rate, pitch and pitch range (ctrl-A,
    value, letter).

    pyttsx3's rate/pitch properties reach espeak-ng through its asynchronous command queue and
    were often applied one utterance late: measured here, 40-60 % of lines came out at the
    *previous* line's rate. Embedded commands travel with the text itself (0 of 400 wrong).
    Control characters in the text are removed so it cannot carry commands of its own.
    """
    text = "".join(ch for ch in req["text"] if ch >= " " or ch in "\n\t")
    pitch_range = int(req.get("range", 50))
    return f"\x01{int(req['rate_wpm'])}S\x01{int(req['pitch'])}P\x01{pitch_range}R {text}"


def _voice_matches(requested: str, current: str | None) -> bool:
    if not current:
        return False
    req, cur = requested.lower(), current.lower()
    return cur == req or cur.endswith("/" + req) or cur.split("/")[-1] == req.split("/")[-1]


def main() -> int:
    reply = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # pyttsx3 and espeak print to stdout; keep the protocol clean
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115

    def send(obj: dict) -> None:
        reply.write(json.dumps(obj) + "\n")
        reply.flush()

    try:
        import pyttsx3

        engine = pyttsx3.init("espeak")
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises TTSError
        send({"ok": False, "fatal": True, "error": f"pyttsx3/espeak-ng could not start: {type(e).__name__}: {e}"})
        return 1
    errors: list[str] = []

    def on_error(name=None, exception=None, **_kw):
        errors.append(str(exception))

    engine.connect("error", on_error)
    # espeak-ng runs in AUDIO_OUTPUT_RETRIEVAL mode: synthesis is asynchronous and runAndWait can
    # return before the WAV is written (seen here: ~1 line in 4 missing). The driver notifies
    # "finished-utterance" only after writing the file, so wait for that.
    finished = threading.Event()
    engine.connect("finished-utterance", lambda name=None, completed=None, **_kw: finished.set())
    send({"ok": True, "ready": True})
    for raw in sys.stdin:
        try:
            req = json.loads(raw)
        except json.JSONDecodeError as e:
            send({"ok": False, "error": f"bad request: {e}"})
            continue
        errors.clear()
        finished.clear()
        try:
            # property changes are queued and applied inside runAndWait, so the voice can only
            # be checked afterwards
            empty = 0
            for _attempt in range(1 + EMPTY_RETRIES):
                finished.clear()
                engine.setProperty("voice", req["voice"])
                engine.setProperty("rate", int(req["rate_wpm"]))
                engine.setProperty("pitch", int(req["pitch"]))
                engine.save_to_file(_with_embedded_settings(req), req["out"])
                engine.runAndWait()
                if not finished.wait(float(req.get("finish_timeout_s", 10.0))):
                    break
                if os.path.exists(req["out"]) and os.path.getsize(req["out"]) > WAV_HEADER_BYTES:
                    break
                empty += 1
            if not finished.is_set():
                send({"ok": False, "error": "espeak-ng never finished the utterance"})
                continue
            if not _voice_matches(req["voice"], engine.getProperty("voice")) or any("voice" in e for e in errors):
                if os.path.exists(req["out"]):
                    os.unlink(req["out"])  # rendered with the previous voice: never keep it
                send({"ok": False, "unknown_voice": True,
                      "error": f"unknown voice {req['voice']!r} (see `espeak-ng --voices`)"})
            elif errors:
                send({"ok": False, "error": "; ".join(errors)})
            else:
                send({"ok": True, "empty_retries": empty})
        except Exception as e:  # noqa: BLE001 - one bad line must not kill the worker
            send({"ok": False, "error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
