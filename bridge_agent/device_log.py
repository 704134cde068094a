"""Every log line about one device names it, in an agent that serves several.

Each device's task sets ``CURRENT_DEVICE``; the tasks and worker-thread calls it starts inherit
it. ``DeviceLogFilter`` (on the agent's log handlers) copies it into the record: ``device``
(name and the id's first characters: devices paired on one PC often share the host's name) and
``device_id`` for ``--log-format json``, and ``device_tag`` (``[name 1a2b3c4d] ``) for the text
format.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass

ID_CHARS = 8  # enough to tell a shop's devices apart


@dataclass(frozen=True)
class DeviceLabel:
    device_id: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} {self.device_id[:ID_CHARS]}"


CURRENT_DEVICE: contextvars.ContextVar[DeviceLabel | None] = contextvars.ContextVar(
    "current_device", default=None
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(device_tag)s%(message)s"


class DeviceLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        device = CURRENT_DEVICE.get()
        if device is None:
            record.device_tag = ""
            return True
        record.device = str(device)
        if getattr(record, "device_id", None) is None:
            record.device_id = device.device_id
        record.device_tag = f"[{device}] "
        return True
