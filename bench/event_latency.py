"""Submit → `print_job.new` latency on loopback: a POS submits jobs one at a time over HTTP and
a bridge socket (python-socketio client) times each job's arrival.

    python -m bench.event_latency --server http://127.0.0.1:8000 --admin-token TOKEN [--jobs 500]

The full harness (throughput, CPU per job, idle bridges) is issue 7's `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx
import socketio

DOCUMENT = {"blocks": [{"type": "text", "text": "bench"}, {"type": "cut"}]}


async def measure(server: str, admin_token: str, jobs: int) -> list[float]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as c:
        admin = {"Authorization": f"Bearer {admin_token}"}
        t = (await c.post("/v1/tenants", json={"name": "bench"}, headers=admin)).json()
        manager = {"Authorization": f"Bearer {t['api_key']['secret']}"}
        location = (await c.post("/v1/locations", json={"name": "b"}, headers=manager)).json()["id"]
        code = (
            await c.post(
                "/v1/pairing-codes",
                json={"location_id": location, "kind": "print_bridge"},
                headers=manager,
            )
        ).json()["code"]
        token = (await c.post("/v1/devices/pair", json={"code": code, "name": "b"})).json()["token"]

        arrived: dict[str, float] = {}
        got = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)
        owner = asyncio.Event()
        sio.on("bridge.owner", lambda _data: owner.set())

        def on_new(job: dict[str, Any]) -> None:
            arrived[job["id"]] = time.perf_counter()
            got.set()

        sio.on("print_job.new", on_new)
        await sio.connect(server, auth={"token": token}, transports=["websocket"])
        await asyncio.wait_for(owner.wait(), 10)
        latencies = []
        for _ in range(jobs):
            got.clear()
            started = time.perf_counter()
            r = await c.post(
                "/v1/print-jobs",
                json={"location_id": location, "document": DOCUMENT},
                headers=manager,
            )
            job_id = r.json()["id"]
            while job_id not in arrived:
                await asyncio.wait_for(got.wait(), 10)
                got.clear()
            latencies.append((arrived[job_id] - started) * 1000)
        await sio.disconnect()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    ms = asyncio.run(measure(args.server, args.admin_token, args.jobs))
    ms.sort()
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(
        f"{len(ms)} jobs: submit→print_job.new p50 {statistics.median(ms):.1f} ms, "
        f"p90 {p(0.9):.1f} ms, p99 {p(0.99):.1f} ms, max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
