"""The loopback printer simulator itself: other tests trust it, so it gets its own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bridge_agent.transports import PrinterState, open_transport
from tests.bridge_agent.printer_sim import (
    PrinterSimulator,
    ThreadedPrinterSimulator,
    _StatusQueryFilter,
)

REPO = Path(__file__).resolve().parents[2]


def test_filter_removes_queries_split_across_reads() -> None:
    stream = b"\x1b@A\x10\x04\x01B\x10\x04\x04\x10\x04\x02"
    for size in (1, 2, 3, len(stream)):
        queries_filter = _StatusQueryFilter()
        data, queries = bytearray(), []
        for start in range(0, len(stream), size):
            chunk_data, chunk_queries = queries_filter.feed(stream[start : start + size])
            data += chunk_data
            queries += chunk_queries
        data += queries_filter.flush()
        assert (bytes(data), queries) == (b"\x1b@AB", [1, 4, 2])


def test_filter_keeps_dle_that_is_not_a_query() -> None:
    queries_filter = _StatusQueryFilter()
    assert queries_filter.feed(b"\x10\x05\x01\x10\x04\x09\x10\x04\x10\x04\x03") == (
        b"\x10\x05\x01\x10\x04\x09\x10\x04",
        [3],
    )
    assert queries_filter.feed(b"end\x10\x04") == (b"end", [])
    assert queries_filter.flush() == b"\x10\x04"


async def test_answers_each_query_with_one_byte_and_records_the_rest() -> None:
    async with PrinterSimulator(state=PrinterState.PAPER_OUT) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.write(b"\x1b@\x10\x04\x01hello\x10\x04\x04\x00")
        assert await reader.readexactly(2) == b"\x1a\x7e"
        writer.write_eof()
        assert await reader.read() == b""  # closes its side after the client's FIN
        writer.close()
        assert await sim.wait_for_jobs(1) == [b"\x1b@hello\x00"]
        assert sim.status_queries == [1, 4]


async def test_status_only_connections_are_not_jobs() -> None:
    async with PrinterSimulator() as sim:
        await open_transport(sim.url).status()
        await open_transport(sim.url).write(b"job")
        assert sim.jobs == [b"job"]
        assert sim.connections == 2


async def test_wait_for_bytes_times_out() -> None:
    async with PrinterSimulator() as sim:
        with pytest.raises(TimeoutError):
            await sim.wait_for_bytes(1, timeout=0.1)


async def test_paused_printer_stops_reading_but_still_answers_status() -> None:
    async with PrinterSimulator(buffer_bytes=100) as sim:
        sim.paused = True
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.write(b"\x10\x04\x02")
        assert await reader.readexactly(1) == b"\x12"
        writer.write(b"x" * 1_000_000)
        await asyncio.sleep(0.2)
        assert len(sim.received) < 10_000
        sim.paused = False
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        assert await sim.wait_for_jobs(1) == [b"x" * 1_000_000]


async def test_stop_refuses_connections_and_start_comes_back_on_the_same_port() -> None:
    sim = PrinterSimulator()
    await sim.start()
    url = sim.url
    await sim.stop()
    assert not sim.running
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", sim.port)
    await sim.start()
    assert sim.url == url
    await open_transport(url).write(b"back")
    await sim.stop()
    assert sim.jobs == [b"back"]


async def test_threaded_simulator_serves_synchronous_callers() -> None:
    with ThreadedPrinterSimulator(state=PrinterState.COVER_OPEN) as sim:
        transport = open_transport(sim.url)
        assert await transport.status() is PrinterState.COVER_OPEN
        sim.set_state(PrinterState.ONLINE)
        await asyncio.sleep(0.01)
        assert await transport.status() is PrinterState.ONLINE
        await transport.write(b"threaded")
        assert await asyncio.to_thread(sim.wait_for_jobs, 1) == [b"threaded"]
        assert sim.received == b"threaded"
        await asyncio.to_thread(sim.stop)
        assert await transport.status() is PrinterState.OFFLINE
        await asyncio.to_thread(sim.start)
        assert await transport.status() is PrinterState.ONLINE


async def test_command_line_simulator_saves_jobs(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bridge_agent.printer_sim",
        "--port",
        "0",
        "--state",
        "paper_low",
        "--jobs-dir",
        str(tmp_path),
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        banner = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = banner.split()[-1]
        assert url.startswith("tcp://127.0.0.1:")
        transport = open_transport(url)
        assert await transport.status() is PrinterState.PAPER_LOW
        await transport.write(b"from another process")
        assert (await asyncio.wait_for(process.stdout.readline(), 5)).startswith(b"job of 20")
        assert (tmp_path / "job-0001.bin").read_bytes() == b"from another process"
    finally:
        process.terminate()
        await process.wait()
