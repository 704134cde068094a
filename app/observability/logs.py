"""How the server's log lines look: ``PRINTRELAY_LOG_FORMAT=text`` (default) or ``json``.

``configure_root`` sets up the process's own lines before uvicorn starts (migrations, the CLI);
``app.serving.log_config`` gives uvicorn (and each ``--workers`` process) the same formatter
for its own lines, its access log and the application's loggers.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from enum import StrEnum
from typing import Any, TextIO

import orjson

from bridge_agent.json_logs import CONTEXT_FIELDS, JsonLogFormatter, iso_time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Lines below WARNING wait at most this long to be written, and are written together.
LOG_FLUSH_INTERVAL_S = 0.2
# One write at most this big: whole lines, and no larger than a pipe writes atomically
# (PIPE_BUF), so the lines of several workers sharing one stderr never cut into each other.
LOG_WRITE_MAX_BYTES = 4096
# uvicorn's access-log record arguments: client address, method, path (query included,
# redacted by RedactSecrets first), HTTP version, status code.
ACCESS_ARGS = ("client", "method", "path", "http_version", "status_code")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ServerJsonFormatter(JsonLogFormatter):
    """The agent's JSON lines, plus uvicorn's access-log fields as fields of their own,
    serialised with orjson (ids and times natively: the job lines are on the delivery path)."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        entry = super().fields(record)
        args = record.args
        if (
            record.name == "uvicorn.access"
            and isinstance(args, tuple)
            and len(args) == len(ACCESS_ARGS)
        ):
            entry.update(zip(ACCESS_ARGS, args, strict=True))
        return entry

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(self.fields(record), default=str).decode()


class ContextTextFormatter(logging.Formatter):
    """``time level logger message``, then the record's ids as ``key=value`` (the same fields
    as the JSON lines, so a text log names the same ids)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        attributes = record.__dict__
        context = [
            f" {name}={attributes[name]}"
            for name in CONTEXT_FIELDS
            if attributes.get(name) is not None
        ]
        return line + "".join(context) if context else line


_batched_handlers: weakref.WeakSet[BatchedStreamHandler] = weakref.WeakSet()


def write_through() -> None:
    """From now on every line is written at once, and what waits is written now.

    Called when the server starts shutting down: uvicorn ends a SIGTERM'd process by raising
    the signal again once it has shut down, which kills it before ``atexit`` would flush, so
    lines still waiting for the next batch (the last requests' access lines, uvicorn's own
    goodbye) would be lost."""
    for handler in list(_batched_handlers):
        handler.batching = False
        handler.flush()


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes INFO and DEBUG lines in batches: every
    ``LOG_FLUSH_INTERVAL_S`` (a daemon thread) or once ``LOG_WRITE_MAX_BYTES`` have gathered,
    instead of a write system call per line. Three lines per printed job, each its own write,
    cost a measurable part of a job's CPU on a busy server (docs/operations.md, "Cost").
    WARNING and above are written at once, with whatever waits before them; from the server's
    shutdown on, every line is (``write_through``). A process killed with SIGKILL loses at most
    the last interval's INFO lines."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._pending: list[str] = []
        self._pending_bytes = 0
        self.batching = True  # False after write_through(): each line written at once
        _batched_handlers.add(self)
        self._flusher = threading.Thread(
            target=self._flush_periodically, name="log-flush", daemon=True
        )
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            self._add(self.format(record) + self.terminator, record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_info_line(self, line: str) -> None:
        """A line formatted by its caller (``write_json_info``), batched as an INFO record's."""
        self.acquire()
        try:
            self._add(line + self.terminator, logging.INFO)
        finally:
            self.release()

    def _add(self, line: str, levelno: int) -> None:  # with self.lock held
        size = len(line)  # characters: bytes for the ASCII of ids and JSON
        if self._pending and self._pending_bytes + size > LOG_WRITE_MAX_BYTES:
            self._write_pending()
        self._pending.append(line)
        self._pending_bytes += size
        if levelno >= logging.WARNING or not self.batching:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            chunk = "".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            self.stream.write(chunk)
            self.stream.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_pending()
            super().flush()
        finally:
            self.release()

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(LOG_FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # a closed stream at interpreter exit: nothing left to do
                return


def json_line_handler(logger: logging.Logger) -> BatchedStreamHandler | None:
    """The server's JSON handler, when it is the one handler an INFO record of ``logger`` reaches
    and nothing but redaction filters stands between (the served configuration with
    ``PRINTRELAY_LOG_FORMAT=json``); else None, and the caller logs as usual. Looked up at each
    call, as ``Logger.callHandlers`` does, so a handler added later (a test's capture, a
    reconfiguration) is never bypassed."""
    found: logging.Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if (
        type(found) is not BatchedStreamHandler
        or found.level > logging.INFO
        or type(found.formatter) is not ServerJsonFormatter
        or not all(callable(getattr(f, "redact_text", None)) for f in found.filters)
    ):
        return None
    return found


def write_json_info(
    handler: BatchedStreamHandler, logger_name: str, message: str, context: dict[str, Any]
) -> None:
    """The line ``ServerJsonFormatter`` would make of an INFO record of ``logger_name`` with
    ``message`` and ``context`` as its ``extra``, written without a LogRecord.

    The job lines (three per printed job) come this way: a record, its handlers' walk and its
    formatting were most of a job line's cost, and the lines are on the delivery path with
    ``PRINTRELAY_LOG_FORMAT=json`` (docs/benchmarks.md). ``context`` is in ``CONTEXT_FIELDS``'
    order; its ``error`` (a bridge's own words) passes the handler's redaction filters."""
    entry: dict[str, Any] = {
        "time": iso_time(time.time()),
        "level": "info",
        "logger": logger_name,
        "pid": os.getpid(),
        "message": message,
    }
    for name, value in context.items():  # in CONTEXT_FIELDS' order, as the formatter's
        if value is not None:
            entry[name] = value
    error = context.get("error")
    if error is not None:  # the one free text (a bridge's words)
        for redaction in handler.filters:
            error = redaction.redact_text(error)  # type: ignore[union-attr]
        entry["error"] = error
    handler.write_info_line(orjson.dumps(entry, default=str).decode())


def lean_log_records() -> None:
    """Log records without the caller's file, line and function, and without thread and
    process names: no format of the server prints them, and finding the caller's frame was a
    tenth of a job line's cost (the logging HOWTO's "Optimization"). The pid stays."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False


def formatter_config(log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config`` formatter entry for the chosen format."""
    if log_format is LogFormat.JSON:
        return {"()": "app.observability.logs.ServerJsonFormatter"}
    return {"()": "app.observability.logs.ContextTextFormatter"}


def configure_root(log_format: LogFormat, level: int = logging.INFO) -> None:
    handler = BatchedStreamHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(ServerJsonFormatter())
    else:
        handler.setFormatter(ContextTextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
