"""Raw TCP printers (port 9100, "JetDirect"), in plain asyncio.

Connection policy: a fresh connection per operation (one job, or one status check), held only
while that operation runs and guarded by the printer's lock. Most network printers serve one
connection at a time, so a connection held between jobs would lock out every other client of the
printer (another bridge, a back-office PC); a fresh connection also makes reconnecting after a
power cycle a non-event. The cost is one TCP handshake per job on a LAN.

End of a job: after the last byte we ask ``DLE EOT 1``, half-close (FIN) and wait up to
``EOF_WAIT_S`` for the printer to close its side, as CUPS's socket backend does. Bytes in the
kernel are not bytes in the printer: a printer that took 128 of 430 bytes and reset the
connection must not count as printed. The printer answers the query only once it has read every
byte before it, so its answer confirms the whole job; a reset or broken pipe before that answer
fails the job. A clean close (FIN) also confirms it for printers without a back channel (a peer
that closes with unread data resets instead). A printer that neither answers nor closes within
``EOF_WAIT_S`` gave no sign of loss (a slow printer still reading a long job): the job counts
as printed.

Status: ``DLE EOT 1, 2, 4`` on a short-lived connection, one byte each (escpos_status). A printer
that accepts the connection but does not answer within ``STATUS_REPLY_TIMEOUT_S`` is reported
``online``: it is reachable, and print servers and cheap printers without a back channel never
answer. Refused, unreachable or timed-out connections are ``offline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging

from bridge_agent.transports.base import PrinterState, TransportError, device_lock
from bridge_agent.transports.causes import describe_os_error, reported_cause
from bridge_agent.transports.escpos_status import (
    STATUS_QUERIES,
    StatusQuery,
    decode_answers,
    is_status_byte,
    query_bytes,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 9100
CONNECT_TIMEOUT_S = 3.0
# A job fails when the printer accepts no bytes for this long (its buffer stays full: paper out,
# cover open, jammed). Per chunk rather than per job, so long jobs on slow printers still finish.
WRITE_STALL_TIMEOUT_S = 10.0
WRITE_CHUNK_BYTES = 4096
STATUS_REPLY_TIMEOUT_S = 1.0
EOF_WAIT_S = 2.0
CLOSE_TIMEOUT_S = 1.0


class TcpTransport:
    """One network printer at ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        url: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        write_stall_timeout_s: float = WRITE_STALL_TIMEOUT_S,
        status_reply_timeout_s: float = STATUS_REPLY_TIMEOUT_S,
        eof_wait_s: float = EOF_WAIT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.url = url or f"tcp://{_host_for_url(host)}:{port}"
        self.connect_timeout_s = connect_timeout_s
        self.write_stall_timeout_s = write_stall_timeout_s
        self.status_reply_timeout_s = status_reply_timeout_s
        self.eof_wait_s = eof_wait_s
        self.status_cause: str | None = None

    @property
    def _lock(self) -> asyncio.Lock:
        return device_lock(f"tcp:{self.host}:{self.port}")

    async def status(self) -> PrinterState:
        async with self._lock:
            try:
                reader, writer = await self._connect()
            except TransportError as exc:
                log.debug("%s", exc)
                self.status_cause = exc.cause
                return PrinterState.OFFLINE
            try:
                answers = await self._ask_status(reader, writer)
            except (OSError, TimeoutError) as exc:
                log.debug("printer %s dropped the status query: %s", self.url, exc)
                self.status_cause = f"the printer dropped the status query: {_why(exc)}"
                return PrinterState.OFFLINE
            finally:
                await self._close(writer)
        if not answers:
            log.debug("printer %s does not answer DLE EOT; reachable, so online", self.url)
        state = decode_answers(answers)
        self.status_cause = reported_cause(state)
        return state

    async def write(self, data: bytes) -> None:
        async with self._lock:
            reader, writer = await self._connect()
            try:
                await self._send(writer, data + query_bytes(StatusQuery.PRINTER))
                writer.write_eof()
                await self._wait_for_confirmation(reader)
            except TimeoutError as exc:
                raise TransportError(
                    f"printer {self.url} accepted no data for {self.write_stall_timeout_s:g} s",
                    "the printer stopped taking data: paper out, cover open, jammed?",
                ) from exc
            except OSError as exc:  # reset or broken pipe before the printer confirmed the job
                cause = _why(exc)
                raise TransportError(
                    f"printer {self.url}: {cause} before it confirmed the job "
                    f"({len(data)} bytes sent); the ticket may be incomplete",
                    cause,
                ) from exc
            finally:
                await self._close(writer)

    async def close(self) -> None:
        """Nothing to release: no connection outlives an operation."""

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as exc:
            cause = (
                f"no answer to the connection within {self.connect_timeout_s:g} s: "
                "wrong address, or the printer is off the network?"
            )
            raise TransportError(f"printer {self.url} unreachable: {cause}", cause) from exc
        except OSError as exc:
            cause = describe_os_error(exc)
            raise TransportError(f"printer {self.url} unreachable: {cause}", cause) from exc
        # With a zero high-water mark drain() returns only once asyncio's own buffer is empty,
        # i.e. every byte written so far is in the kernel's socket buffer.
        writer.transport.set_write_buffer_limits(high=0)
        return reader, writer

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), WRITE_CHUNK_BYTES):
            writer.write(view[start : start + WRITE_CHUNK_BYTES])
            async with asyncio.timeout(self.write_stall_timeout_s):
                await writer.drain()

    async def _wait_for_confirmation(self, reader: asyncio.StreamReader) -> None:
        """Read until the printer closes; raise OSError on a reset before it confirmed the job.

        Confirmed: a status byte arrived (the answer to the query after the job), or the
        printer closed cleanly. A reset after a status byte is the printer's own business.
        """
        confirmed = False
        try:
            async with asyncio.timeout(self.eof_wait_s):
                while chunk := await reader.read(1024):
                    confirmed = confirmed or any(is_status_byte(byte) for byte in chunk)
        except TimeoutError:
            log.debug("printer %s kept the connection open after the job", self.url)
        except OSError as exc:
            if not confirmed:
                raise
            log.info("printer %s reset the connection after confirming the job: %s", self.url, exc)

    async def _ask_status(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[StatusQuery, int]:
        return await ask_status(
            reader,
            writer,
            reply_timeout_s=self.status_reply_timeout_s,
            write_timeout_s=self.write_stall_timeout_s,
        )

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await writer.wait_closed()


async def ask_status(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    reply_timeout_s: float = STATUS_REPLY_TIMEOUT_S,
    write_timeout_s: float = WRITE_STALL_TIMEOUT_S,
) -> dict[StatusQuery, int]:
    """Ask ``DLE EOT 1, 2, 4`` on an open connection; the answers given (none: no back channel).

    Also used by discovery (bridge_agent/discovery.py) on the connection its scan opened.
    """
    answers: dict[StatusQuery, int] = {}
    for query in STATUS_QUERIES:
        writer.write(query_bytes(query))
        async with asyncio.timeout(write_timeout_s):
            await writer.drain()
        answer = await _read_status_byte(reader, reply_timeout_s)
        if answer is None:
            break  # a printer that skips one query will not answer the next either
        answers[query] = answer
    return answers


async def _read_status_byte(reader: asyncio.StreamReader, timeout_s: float) -> int | None:
    """The next valid status byte, skipping anything else; None on timeout or EOF."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                received = await reader.read(1)
                if not received:
                    return None
                if is_status_byte(received[0]):
                    return received[0]
    except TimeoutError:
        return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer"
    if isinstance(exc, ConnectionResetError):
        return "the printer reset the connection"
    if isinstance(exc, BrokenPipeError) or getattr(exc, "errno", None) == errno.ENOTCONN:
        return "the printer closed the connection"
    return describe_os_error(exc)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
