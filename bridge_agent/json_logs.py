"""``--log-format json`` (agent) and ``PRINTRELAY_LOG_FORMAT=json`` (server): one JSON object a
line, for log shippers that parse fields instead of text.

Every line has ``time`` (ISO 8601 UTC, milliseconds), ``level``, ``logger``, ``pid`` and
``message``;
a line about a job or a device also carries the ids its caller passed as ``extra``
(``CONTEXT_FIELDS``). Secrets never reach a field: callers pass ids, never tokens, and the
server's handlers run ``app.serving.RedactSecrets`` before this formatter.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The ``extra`` keys copied into the object when a record has them.
CONTEXT_FIELDS = (
    "event",
    "tenant_id",
    "location_id",
    "station_id",
    "job_id",
    "device_id",
    "device",
    "status",
    "epoch",
    "error",
    "sid",
)


_second_prefix: tuple[int, str] = (-1, "")


def iso_time(created: float) -> str:
    """``created`` (a Unix time) as ISO 8601 UTC with milliseconds: ``2026-12-05T18:56:13.378Z``.
    The part up to the second is made once a second (lines come by the thousand a second)."""
    global _second_prefix
    second = int(created)
    micros = round((created - second) * 1e6)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)  # one tuple: a reader never sees half of it
    return f"{prefix}.{micros // 1000:03d}Z"


class JsonLogFormatter(logging.Formatter):
    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker of `printrelay serve --workers N`
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        for name in CONTEXT_FIELDS:
            value = attributes.get(name)
            if value is not None:
                entry[name] = value  # ids as they are: the serialiser writes them as strings
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return entry

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False, default=str)
