"""How the server's log lines look: ``PRINTRELAY_LOG_FORMAT=text`` (default) or ``json``.

``configure_root`` sets up the process's own lines before uvicorn starts (migrations, the CLI);
``app.serving.log_config`` gives uvicorn (and each ``--workers`` process) the same formatter
for its own lines, its access log and the application's loggers.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from bridge_agent.json_logs import JsonLogFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# uvicorn's access-log record arguments: client address, method, path (query included,
# redacted by RedactSecrets first), HTTP version, status code.
ACCESS_ARGS = ("client", "method", "path", "http_version", "status_code")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ServerJsonFormatter(JsonLogFormatter):
    """The agent's JSON lines, plus uvicorn's access-log fields as fields of their own."""

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


def formatter_config(log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config`` formatter entry for the chosen format."""
    if log_format is LogFormat.JSON:
        return {"()": "app.observability.logs.ServerJsonFormatter"}
    return {"format": TEXT_FORMAT}


def configure_root(log_format: LogFormat, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(ServerJsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
