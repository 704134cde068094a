"""``run``: every device of the state dir served by one process, each on its own printer.

Each device gets its own task with its own BridgeRunner (socket, owner epoch, journal, printer
transport), its own worker threads (bridge_agent.workers) and its name on every log line
(bridge_agent.device_log). Nothing is shared between devices but the event loop, whose work
per job is short (I/O waits and timeouts); so a printer that refuses, never answers or stops
reading delays only its own device's tickets.

A device the server revokes or unpairs stops alone and its credentials are forgotten; ``serve``
returns once no device is left. An unexpected error in one device restarts that device after
``RESTART_AFTER_S``, the others carry on.
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

RESTART_AFTER_S = 5.0
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


async def serve(devices: list[ServedDevice], options: RunnerOptions) -> list[str]:
    """Until every device has been revoked or unpaired (returns their reasons) or cancelled."""
    tasks = [
        asyncio.create_task(_serve_device(d, options), name=f"device {label(d.device)}")
        for d in devices
    ]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await _stop_all(tasks)


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

    def update(self, runner: BridgeRunner) -> None:
        self.connection = runner.connection.state.value
        self.printer_state = runner.printer_state.value if runner.printer_state else None
        self.printer_cause = runner.printer_cause
        if runner.last_job is not None:
            self.last_job = runner.last_job
        self.write()

    def write(self) -> None:
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
