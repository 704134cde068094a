"""A real TCP receipt printer on loopback, for integration and end-to-end tests.

It speaks raw port-9100 printing the way an Epson TM printer does: whatever arrives is job data,
except the real-time status queries ``DLE EOT n`` (10 04 n, n = 1..4), which it answers at once
with one status byte shaped by ``state`` and leaves out of the recorded data. Like a real
printer it closes its side when the client half-closes (end of job).

    async with PrinterSimulator() as sim:
        transport = open_transport(sim.url)
        await transport.write(b"\\x1b@hello")
        assert sim.jobs == [b"\\x1b@hello"]
        sim.state = PrinterState.PAPER_OUT      # status answers now say "paper end"
        await sim.stop()                        # printer switched off: connections refused
        await sim.start()                       # back on the same port

``received`` grows as bytes arrive; ``jobs`` gets an entry when a connection that carried data
ends. ``state`` only shapes the answers (a real printer keeps buffering when out of paper), and
job bytes that happen to contain 10 04 1..4 are taken as queries, as a real TM printer would.
Also: ``paused = True`` models a printer that stopped taking data (its buffer full): it reads
at most ``buffer_bytes`` more per connection, then stops reading, so senders stall.
``answers_status = False`` models a printer without a back channel (queries are swallowed).
``reset_after_bytes = N`` models one that crashes mid-job: it reads N bytes of each connection,
then resets it (RST).
``ThreadedPrinterSimulator`` runs one in a background thread for synchronous code, and
``python -m tests.bridge_agent.printer_sim --port 9100`` runs one standalone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

from bridge_agent.transports import PrinterState

READ_CHUNK_BYTES = 4096
DEFAULT_BUFFER_BYTES = 4096  # what a paused printer still accepts per connection
SOCKET_RECEIVE_BUFFER_BYTES = 64 * 1024  # small, like a printer's, so a paused sim stalls soon
DLE, EOT = 0x10, 0x04
QUERIES = (1, 2, 3, 4)

# The answer to DLE EOT n for each state, bit for bit as Epson documents it (written out here,
# independently of the agent's decoder, so a shared mistake cannot hide). 0x12 = fixed bits only.
_ONLINE = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}
STATUS_ANSWERS: dict[PrinterState, dict[int, int]] = {
    PrinterState.ONLINE: _ONLINE,
    # roll near-end sensor (bits 2-3); still online
    PrinterState.PAPER_LOW: {**_ONLINE, 4: 0x1E},
    # offline (n1 bit 3), stopped by paper end (n2 bit 5), near-end + end sensors (n4 0x0C, 0x60)
    PrinterState.PAPER_OUT: {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E},
    # offline, cover open (n2 bit 2)
    PrinterState.COVER_OPEN: {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    # offline with no cause given (e.g. waiting for online recovery)
    PrinterState.OFFLINE: {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    # offline, error occurred (n2 bit 6), unrecoverable error (n3 bit 5)
    PrinterState.ERROR: {1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12},
}


class _StatusQueryFilter:
    """Splits a byte stream into job data and DLE EOT queries, across read boundaries."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> tuple[bytes, list[int]]:
        buffer = self._held + chunk
        data = bytearray()
        queries: list[int] = []
        index = 0
        while index < len(buffer):
            if buffer[index] == DLE:
                if index + 1 == len(buffer) or (
                    buffer[index + 1] == EOT and index + 2 == len(buffer)
                ):
                    break  # maybe the start of a query: wait for the next chunk
                if buffer[index + 1] == EOT and buffer[index + 2] in QUERIES:
                    queries.append(buffer[index + 2])
                    index += 3
                    continue
            data.append(buffer[index])
            index += 1
        self._held = buffer[index:]
        return bytes(data), queries

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held


class PrinterSimulator:
    """An Epson-like network printer listening on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: PrinterState = PrinterState.ONLINE,
        answers_status: bool = True,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        on_job: Callable[[bytes], None] | None = None,
        reset_after_bytes: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.state = state
        self.answers_status = answers_status
        self.buffer_bytes = buffer_bytes
        self.on_job = on_job
        self.reset_after_bytes = reset_after_bytes
        self.jobs: list[bytes] = []  # each finished connection's data, if any, queries removed
        self.status_queries: list[int] = []  # every n of DLE EOT n asked, answered or not
        self.connections = 0  # accepted so far, jobs and status checks alike
        self.peak_connections = 0  # most open at once (a careful client never holds two)
        self._received = bytearray()
        self._raw_received = bytearray()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()
        self._resumed = asyncio.Event()
        self._resumed.set()

    # -- what the printer got ---------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    @property
    def received(self) -> bytes:
        """All job data so far (also of connections still open), queries removed."""
        return bytes(self._received)

    @property
    def raw_received(self) -> bytes:
        """Every byte received, queries included."""
        return bytes(self._raw_received)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    @paused.setter
    def paused(self, value: bool) -> None:
        if value:
            self._resumed.clear()
        else:
            self._resumed.set()

    def clear(self) -> None:
        """Forget everything received so far."""
        self.jobs.clear()
        self.status_queries.clear()
        self._received.clear()
        self._raw_received.clear()

    async def wait_for_bytes(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (a test wait needs a bound)
    ) -> bytes:
        """``received`` once it holds at least ``count`` bytes; TimeoutError otherwise."""
        await self._wait_until(lambda: len(self._received) >= count, timeout)
        return self.received

    async def wait_for_jobs(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (a test wait needs a bound)
    ) -> list[bytes]:
        """``jobs`` once at least ``count`` connections with data have finished."""
        await self._wait_until(lambda: len(self.jobs) >= count, timeout)
        return list(self.jobs)

    # -- power ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (again); after a ``stop()`` it comes back on the same port."""
        if self._server is not None:
            return
        listener = _listening_socket(self.host, self.port)
        self.port = listener.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=listener)

    async def stop(self) -> None:
        """Switch off: stop listening and drop every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for handler in list(self._handlers):
            handler.cancel()  # a paused connection waits on the resume event, not the socket
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5.0)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- one connection ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        self.peak_connections = max(self.peak_connections, len(self._writers))
        job = bytearray()
        queries = _StatusQueryFilter()
        read_while_paused = taken = 0
        try:
            while True:
                if self.paused and read_while_paused >= self.buffer_bytes:
                    await self._resumed.wait()
                if not self.paused:
                    read_while_paused = 0
                limit = READ_CHUNK_BYTES
                if self.reset_after_bytes is not None:
                    limit = min(limit, self.reset_after_bytes - taken)
                    if limit <= 0:
                        _reset(writer)
                        break
                chunk = await reader.read(limit)
                if not chunk:
                    break
                taken += len(chunk)
                if self.paused:
                    read_while_paused += len(chunk)
                data, asked = queries.feed(chunk)
                self._raw_received += chunk
                for query in asked:
                    self.status_queries.append(query)
                    if self.answers_status:
                        writer.write(bytes([STATUS_ANSWERS[self.state][query]]))
                job += data
                self._received += data
                await self._notify()
        except ConnectionError:
            pass
        finally:
            leftover = queries.flush()
            job += leftover
            self._received += leftover
            if job:
                self.jobs.append(bytes(job))
                if self.on_job is not None:
                    self.on_job(bytes(job))
            writer.close()
            self._writers.discard(writer)
            self._handlers.discard(task)
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_until(self, condition: Callable[[], bool], limit_s: float) -> None:
        async with asyncio.timeout(limit_s), self._changed:
            await self._changed.wait_for(condition)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a reset (RST), as a crashing printer does, not a clean FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_RECEIVE_BUFFER_BYTES)
        listener.bind((host, port))
        listener.listen(16)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener


T = TypeVar("T")


class ThreadedPrinterSimulator:
    """A ``PrinterSimulator`` on its own event loop in a daemon thread, for synchronous code.

    with ThreadedPrinterSimulator() as sim:
        run_agent_process(printer=sim.url)
        sim.wait_for_bytes(10)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="printer-sim", daemon=True
        )
        self._thread.start()
        self.sim: PrinterSimulator = self._call(_make_simulator(host, port, options))

    @property
    def url(self) -> str:
        return self.sim.url

    @property
    def port(self) -> int:
        return self.sim.port

    @property
    def received(self) -> bytes:
        return self._call(_read(lambda: self.sim.received))

    @property
    def jobs(self) -> list[bytes]:
        return self._call(_read(lambda: list(self.sim.jobs)))

    def set_state(self, state: PrinterState) -> None:
        self._loop.call_soon_threadsafe(setattr, self.sim, "state", state)

    def start(self) -> None:
        self._call(self.sim.start())

    def stop(self) -> None:
        self._call(self.sim.stop())

    def wait_for_bytes(self, count: int, timeout: float = 5.0) -> bytes:
        return self._call(self.sim.wait_for_bytes(count, timeout))

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        return self._call(self.sim.wait_for_jobs(count, timeout))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._call(self.sim.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30.0)


async def _make_simulator(host: str, port: int, options: dict[str, Any]) -> PrinterSimulator:
    sim = PrinterSimulator(host, port, **options)
    await sim.start()
    return sim


async def _read(getter: Callable[[], T]) -> T:
    return getter()


def main(argv: list[str] | None = None) -> int:
    """Run a simulator until interrupted; each finished job is reported (and saved if asked)."""
    parser = argparse.ArgumentParser(prog="python -m tests.bridge_agent.printer_sim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--state", type=PrinterState, default=PrinterState.ONLINE, choices=list(PrinterState)
    )
    parser.add_argument("--no-status", action="store_true", help="never answer DLE EOT")
    parser.add_argument("--jobs-dir", type=Path, help="save each job as job-0001.bin, …")
    args = parser.parse_args(argv)

    def save(job: bytes) -> None:
        if args.jobs_dir:
            args.jobs_dir.mkdir(parents=True, exist_ok=True)
            saved = len(list(args.jobs_dir.glob("job-*.bin")))
            (args.jobs_dir / f"job-{saved + 1:04d}.bin").write_bytes(job)
        print(f"job of {len(job)} bytes", flush=True)  # after saving: readers may look at once

    async def serve() -> None:
        sim = PrinterSimulator(
            args.host, args.port, state=args.state, answers_status=not args.no_status, on_job=save
        )
        async with sim:
            print(f"printer simulator listening on {sim.url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
