"""End call while the caller's voice is still being rendered stops the preparation at once.

A slow fake voice engine (each line takes 0.2 s, a persona has dozens of lines) stands in for
Piper filling its cache: the job shows how far the preparation got, and End call cancels it at
the next line instead of rendering the rest and then starting a call nobody wants.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from voicetrainer.config import Settings
from voicetrainer.persona.tts import FakeTTS
from voicetrainer.web.jobs import CallJob, CallRequest

REPO = Path(__file__).resolve().parents[1]


class _NoRecogniser:
    """The call never starts, so nothing is recognised (only the warm-up call)."""

    def transcribe(self, audio, *args, **kwargs):
        return []


class SlowTTS(FakeTTS):
    def __init__(self) -> None:
        super().__init__()
        self.rendered = 0
        self.first = threading.Event()

    def render(self, text, voice, out_path):
        time.sleep(0.2)
        super().render(text, voice, out_path)
        self.rendered += 1
        if self.rendered >= 3:  # the job has reported at least two lines
            self.first.set()


def test_end_call_during_voice_preparation_cancels_before_the_rest_is_rendered(tmp_path):
    tts = SlowTTS()
    settings = Settings(data_dir=str(tmp_path / "data"))
    job = CallJob(CallRequest(persona="billing-double-charge", simulate=str(REPO / "audio_fixtures" / "demo_trainee.wav"),
                              accelerated=True),
                  session_dir=tmp_path / "session", settings=settings, transcriber_factory=lambda: _NoRecogniser(),
                  tts_backend=tts)
    statuses = []
    job._publish = lambda: statuses.append(job.status)  # what the page would be sent
    job.start()
    assert tts.first.wait(30)
    job.stop()
    job.thread.join(30)
    assert not job.thread.is_alive()
    assert job.state == "failed" and job.error == "the call was ended before it started"
    assert tts.rendered < 10  # a persona has far more lines than this: the rest were never rendered
    assert any("preparing the caller's voice" in s and "lines)" in s for s in statuses)
