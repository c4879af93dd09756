"""CallJob state is changed only under its lock, check and change in one step: an "End call"
landing while the call thread finishes never leaves a finished job saying "ending the call"."""

from __future__ import annotations

import threading

from voicetrainer.config import Settings
from voicetrainer.web.jobs import CallJob, CallRequest


class _RacyJob(CallJob):
    """The first read of `state` inside stop() lets the call thread finish right then (the
    interleaving that used to overwrite "report ready" with "ending the call")."""

    armed = False

    @property
    def state(self):
        if self.armed:
            self.armed = False
            done = threading.Thread(target=lambda: self._set("done", "report ready"))
            done.start()
            done.join(0.2)  # with the lock held by stop() the finisher waits; without, it runs now
            self._finisher = done
        return self.__dict__["_state"]

    @state.setter
    def state(self, value):
        self.__dict__["_state"] = value


def _job(tmp_path, cls=CallJob):
    return cls(CallRequest(persona="billing-double-charge"), session_dir=tmp_path, settings=Settings(),
               transcriber_factory=lambda: None)


def test_end_call_racing_the_finish_keeps_the_final_status(tmp_path):
    job = _job(tmp_path, _RacyJob)
    job._set("running", "call in progress")
    job.armed = True
    job.stop()
    job._finisher.join(2)
    snap = job.snapshot()
    assert (snap["state"], snap["status"]) == ("done", "report ready")


def test_transitions_only_from_the_states_they_name(tmp_path):
    job = _job(tmp_path)
    assert job.active and job.snapshot()["state"] == "preparing"
    job.stop()  # before the call runs: nothing to say "ending" about
    assert job.snapshot()["status"] == "getting the caller's voice ready"
    assert job._set("running", "call in progress", only_from=("preparing",))
    assert not job._set("running", "again", only_from=("preparing",))
    job._set("failed", "failed", error="boom")
    job.stop()
    snap = job.snapshot()
    assert (snap["state"], snap["status"], snap["error"]) == ("failed", "failed", "boom")
    assert not job.active
