"""How many browser calls at once this machine holds: N simultaneous calls through the real
server's WebSocket, each a headless page (scripts/browser_client.py) speaking the shipped
trainee recording (real speech, real turn-taking) to the shipped persona.

For each N: a fresh server (uvicorn, accounts, the shared Whisper model, the default caller
voice unless --fake-tts), N recruits log in and start their calls `--stagger` seconds apart;
the reply latencies of every call are pooled (the session's own measure, as in the report).
A seat count holds when the pooled reply p95 <= the budget and no call failed.

    python scripts/bench_seats.py --seats 1,2,3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def _client():
    import browser_client  # scripts/ is on the path: this script's own folder

    return browser_client


def pct(xs, q):
    return round(float(np.percentile(xs, q)), 3) if xs else None


def run_seats(n: int, *, persona: str, fake_tts: bool, stagger_s: float, transcriber, root: Path) -> dict:
    from web_helpers import WebSession, serve

    from voicetrainer.session.seats import REPLY_BUDGET_S, SeatPolicy, Seats
    from voicetrainer.web.services import WebApp

    client = _client()
    data = root / f"data-{n}"
    data.mkdir(parents=True, exist_ok=True)
    shared_cache = Path(os.environ.get("VT_BENCH_TTS_CACHE") or root.parent / "tts-cache")
    shared_cache.mkdir(parents=True, exist_ok=True)  # rendered caller lines are reused across rounds
    (data / "tts-cache").symlink_to(shared_cache, target_is_directory=True)
    os.environ["VOICETRAINER_DATA"] = str(data)
    tts = None
    if fake_tts:
        from voicetrainer.persona.tts import FakeTTS

        tts = FakeTTS()
    ctx = WebApp(tts_backend=tts, transcriber=transcriber)
    for i in range(n):
        ctx.accounts.add(f"recruit{i}", f"bench-pass-{i}", "recruit")
    server = serve(ctx)
    server.asgi.state.seats = Seats(SeatPolicy(seats=n))
    pages, errors = {}, []
    load0 = os.getloadavg()[0]
    cpu0 = time.process_time()
    t0 = time.monotonic()

    def one(i: int) -> None:
        try:
            web = WebSession(server.url)
            web.login(f"recruit{i}", f"bench-pass-{i}")
            cookie = "; ".join(f"{c.name}={c.value}" for c in web.jar)
            pages[i] = client.call_over_websocket(server.url, persona, REPO / "audio_fixtures" / "demo_trainee.wav",
                                                  cookie=cookie, talk_s=75.0, seed=i, timeout_s=300)
        except Exception as e:  # counted as a failed call
            errors.append(repr(e))

    threads = []
    for i in range(n):
        threads.append(threading.Thread(target=one, args=(i,)))
        threads[-1].start()
        time.sleep(stagger_s)
    for t in threads:
        t.join(timeout=400)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    server.shutdown()
    server.server_close()
    finished = list(server.asgi.state.seats.finished)
    replies = [x for _, _, rs in finished for x in rs]
    failed = [p.error for p in pages.values() if p.error] + errors
    per_call = [pct(rs, 95) for _, _, rs in finished]
    late = []
    for p in pages.values():
        if p.ended:
            folder = ctx.sessions_root / p.ended["session"]
            for line in (folder / "events.jsonl").read_text().splitlines():
                ev = json.loads(line)
                if ev.get("type") == "caller_playback":
                    late.append(ev["error_s"])
    p95 = pct(replies, 95)
    return {"seats": n, "all_replies": replies, "calls": len(finished), "failed": failed, "replies": len(replies),
            "reply_p50_s": pct(replies, 50), "reply_p95_s": p95, "reply_max_s": max(replies, default=None),
            "per_call_reply_p95_s": per_call, "playback_error_max_s": max((abs(x) for x in late), default=None),
            "wall_s": round(wall, 1), "process_cpu_s": round(cpu, 1), "cpu_cores_busy": round(cpu / wall, 2),
            "loadavg_before": round(load0, 2), "loadavg_after": round(os.getloadavg()[0], 2),
            "holds": bool(p95 is not None and p95 <= REPLY_BUDGET_S and not failed)}


def pool(rounds: list[dict]) -> dict:
    """Several rounds of the same number of calls as one result (replies pooled)."""
    from voicetrainer.session.seats import REPLY_BUDGET_S

    replies = [x for r in rounds for x in r.pop("all_replies")]
    failed = [f for r in rounds for f in r["failed"]]
    p95 = pct(replies, 95)
    return {"seats": rounds[0]["seats"], "rounds": len(rounds), "calls": sum(r["calls"] for r in rounds),
            "failed": failed, "replies": len(replies), "reply_p50_s": pct(replies, 50), "reply_p95_s": p95,
            "reply_max_s": max(replies, default=None),
            "per_call_reply_p95_s": [x for r in rounds for x in r["per_call_reply_p95_s"]],
            "playback_error_max_s": max((r["playback_error_max_s"] or 0.0 for r in rounds), default=None),
            "cpu_cores_busy": [r["cpu_cores_busy"] for r in rounds],
            "loadavg_before": [r["loadavg_before"] for r in rounds],
            "holds": bool(p95 is not None and p95 <= REPLY_BUDGET_S and not failed)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seats", default="1,2,3", help="comma-separated numbers of simultaneous calls")
    ap.add_argument("--persona", default="billing-double-charge")
    ap.add_argument("--fake-tts", action="store_true", help="FakeTTS caller voice (no speech engine)")
    ap.add_argument("--stagger", type=float, default=1.0, help="seconds between call starts")
    ap.add_argument("--runs", type=int, default=1, help="rounds per number of calls (replies pooled)")
    ap.add_argument("--tts-cache", type=Path, help="keep the rendered caller lines here between runs")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    from voicetrainer.asr import live_recogniser
    from voicetrainer.config import Settings

    if args.tts_cache:
        os.environ["VT_BENCH_TTS_CACHE"] = str(args.tts_cache.resolve())
    transcriber = live_recogniser(Settings().asr)
    root = Path(tempfile.mkdtemp(prefix="vt-bench-seats-"))
    results = []
    try:
        for n in [int(x) for x in args.seats.split(",") if x.strip()]:
            rounds = [run_seats(n, persona=args.persona, fake_tts=args.fake_tts, stagger_s=args.stagger,
                                transcriber=transcriber, root=root / f"round-{r}") for r in range(args.runs)]
            res = pool(rounds)
            results.append(res)
            print(json.dumps(res), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    holds = [r["seats"] for r in results if r["holds"]]
    summary = {"cores": len(os.sched_getaffinity(0)), "results": results, "max_seats_holding": max(holds, default=0)}
    print(f"seats holding reply p95 <= 1.2 s: {summary['max_seats_holding']} on {summary['cores']} cores")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
