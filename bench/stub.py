"""A stand-in server that answers the bench's traffic as cheaply as it can: no database, no
auth, no history. ``python -m bench selftest`` drives it to show what the load generator itself
can push on this machine, and what it costs per job (so a server figure is never the
generator's ceiling in disguise).

    python -m bench.stub --port 8765

Speaks just enough of the contract: ``POST /v1/print-jobs`` (201 with a Job), ``/healthz``, and
the bridge socket (Engine.IO open, ``40`` with auth ``{token: "prd_stub_<station id>"}``,
``bridge.owner``, ``print_job.new``, acks for ``print_job.claim`` / ``print_job.report`` /
``heartbeat``, pings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

STUB_TOKEN_PREFIX = "prd_stub_"  # noqa: S105 (a prefix, not a secret)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Stub:
    def __init__(self) -> None:
        self.bridges: dict[str, web.WebSocketResponse] = {}  # station id -> socket
        self.jobs: dict[str, dict[str, Any]] = {}

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = datetime.now(UTC).isoformat()
        job = {
            "id": str(uuid.uuid4()),
            "location_id": body["location_id"],
            "station_id": body["station_id"],
            "status": "pending",
            "document": body.get("document"),
            "raw": None,
            "copies": 1,
            "drawer_pulse": False,
            "claimed_by": None,
            "epoch": None,
            "reprint_of": None,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "expires_at": now,
            "paper_width_mm": 80,
        }
        self.jobs[job["id"]] = job
        text = _dumps(job)
        ws = self.bridges.get(body["station_id"])
        if ws is not None and not ws.closed:
            await ws.send_str(f'42["print_job.new",{text}]')
        return web.Response(status=201, text=text, content_type="application/json")

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        sid = uuid.uuid4().hex[:20]
        await ws.send_str(
            "0" + _dumps({"sid": sid, "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000})
        )
        station: str | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            data: str = msg.data
            if data.startswith("40"):
                auth = json.loads(data[2:]) if len(data) > 2 else {}
                token = str(auth.get("token", ""))
                if not token.startswith(STUB_TOKEN_PREFIX):
                    await ws.send_str('44{"message":"unauthorized","data":{"code":"unauthorized"}}')
                    break
                station = token[len(STUB_TOKEN_PREFIX) :]
                self.bridges[station] = ws
                await ws.send_str("40" + _dumps({"sid": sid}))
                await ws.send_str(
                    '42["bridge.owner",' + _dumps({"device_id": station, "epoch": 1}) + "]"
                )
            elif data.startswith("42"):
                i = 2
                while data[i].isdigit():
                    i += 1
                ack_id = data[2:i]
                args = json.loads(data[i:])
                await ws.send_str(f"43{ack_id}[{_dumps(self.answer(args))}]")
            # "3" (pong) and anything else: nothing to do
        if station is not None and self.bridges.get(station) is ws:
            del self.bridges[station]
        return ws

    def answer(self, args: list[Any]) -> dict[str, Any]:
        event = args[0]
        if event == "heartbeat":
            return {"owner": True, "epoch": 1}
        job = self.jobs.get(args[1]["id"]) if len(args) > 1 else None
        if job is None:
            return {"ok": False, "error": {"code": "not_found", "message": "no such job"}}
        job["status"] = "sent" if event == "print_job.claim" else args[1].get("status")
        if job["status"] == "printed":
            del self.jobs[job["id"]]
        return {"ok": True, "job": job}


def app() -> web.Application:
    stub = Stub()
    application = web.Application()
    application.router.add_get("/healthz", stub.healthz)
    application.router.add_post("/v1/print-jobs", stub.submit)
    application.router.add_get("/socket.io/", stub.socket)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
