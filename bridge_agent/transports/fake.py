"""An in-memory transport for unit tests (``fake://``). Never a stand-in for a real printer."""

from __future__ import annotations

from bridge_agent.transports.base import PrinterState, TransportError


class FakeTransport:
    """Records every write; its state and failures are set by the test.

    ``state`` is what ``status()`` answers. ``fail_next_write()`` makes the next write raise
    ``TransportError`` without recording anything; ``fail_writes = True`` fails all of them.
    """

    def __init__(self, url: str = "fake://", state: PrinterState = PrinterState.ONLINE) -> None:
        self.url = url
        self.state = state
        self.status_cause: str | None = None
        self.writes: list[bytes] = []
        self.fail_writes = False
        self.closed = False
        self.status_calls = 0
        self._failures_pending: list[str] = []

    @property
    def received(self) -> bytes:
        """Every byte written so far, in order."""
        return b"".join(self.writes)

    def fail_next_write(self, message: str = "fake printer failure") -> None:
        self._failures_pending.append(message)

    async def status(self) -> PrinterState:
        self.status_calls += 1
        return self.state

    async def write(self, data: bytes) -> None:
        if self._failures_pending:
            raise TransportError(self._failures_pending.pop(0))
        if self.fail_writes:
            raise TransportError("fake printer failure")
        self.writes.append(bytes(data))

    async def close(self) -> None:
        self.closed = True
