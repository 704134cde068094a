"""The agent: receive jobs, claim only while the printer is ready, print, report; journal
every step so a restart finishes what it started and never prints a job twice by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bridge_agent.api import ApiError, DeviceApi
from bridge_agent.connection import Connection, NotOwner
from bridge_agent.credentials import Credentials
from bridge_agent.render import RenderError, render_job
from bridge_agent.spool import Journal, Stage
from bridge_agent.transports import PrinterState, Transport, TransportError
from bridge_agent.workers import run_blocking

log = logging.getLogger(__name__)

PRINTER_POLL_S = 5.0
# Fault injection for the crash tests: the agent dies (as a power cut would) at this point of a
# job's life. One of: claim_acked, claimed, mid_write, printed. Unset in normal use.
CRASH_AT = os.environ.get("PRINTRELAY_BRIDGE_CRASH_AT")


def _crash_point(name: str) -> None:
    if name == CRASH_AT:
        log.error("failpoint %s: exiting abruptly", name)
        os._exit(137)


INTERRUPTED = (
    "interrupted_while_printing: the agent stopped mid-job; check the paper, reprint if needed"
)


class BridgeRunner:
    def __init__(
        self,
        creds: Credentials,
        transport: Transport,
        journal: Journal,
        *,
        paper_width_mm: int = 80,
        printer_poll_s: float = PRINTER_POLL_S,
        heartbeat_interval_s: float | None = None,
        on_change: Callable[[BridgeRunner], None] | None = None,
    ) -> None:
        self.creds = creds
        self.transport = transport
        self.journal = journal
        # Each job carries its station's paper width; this is for a job that does not (one
        # from a server older than that field).
        self.paper_width_mm = paper_width_mm
        self.printer_poll_s = printer_poll_s
        kwargs = {"heartbeat_interval_s": heartbeat_interval_s} if heartbeat_interval_s else {}
        # Told when the connection, the printer's state or the last job changes (the status
        # file `printrelay-bridge status` reads).
        self._on_change = on_change
        self.connection = Connection(
            creds.server,
            creds.token,
            self._on_owner,
            self._on_job,
            on_state=lambda _: self._changed(),
            **kwargs,
        )
        self.api = DeviceApi(creds.server, creds.token)
        self.printer_state: PrinterState | None = None
        self._printer_cause: str | None = None  # why it is not online ("connection refused")
        self.last_job: dict[str, str] | None = None  # {id, status, at} of the last job finished
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._queued: set[str] = set()
        self._held: dict[str, dict[str, Any]] = {}  # offered while the printer was not ready
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> BridgeRunner:
        await self.api.__aenter__()
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.api.__aexit__()
        await self.transport.close()

    async def run(self) -> str | None:
        """Until stopped (cancelled, or the device was revoked: returns the reason)."""
        self._tasks = [
            asyncio.create_task(self._work(), name="jobs"),
            asyncio.create_task(self._watch_printer(), name="printer"),
        ]
        await self.connection.run()
        return self.connection.stop_reason

    # -- inbound ----------------------------------------------------------------------------

    async def _on_owner(self, epoch: int) -> None:
        # Socket.IO delivers at most once: after every (re)connection, ask REST what is due.
        self._enqueue("reconcile", {})

    async def _on_job(self, job: dict[str, Any]) -> None:
        self._enqueue("job", job)

    def _enqueue(self, kind: str, item: dict[str, Any]) -> None:
        key = item.get("id", kind)
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.put_nowait((kind, item))

    async def _work(self) -> None:
        while True:
            kind, item = await self._queue.get()
            self._queued.discard(item.get("id", kind))
            try:
                if kind == "reconcile":
                    await self._reconcile()
                else:
                    await self._handle_offer(item)
            except (NotOwner, ApiError, TimeoutError, OSError) as exc:
                log.warning("%s %s postponed: %s", kind, item.get("id", ""), exc)
            except Exception:
                log.exception("%s %s failed", kind, item.get("id", ""))

    # -- the job's life ---------------------------------------------------------------------

    async def _handle_offer(self, job: dict[str, Any]) -> None:
        job_id = job["id"]
        if await self.journal.get(job_id) is not None:
            return  # already ours (or done): a repeated offer, never printed twice
        # No expiry check here: the server decides it (its claim refuses an expired job), and this
        # PC's clock may be off by minutes; judging `expires_at` by it dropped valid tickets.
        if not await self._printer_ready():
            self._held[job_id] = job
            log.info("printer %s; holding job %s unclaimed", self._printer_described(), job_id)
            return
        self._held.pop(job_id, None)
        ack = await self.connection.call("print_job.claim", {"id": job_id, "epoch": self._epoch()})
        if not ack.get("ok"):
            log.info("job %s not ours: %s", job_id, ack.get("error", {}).get("code"))
            return
        _crash_point("claim_acked")
        await self.journal.record(job_id, Stage.CLAIMED)
        _crash_point("claimed")
        log.info("claimed job %s", job_id, extra={"event": "job.claimed", "job_id": job_id})
        await self._print_and_report(ack["job"])

    async def _print_and_report(self, job: dict[str, Any]) -> None:
        job_id = job["id"]
        try:
            # In a worker thread: a heavy ticket (hundreds of images) must not stop the event loop
            # from answering pings and heartbeats. Its cost is bounded by the renderer's own
            # limits (render.graphics), checked from the PNG headers before anything is decoded.
            # At the job's own paper width (``paper_width_mm`` here is only the fallback).
            data = await run_blocking(render_job, job, paper_width_mm=self.paper_width_mm)
        except RenderError as exc:  # nothing reached the printer; a person must fix the ticket
            error = f"render_error: {exc}"[:200]
            await self.journal.record(job_id, Stage.PRINTED, outcome="failed", error=error)
            log.warning("job %s cannot be rendered: %s", job_id, exc)
            await self._report(job_id)
            return
        await self.journal.record(job_id, Stage.PRINTING)
        self.last_job = {"id": job_id, "status": "printing", "at": _now()}
        self._changed()
        try:
            if CRASH_AT == "mid_write":
                await self.transport.write(data[: len(data) // 2])
                _crash_point("mid_write")
            await self.transport.write(data)
        except TransportError as exc:
            error = f"printer_error: {exc}"[:200]
            await self.journal.record(job_id, Stage.PRINTED, outcome="failed", error=error)
            log.warning("job %s failed at the printer: %s", job_id, exc)
        else:
            await self.journal.record(job_id, Stage.PRINTED, outcome="printed")
            log.info(
                "printed job %s (%d bytes)",
                job_id,
                len(data),
                extra={"event": "job.printed", "job_id": job_id},
            )
            _crash_point("printed")
        await self._report(job_id)

    async def _report(self, job_id: str) -> None:
        entry = await self.journal.get(job_id)
        assert entry is not None and entry.outcome is not None
        if self.last_job is None or self.last_job["id"] == job_id:
            self.last_job = {"id": job_id, "status": entry.outcome, "at": _now()}
            self._changed()
        message: dict[str, Any] = {"id": job_id, "epoch": self._epoch(), "status": entry.outcome}
        if entry.outcome == "failed":
            message["error"] = entry.error
        ack = await self.connection.call("print_job.report", message)
        code = ack.get("error", {}).get("code") if not ack.get("ok") else None
        if code in (None, "invalid_transition", "not_found", "already_claimed"):
            # Accepted, or the server already settled it (lease passed, unpaired): final.
            await self.journal.record(job_id, Stage.REPORTED)
            log.info(
                "reported job %s %s%s",
                job_id,
                entry.outcome,
                f" ({code})" if code else "",
                extra={"event": "job.reported", "job_id": job_id, "status": entry.outcome},
            )
        else:  # stale_epoch etc.: keep it, the next reconciliation reports it
            log.warning("report of job %s refused (%s); will retry", job_id, code)

    # -- after every reconnection -----------------------------------------------------------

    async def _reconcile(self) -> None:
        for entry in await self.journal.unfinished():
            if entry.stage is Stage.PRINTED:
                await self._report(entry.job_id)
            elif entry.stage is Stage.PRINTING:
                await self.journal.record(entry.job_id, Stage.PRINTED, "failed", INTERRUPTED)
                await self._report(entry.job_id)
            elif entry.stage is Stage.CLAIMED:  # claimed, not one byte sent: print it now
                await self._resume_claimed(await self.api.job(entry.job_id))
        for job in await self.api.jobs("sent"):
            if (
                job["claimed_by"] == self.creds.device_id
                and await self.journal.get(job["id"]) is None
            ):
                # Claimed before a crash, before `printing` was journaled: nothing was sent.
                await self.journal.record(job["id"], Stage.CLAIMED)
                await self._resume_claimed(job)
        for job in await self.api.jobs("pending"):
            self._enqueue("job", job)
        await self.journal.prune()

    async def _resume_claimed(self, job: dict[str, Any]) -> None:
        if job["status"] != "sent" or job["claimed_by"] != self.creds.device_id:
            await self.journal.record(job["id"], Stage.REPORTED)  # settled elsewhere meanwhile
            return
        await self._print_and_report(job)

    # -- the printer ------------------------------------------------------------------------

    async def _printer_ready(self) -> bool:
        await self._refresh_printer_state()
        return self.printer_state in (PrinterState.ONLINE, PrinterState.PAPER_LOW)

    async def _refresh_printer_state(self) -> None:
        state = await self.transport.status()
        changed = state != self.printer_state
        if changed or self.transport.status_cause != self._printer_cause:
            self.printer_state, self._printer_cause = state, self.transport.status_cause
            log.info("printer %s: %s", self.transport.url, self._printer_described())
            self._changed()
        if changed:
            with contextlib.suppress(Exception):
                await self.connection.emit(
                    "printer.status", {"printer": self.transport.url, "state": state.value}
                )

    async def _watch_printer(self) -> None:
        while True:
            await asyncio.sleep(self.printer_poll_s)
            try:
                await self._refresh_printer_state()
            except Exception:
                log.exception("printer status check failed")
                continue
            if self._held and self.printer_state in (PrinterState.ONLINE, PrinterState.PAPER_LOW):
                held, self._held = list(self._held.values()), {}
                for job in held:
                    self._enqueue("job", job)

    @property
    def printer_cause(self) -> str | None:
        return self._printer_cause

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change(self)
            except Exception:  # the status file is for people; never stop printing for it
                log.exception("cannot record the device's status")

    def _printer_described(self) -> str:
        cause = f" ({self._printer_cause})" if self._printer_cause else ""
        return f"{self.printer_state}{cause}"

    def _epoch(self) -> int:
        if self.connection.epoch is None:
            raise NotOwner("no epoch yet")
        return self.connection.epoch


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
