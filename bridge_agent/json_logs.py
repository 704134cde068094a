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


class JsonLogFormatter(logging.Formatter):
    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
