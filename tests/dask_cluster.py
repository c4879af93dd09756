"""A Dask scheduler and workers on loopback, as separate processes, for the cluster tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class LoopbackCluster:
    """`dask scheduler` + N `dask worker` processes (no nanny: a killed worker stays dead), bound
    to 127.0.0.1, started in `folder` (not the repository: workers must not rely on its cwd)."""

    def __init__(self, folder: Path, workers: int = 2, *, threads: int = 1):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                    "VOICETRAINER_DATA": str(folder / "worker-data")}
        self.file = folder / "scheduler.json"
        self.scheduler = self._start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--scheduler-file", str(self.file)], "scheduler")
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = {f"w{i}": self._start(
            ["distributed.cli.dask_worker", self.address, "--nthreads", str(threads), "--no-nanny", "--name",
             f"w{i}", "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(folder / f"w{i}")], f"w{i}")
            for i in range(1, workers + 1)}
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            c.wait_for_workers(workers, timeout=90)

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        return subprocess.Popen([sys.executable, "-m", *args], cwd=self.folder, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        self.workers[name].kill()

    def close(self) -> None:
        for p in [*self.workers.values(), self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers.values(), self.scheduler]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
