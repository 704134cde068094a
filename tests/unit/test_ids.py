"""app/ids.py: buffered random UUIDs are well-formed version 4 UUIDs, and a forked process
does not repeat its parent's."""

from __future__ import annotations

import os
import uuid

from app.ids import new_id


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]  # several refills of the buffer
    assert len(set(ids)) == len(ids)
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the buffer holds the parent's next ids now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, new_id().bytes)
        os._exit(0)
    os.close(write_end)
    child = uuid.UUID(bytes=os.read(read_end, 16))
    os.close(read_end)
    os.waitpid(pid, 0)
    assert child != new_id()
