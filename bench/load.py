"""The load: POS clients submitting over HTTP, and bench bridges that claim and report over the
socket, with everything they see recorded in one Tracker (one clock: ``time.perf_counter``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.server import Backend
from bench.sio import ConnectRefused, Disconnected, SioClient
from bench.tickets import KITCHEN_TICKET
from bench.world import PairedDevice, bearer

CALL_TIMEOUT_S = 10.0
MAX_CALL_ATTEMPTS = 30
POS_TIMEOUT_S = 120.0
DLE_EOT_1 = b"\x10\x04\x01"  # real-time printer status request
PRINTER_OK = b"\x12"  # online, no error


def now() -> float:
    return time.perf_counter()


@dataclass
class Tracker:
    submitted_at: dict[str, float] = field(default_factory=dict)  # job id -> submit start
    accepted_at: dict[str, float] = field(default_factory=dict)  # job id -> 201 received
    printed_at: dict[str, float] = field(default_factory=dict)  # job id -> printed ack
    prints: Counter[str] = field(default_factory=Counter)  # winning claims acked, per job
    reports: Counter[str] = field(default_factory=Counter)  # printed reports acked, per job
    deliveries: int = 0  # print_job.new received
    delivered: set[str] = field(default_factory=set)  # job ids some bridge got print_job.new for
    duplicate_deliveries: int = 0  # print_job.new for a job the bridge already had
    http_status: Counter[int] = field(default_factory=Counter)
    http_errors: list[str] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    ack_errors: Counter[str] = field(default_factory=Counter)  # "claim:already_claimed", ...
    printed_event: asyncio.Event = field(default_factory=asyncio.Event)

    def submitted(self, job_id: str, started: float, accepted: float) -> None:
        self.submitted_at[job_id] = started
        self.accepted_at[job_id] = accepted

    def printed(self, job_id: str) -> None:
        self.reports[job_id] += 1
        self.printed_at.setdefault(job_id, now())
        self.printed_event.set()

    def outstanding(self) -> int:
        return sum(1 for j in self.submitted_at if j not in self.printed_at)

    async def wait_drained(
        self,
        stall_s: float,
        expected: set[str] | None = None,
        cap_s: float = 300.0,
        recovering: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until every job submitted (or in ``expected``) was reported printed; give up
        once nothing was printed for ``stall_s`` (an overloaded server may take a while to
        work off its queue, but it must keep making progress) while nothing is
        ``recovering`` (a bridge backing off before it reconnects)."""
        deadline = now() + cap_s
        last_count, last_progress = len(self.printed_at), now()
        while True:
            want = expected if expected is not None else self.submitted_at.keys()
            if all(j in self.printed_at for j in want):
                return True
            if len(self.printed_at) != last_count or (recovering is not None and recovering()):
                last_count, last_progress = len(self.printed_at), now()
            left = min(deadline, last_progress + stall_s) - now()
            if left <= 0:
                return False
            self.printed_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.printed_event.wait(), min(left, 0.5))


class LoopbackPrinter:
    """A printer on loopback TCP that swallows bytes and answers DLE EOT 1 with "online"."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.bytes_received = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        carry = b""
        try:
            while chunk := await reader.read(65536):
                self.bytes_received += len(chunk)
                data = carry + chunk
                asks = data.count(DLE_EOT_1)
                if asks:
                    writer.write(PRINTER_OK * asks)
                carry = data[-2:] if not data.endswith(DLE_EOT_1) else b""
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class PrinterLink:
    """One bridge's connection to the loopback printer: write the ticket, then ask for the
    status, and count it printed once the printer answers."""

    def __init__(self, port: int, ticket: bytes) -> None:
        self.port = port
        self.ticket = ticket
        self.lock = asyncio.Lock()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def print(self) -> None:
        async with self.lock:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(self.ticket + DLE_EOT_1)
            await self.writer.drain()
            status = await self.reader.readexactly(1)
            if status != PRINTER_OK:
                raise RuntimeError(f"printer status {status!r}")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class BenchBridge:
    """A station (or location) bridge: becomes owner, claims every new job over the socket,
    reports it printed. Optionally heartbeats, and reconnects like the real agent."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        device: PairedDevice,
        tracker: Tracker,
        *,
        printer: PrinterLink | None = None,
        heartbeat_s: float | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.device = device
        self.tracker = tracker
        self.printer = printer
        self.heartbeat_s = heartbeat_s
        self.client: SioClient | None = None
        self.epoch: int | None = None
        self.is_owner = asyncio.Event()
        self.owner_at: float | None = None  # when this bridge last became owner
        self.owner_count = 0
        self.superseded = 0
        self.handled: set[str] = set()
        self.waiting: list[str] = []  # jobs that arrived before bridge.owner
        self.uncertain: set[str] = set()  # claims whose ack was lost to a disconnect
        self.unreported: set[str] = set()  # printed, but the report's ack was lost
        self.tasks: set[asyncio.Task[None]] = set()
        self.heartbeats_ok = 0
        self.heartbeats_not_owner = 0
        self.heartbeat_errors = 0
        self.heartbeat_timeouts = 0
        self.heartbeat_samples: list[tuple[float, float]] = []  # (sent at, ack after s)
        self.connect_attempts = 0
        self.failed_connects = 0
        self.refused: str | None = None
        self._attempt = 0
        self._stopping = asyncio.Event()

    # -- connection -------------------------------------------------------------------------

    async def connect(self, timeout_s: float = CALL_TIMEOUT_S) -> None:
        """One attempt: open the socket (ownership follows as ``bridge.owner``)."""
        self.connect_attempts += 1
        self.epoch = None
        self.is_owner.clear()
        client = SioClient(
            self.session, self.base_url, {"token": self.device.token}, self._on_event
        )
        self.client = client
        await client.connect(timeout_s)

    async def run_forever(self) -> None:
        """Stay connected; reconnect with the agent's backoff (full jitter, base 1 s). A bridge
        already connected (and heartbeating) is adopted as it is."""
        from bridge_agent.connection import backoff_delay

        adopted = self.client is not None and self.client.connected
        while not self._stopping.is_set():
            if adopted:
                adopted, hb = False, None
            else:
                try:
                    await self.connect()
                except ConnectRefused as exc:
                    self.failed_connects += 1
                    if exc.code in ("revoked", "unauthorized"):
                        self.refused = exc.code
                        return
                    hb = None
                except Exception:  # refused, reset, timed out: back off and try again
                    self.failed_connects += 1
                    hb = None
                else:
                    hb = self.start_heartbeats()
            if self.client is not None and self.client.connected:
                closed = asyncio.ensure_future(self.client.closed.wait())
                stopping = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
                for f in (closed, stopping):
                    f.cancel()
                if hb is not None:
                    hb.cancel()
                self.is_owner.clear()
                self.epoch = None
            if self._stopping.is_set():
                break
            delay = backoff_delay(self._attempt)
            self._attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def start_heartbeats(self) -> asyncio.Task[None] | None:
        if self.heartbeat_s is None:
            return None
        task = asyncio.create_task(self._heartbeats(self.heartbeat_s))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _heartbeats(self, interval_s: float) -> None:
        client = self.client
        assert client is not None
        # Spread the fleet's heartbeats over the interval, as bridges started at random times.
        await asyncio.sleep(random.uniform(0, interval_s))  # noqa: S311
        while not client.closed.is_set():
            started = now()
            try:
                ack = await client.call("heartbeat", timeout_s=CALL_TIMEOUT_S)
            except Disconnected:
                return
            except TimeoutError:  # half-open or hopelessly slow: the agent starts over
                self.heartbeat_errors += 1
                self.heartbeat_timeouts += 1
                await client.close()
                return
            self.heartbeat_samples.append((started, now() - started))
            if isinstance(ack, dict) and ack.get("owner") is True:
                self.heartbeats_ok += 1
            elif isinstance(ack, dict) and ack.get("owner") is False:
                self.heartbeats_not_owner += 1
            else:
                self.heartbeat_errors += 1
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        self._stopping.set()
        for task in list(self.tasks):
            task.cancel()
        if self.client is not None:
            await self.client.close()
        if self.printer is not None:
            await self.printer.close()

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, name: str, data: Any) -> None:
        if name == "print_job.new":
            self.tracker.deliveries += 1
            job_id = data["id"]
            self.tracker.delivered.add(job_id)
            if job_id in self.handled:
                self.tracker.duplicate_deliveries += 1
                return
            self.handled.add(job_id)
            if self.epoch is None:
                self.waiting.append(job_id)
            else:
                self._spawn(job_id, self.epoch)
        elif name == "bridge.owner":
            self.epoch = int(data["epoch"])
            self.owner_count += 1
            self.owner_at = now()
            self._attempt = 0  # the agent resets its backoff once owner
            self.is_owner.set()
            retry = [*self.waiting, *self.uncertain]
            self.waiting.clear()
            self.uncertain.clear()
            for job_id in retry:
                self._spawn(job_id, self.epoch)
            # Like the agent's journal: report what was printed but not confirmed.
            unreported, self.unreported = self.unreported, set()
            for job_id in unreported:
                self._spawn_report(job_id, self.epoch)
        elif name == "superseded":
            self.superseded += 1
            self.epoch = None
            self.is_owner.clear()

    def _spawn(self, job_id: str, epoch: int) -> None:
        task = asyncio.create_task(self._claim_and_print(job_id, epoch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call_until_answered(
        self, client: SioClient, event: str, data: dict[str, Any], what: str
    ) -> dict[str, Any] | None:
        """Call; on a timeout (an overloaded server, the socket still up) ask again: a repeated
        claim or report by the same device is answered as the first (the contract's recovery
        path). None once the socket is gone."""
        for _ in range(MAX_CALL_ATTEMPTS):
            try:
                ack: dict[str, Any] = await client.call(event, data, CALL_TIMEOUT_S)
                return ack
            except TimeoutError:
                self.tracker.ack_errors[f"{what}:timeout_retried"] += 1
            except Disconnected:
                return None
        return None

    async def _claim_and_print(self, job_id: str, epoch: int) -> None:
        client = self.client
        assert client is not None
        tracker = self.tracker
        claim = {"id": job_id, "epoch": epoch}
        ack = await self._call_until_answered(client, "print_job.claim", claim, "claim")
        if ack is None:
            self.uncertain.add(job_id)  # claimed or not: repeat the claim once owner again
            tracker.ack_errors["claim:no_ack"] += 1
            return
        if not ack.get("ok"):
            code = ack.get("error", {}).get("code", "?")
            tracker.ack_errors[f"claim:{code}"] += 1
            if code == "stale_epoch" and self.epoch is not None and self.epoch != epoch:
                # A new epoch came while this claim was in flight; its backlog may already
                # have offered the job again (and been ignored as handled): claim at it now.
                self._spawn(job_id, self.epoch)
            elif code in ("stale_epoch", "service_unavailable"):
                self.handled.discard(job_id)  # still pending: the next owner's backlog has it
            return
        tracker.prints[job_id] += 1  # this is where a real bridge prints
        if self.printer is not None:
            await self.printer.print()
        await self._report(client, job_id, epoch)

    def _spawn_report(self, job_id: str, epoch: int) -> None:
        assert self.client is not None
        task = asyncio.create_task(self._report(self.client, job_id, epoch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _report(self, client: SioClient, job_id: str, epoch: int) -> None:
        tracker = self.tracker
        report = {"id": job_id, "epoch": epoch, "status": "printed"}
        ack = await self._call_until_answered(client, "print_job.report", report, "report")
        if ack is None:
            tracker.ack_errors["report:no_ack"] += 1
            self.unreported.add(job_id)  # report again once owner again
            return
        if ack.get("ok"):
            tracker.printed(job_id)
        else:
            code = ack.get("error", {}).get("code", "?")
            tracker.ack_errors[f"report:{code}"] += 1
            if code == "stale_epoch" and self.epoch is not None and self.epoch != epoch:
                # The new owner's re-reports ran before this refusal came: report at it now,
                # as the agent does (its reconciliation is queued behind the job in hand).
                self._spawn_report(job_id, self.epoch)
            elif code in ("stale_epoch", "service_unavailable"):
                self.unreported.add(job_id)


class PosClient:
    """A till: one aiohttp session (keep-alive), one POS key, jobs for the given stations."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        stations: dict[str, str],
        tracker: Tracker,
        *,
        idempotency_keys: bool = False,
    ) -> None:
        self.url = f"{base_url}/v1/print-jobs"
        self.headers = {**bearer(secret), "Content-Type": "application/json"}
        self.tracker = tracker
        self.idempotency_keys = idempotency_keys
        # The bodies differ only by station: encode each once.
        self.bodies = {
            station_id: json.dumps(
                {"location_id": location_id, "station_id": station_id, "document": KITCHEN_TICKET}
            ).encode()
            for station_id, location_id in stations.items()
        }
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=POS_TIMEOUT_S),
            skip_auto_headers=("User-Agent",),
        )

    async def submit(self, station_id: str, started: float | None = None) -> str | None:
        """POST one job; the job id on 201, else None (counted in the tracker)."""
        t0 = now() if started is None else started
        headers = self.headers
        if self.idempotency_keys:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        tracker = self.tracker
        try:
            async with self.session.post(
                self.url, data=self.bodies[station_id], headers=headers
            ) as r:
                payload = await r.read()
                tracker.http_status[r.status] += 1
                if r.status != 201:
                    if len(tracker.http_errors) < 20:
                        tracker.http_errors.append(f"{r.status} {payload[:200]!r}")
                    return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            tracker.transport_errors[type(exc).__name__] += 1
            return None
        job_id: str = json.loads(payload)["id"]
        tracker.submitted(job_id, t0, now())
        return job_id

    async def close(self) -> None:
        await self.session.close()


@dataclass
class Verification:
    submitted: int
    printed_client: int
    db_status: dict[str, int]
    missing: int  # submitted but not printed in the database
    unknown: int  # printed in the database but never acknowledged to a POS
    double_prints: int  # jobs with more than one winning claim seen by bridges
    double_transitions: int  # jobs with more than one 'sent' or 'printed' event in the DB
    problems: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(backend: Backend, tracker: Tracker, tenant_id: str | None = None) -> Verification:
    """Every job a POS got 201 for is printed in the database, exactly once; nothing else.
    With ``tenant_id``, only that tenant's jobs are looked at (a shared database)."""
    where = f"tenant_id = {backend.uuid_sql(tenant_id)}" if tenant_id else "1 = 1"
    status_rows = await backend.query(
        f"SELECT status, count(*) FROM print_jobs WHERE {where} GROUP BY status"  # noqa: S608
    )
    db_status = {str(s): int(n) for s, n in status_rows}
    printed_rows = await backend.query(
        f"SELECT id FROM print_jobs WHERE {where} AND status = 'printed'"  # noqa: S608
    )
    db_printed = {uuid.UUID(str(r[0])).hex for r in printed_rows}
    submitted = {uuid.UUID(j).hex for j in tracker.submitted_at}
    doubles = await backend.query(
        "SELECT job_id, to_status, count(*) FROM job_events "  # noqa: S608
        f"WHERE {where} AND to_status IN ('sent', 'printed') "
        "GROUP BY job_id, to_status HAVING count(*) > 1"
    )
    double_prints = sum(1 for n in tracker.prints.values() if n > 1)
    missing = len(submitted - db_printed)
    unknown = len(db_printed - submitted)
    problems = []
    if missing:
        problems.append(f"{missing} submitted jobs are not printed in the database")
    warnings = []
    lost_answers = sum(tracker.transport_errors.values())
    if unknown and unknown <= lost_answers:
        # A POS gave up waiting (timeout) but the server made the job: not a broken guarantee.
        warnings.append(
            f"{unknown} printed jobs were made by requests whose answer the POS never got"
        )
    elif unknown:
        problems.append(f"{unknown} printed jobs were never acknowledged to a POS client")
    others = {s: n for s, n in db_status.items() if s != "printed"}
    if others:
        problems.append(f"jobs left in other statuses: {others}")
    if double_prints:
        problems.append(f"{double_prints} jobs were claimed successfully more than once")
    if doubles:
        problems.append(f"{len(doubles)} jobs have a repeated sent/printed transition")
    not_acked = len(submitted) - sum(1 for j in tracker.submitted_at if j in tracker.printed_at)
    if not_acked:
        never_delivered = sum(1 for j in tracker.submitted_at if j not in tracker.delivered)
        problems.append(
            f"{not_acked} submitted jobs never got a printed report acknowledged "
            f"({never_delivered} of them never reached a bridge as print_job.new)"
        )
    return Verification(
        submitted=len(submitted),
        printed_client=len(tracker.printed_at),
        db_status=db_status,
        missing=missing,
        unknown=unknown,
        double_prints=double_prints,
        double_transitions=len(doubles),
        problems=problems,
        warnings=warnings,
    )
