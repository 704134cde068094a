"""Random (version 4) UUIDs for the rows the delivery path writes, four per printed job.

``uuid.uuid4()`` asks the kernel for 16 random bytes each time (a ``getrandom`` call, about
2.5% of the server process's CPU in the closed-loop bench on this project's VM). ``new_id``
takes the same bytes from the same source, ``os.urandom``, 4 KiB at a time. Identifiers, not
secrets: nothing is weaker for it. A forked child starts with an empty buffer, so two
processes never hand out the same bytes.
"""

from __future__ import annotations

import os
import uuid

_BATCH = 256  # UUIDs per os.urandom call

_buffer = b""
_offset = 0


def new_id() -> uuid.UUID:
    global _buffer, _offset
    if _offset >= len(_buffer):
        _buffer, _offset = os.urandom(16 * _BATCH), 0
    raw = _buffer[_offset : _offset + 16]
    _offset += 16
    return uuid.UUID(bytes=raw, version=4)


def _forget_after_fork() -> None:
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_after_fork)
