"""``run``: every device of the state dir served by one process, each on its own printer.

Each device gets its own task with its own BridgeRunner (socket, owner epoch, journal, printer
transport), its own worker threads (bridge_agent.workers) and its name on every log line
(bridge_agent.device_log). Nothing is shared between devices but the event loop, whose work
per job is short (I/O waits and timeouts); so a printer that refuses, never answers or stops
reading delays only its own device's tickets.

A device the server revokes or unpairs stops alone and its credentials are forgotten; ``serve``
returns once no device is left. An unexpected error in one device restarts that device after
``RESTART_AFTER_S``, the others carry on. Every ``WATCH_S`` ``serve`` looks at the state dir
(shop.DeviceWatcher): a device paired meanwhile starts like the others, one whose directory was
removed by hand stops. Polling, not file-system events: it needs nothing beyond the standard
library on Linux, macOS and Windows, and sees a device however it was paired.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge_agent import shop
from bridge_agent.device_log import CURRENT_DEVICE, DeviceLabel
from bridge_agent.runner import BridgeRunner
from bridge_agent.shop import PairedDevice
from bridge_agent.spool import Journal
from bridge_agent.transports import open_transport, parse_printer_url
from bridge_agent.workers import DEVICE_THREADS, DaemonThreadPool

log = logging.getLogger(__name__)
# Which devices the agent serves is said on the agent's own logger, as its other start lines.
agent_log = logging.getLogger("printrelay-bridge")

RESTART_AFTER_S = 5.0
WATCH_S = 2.0  # how often the state dir is looked at for devices paired or removed meanwhile
STOP_RETRY_S = 1.0  # how often a device still stopping is cancelled again
# What the server says when it will never take this device's token again.
REVOKED_REASONS = frozenset({"revoked", "unpaired", "unauthorized"})


@dataclass(frozen=True)
class ServedDevice:
    device: PairedDevice
    printer: str  # the stored printer, or run's --printer for a device paired without one


@dataclass(frozen=True)
class RunnerOptions:
    paper_width_mm: int
    printer_poll_s: float
    heartbeat_interval_s: float | None


def plan(
    devices: list[PairedDevice], fallback_printer: str | None
) -> tuple[list[ServedDevice], dict[str, str]]:
    """Which printer each device prints on: its own (from ``pair --printer``), else run's
    ``--printer``. Also, by device id, why a device cannot be served (no printer, a bad URL)."""
    served: list[ServedDevice] = []
    unserved: dict[str, str] = {}
    for device in devices:
        printer = device.creds.printer or fallback_printer
        name = f"{device.creds.name} ({device.creds.device_id})"
        if printer is None:
            unserved[device.creds.device_id] = (
                f"{name} has no printer: pair it again with --printer, or give run --printer"
            )
            continue
        try:
            parse_printer_url(printer)
        except ValueError as exc:
            unserved[device.creds.device_id] = f"{name}: {exc}"
            continue
        served.append(ServedDevice(device, printer))
    return served, unserved


def label(device: PairedDevice) -> DeviceLabel:
    return DeviceLabel(device.creds.device_id, device.creds.name)


def admit(
    devices: list[PairedDevice], fallback_printer: str | None
) -> tuple[list[ServedDevice], dict[str, str]]:
    """``plan``, and say it: the log names each device to be served and each that cannot be,
    whose status file then says why."""
    served, unserved = plan(devices, fallback_printer)
    for device in devices:
        problem = unserved.get(device.creds.device_id)
        if problem:
            agent_log.error("not served: %s", problem)
            write_problem(device, problem)
    for s in served:
        creds = s.device.creds
        agent_log.info(
            "bridge %s (%s) → %s, printer %s", creds.name, creds.device_id, creds.server, s.printer
        )
    return served, unserved


async def serve(
    devices: list[ServedDevice],
    options: RunnerOptions,
    watcher: shop.DeviceWatcher | None = None,
    fallback_printer: str | None = None,
) -> list[str]:
    """Until every device has been revoked, unpaired or removed (returns why each stopped) or
    cancelled. With a ``watcher``, devices paired meanwhile are served too (``admit``, with
    ``fallback_printer`` for those paired without a printer)."""
    tasks: dict[str, asyncio.Task[str]] = {}
    names: dict[str, str] = {}
    reasons: list[str] = []

    def start(served: ServedDevice) -> None:
        device_id = served.device.creds.device_id
        names[device_id] = served.device.creds.name
        tasks[device_id] = asyncio.create_task(
            _serve_device(served, options), name=f"device {label(served.device)}"
        )

    for served in devices:
        start(served)
    try:
        while tasks:
            await asyncio.wait(tasks.values(), timeout=WATCH_S, return_when=asyncio.FIRST_COMPLETED)
            for device_id, task in list(tasks.items()):
                if task.done():
                    del tasks[device_id]
                    reasons.append(_outcome(task))
            if watcher is None:
                continue
            try:
                new, gone = await asyncio.to_thread(watcher.poll)
            except Exception:  # a look that fails must not stop the devices already served
                log.exception("looking at the state dir failed; looking again in %g s", WATCH_S)
                continue
            for device_id in gone & tasks.keys():
                log.warning(
                    "device %s (%s): its credentials file is gone; stopped serving it",
                    names[device_id],
                    device_id,
                    extra={"device_id": device_id, "event": "device.removed"},
                )
                await _stop_all([tasks.pop(device_id)])
                reasons.append("removed")
            for served in admit(new, fallback_printer)[0]:
                start(served)
        return reasons
    finally:
        await _stop_all(list(tasks.values()))


def _outcome(task: asyncio.Task[str]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    if error is not None:  # _serve_device restarts on errors; this one escaped its cleanup
        log.error("%s stopped by an error", task.get_name(), exc_info=error)
        return "error"
    return task.result()


async def _stop_all(tasks: list[asyncio.Task[str]]) -> None:
    """Cancel every device's task and wait until each has closed its socket, journal and
    sessions. A task already cancelled (by the gather above) is left to its cleanup: a second
    cancel would cut it short. As in cli._until_stopped, a device still stopping after
    ``STOP_RETRY_S`` is cancelled again, and so is this task: that repeat is passed on to the
    devices, never cutting their cleanup short by ending this task first."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        if not task.cancelling():
            task.cancel()
    while pending:
        try:
            _, pending = await asyncio.wait(pending, timeout=STOP_RETRY_S)
        except asyncio.CancelledError:
            continue
        for task in pending:
            task.cancel()


async def _serve_device(served: ServedDevice, options: RunnerOptions) -> str:
    device = served.device
    CURRENT_DEVICE.set(label(device))  # this task's context: its sub-tasks and threads inherit it
    threads = DaemonThreadPool(f"device-{device.creds.device_id[:8]}")
    DEVICE_THREADS.set(threads)
    status = StatusFile(device, served.printer)
    try:
        while True:
            try:
                reason = await _run_once(served, options, status)
            except Exception:
                log.exception("device stopped by an error; restarting it in %g s", RESTART_AFTER_S)
                status.problem = "stopped by an error; restarting"
                status.write()
                await asyncio.sleep(RESTART_AFTER_S)
                continue
            shop.forget_device(device)
            log.error(
                "the server no longer accepts device %s (%s); its token is forgotten: pair it "
                "again to print there",
                device.creds.name,
                reason,
                extra={"event": "device.stopped"},
            )
            return reason
    finally:
        threads.shutdown(wait=False, cancel_futures=True)


async def _run_once(served: ServedDevice, options: RunnerOptions, status: StatusFile) -> str:
    device = served.device
    transport = open_transport(served.printer)
    journal = Journal(device.directory)
    status.problem = None
    try:
        async with BridgeRunner(
            device.creds,
            transport,
            journal,
            paper_width_mm=options.paper_width_mm,
            printer_poll_s=options.printer_poll_s,
            heartbeat_interval_s=options.heartbeat_interval_s,
            on_change=status.update,
        ) as runner:
            status.update(runner)
            reason = await runner.run()
    finally:
        journal.close()
    if reason in REVOKED_REASONS:
        return reason
    raise RuntimeError(f"the connection ended without a reason ({reason!r})")


class StatusFile:
    """The device's ``status.json``, rewritten on every change the runner reports."""

    def __init__(self, device: PairedDevice, printer: str | None) -> None:
        self.device = device
        self.printer = printer
        self.problem: str | None = None
        previous = shop.read_status(device.directory) or {}
        self.last_job: Any = previous.get("last_job")  # kept across restarts
        self.connection = "disconnected"
        self.printer_state: str | None = None
        self.printer_cause: str | None = None
        self._write_failed = False  # said once until a write succeeds again

    def update(self, runner: BridgeRunner) -> None:
        self.connection = runner.connection.state.value
        self.printer_state = runner.printer_state.value if runner.printer_state else None
        self.printer_cause = runner.printer_cause
        if runner.last_job is not None:
            self.last_job = runner.last_job
        self.write()

    def write(self) -> None:
        try:
            self._write()
        except OSError as exc:  # what is seen now, not worth stopping a device for
            if not self._write_failed:
                log.warning("cannot write %s: %s", self.device.directory / shop.STATUS_FILE, exc)
            self._write_failed = True
        else:
            self._write_failed = False

    def _write(self) -> None:
        shop.write_status(
            self.device.directory,
            {
                "pid": os.getpid(),
                "device_id": self.device.creds.device_id,
                "printer": self.printer,
                "connection": self.connection,
                "printer_state": self.printer_state,
                "printer_cause": self.printer_cause,
                "last_job": self.last_job,
                "problem": self.problem,
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )


def write_problem(device: PairedDevice, problem: str) -> None:
    """For a device this agent cannot serve (no printer, a bad printer URL): ``status`` says so."""
    status = StatusFile(device, device.creds.printer)
    status.problem = problem
    status.connection = "not served"
    status.write()
