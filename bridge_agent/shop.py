"""The state dir of an agent that serves a shop: one directory per paired device.

    <state dir>/agent.lock                              one agent per state dir (lifecycle)
    <state dir>/devices/<device id>/credentials.json    token, server, printer URL (mode 0600)
    <state dir>/devices/<device id>/journal.sqlite3     that device's journal (spool)
    <state dir>/devices/<device id>/status.json         what the running agent last saw

Each device's journal is its own, so crash recovery reports every entry with the token of the
device that claimed it. A state dir from before (one device: credentials.json and the journal at
its root) is moved into this layout by ``run``, under the state dir's lock, before any journal
is opened (``migrate_root_device``). ``pair`` only ever adds a directory; ``status`` reads both
layouts and changes nothing. The running agent looks at ``devices/`` every few seconds
(``DeviceWatcher``): a device paired meanwhile is served, one whose credentials are gone stops.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge_agent import credentials
from bridge_agent.credentials import CREDENTIALS_FILE, Credentials
from bridge_agent.spool import JOURNAL_FILE

log = logging.getLogger(__name__)

DEVICES_DIR = "devices"
STATUS_FILE = "status.json"
# The journal's files, SQLite's write-ahead log first: moved one by one (each rename atomic),
# and only ever moved, so a migration cut short anywhere is finished by the next start.
JOURNAL_FILES = (f"{JOURNAL_FILE}-wal", f"{JOURNAL_FILE}-shm", JOURNAL_FILE)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class PairedDevice:
    directory: Path  # holds its credentials.json, journal and status file
    creds: Credentials


class UnreadableDevice(Exception):
    """A device's credentials file that cannot be read (its path and why)."""

    def __init__(self, path: Path, cause: Exception) -> None:
        super().__init__(f"cannot read {path} ({cause!r}); pair again")
        self.path = path
        self.cause = cause


def device_dir(state_dir: Path, device_id: str) -> Path:
    if not _SAFE_ID.fullmatch(device_id):  # the server's UUID; never a path of its own
        raise ValueError(f"unexpected device id {device_id!r}")
    return state_dir / DEVICES_DIR / device_id


def save_device(state_dir: Path, creds: Credentials) -> Path:
    """Store a newly paired device in its own directory (mode 0700); the credentials' path."""
    credentials.ensure_state_dir(state_dir)
    credentials.ensure_state_dir(state_dir / DEVICES_DIR)
    return credentials.save(device_dir(state_dir, creds.device_id), creds)


def _load(directory: Path) -> Credentials | None:
    try:
        return credentials.load(directory)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableDevice(directory / CREDENTIALS_FILE, exc) from None


def paired_devices(state_dir: Path) -> tuple[list[PairedDevice], list[UnreadableDevice]]:
    """Every device paired in ``state_dir`` (a not yet migrated one at its root included), by
    name; and the credentials files that cannot be read."""
    found: dict[str, PairedDevice] = {}
    problems: list[UnreadableDevice] = []
    for directory in [state_dir, *_device_dirs(state_dir)]:
        try:
            creds = _load(directory)
        except UnreadableDevice as exc:
            problems.append(exc)
            continue
        if creds is not None:  # a migration cut short: the moved copy wins over the root's
            found[creds.device_id] = PairedDevice(directory, creds)
    devices = sorted(found.values(), key=lambda d: (d.creds.name, d.creds.device_id))
    return devices, problems


def _device_dirs(state_dir: Path) -> list[Path]:
    """The directories under ``devices/``, by name; none when it does not exist (yet)."""
    try:
        with os.scandir(state_dir / DEVICES_DIR) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir())
    except FileNotFoundError:
        return []


class DeviceWatcher:
    """What changed under ``devices/`` since the last look, for the running agent.

    ``poll`` returns the devices paired since (a device is seen once its credentials.json
    exists: ``pair`` writes it to a temp file and renames it, so a file read here is complete)
    and the ids of known devices whose credentials file is gone (unpaired, or the directory
    removed by hand). An unreadable credentials file is logged once, not counted as gone, and
    read again at every look until it can be. Only ``devices/`` is watched: a device at the
    state dir's root (an older agent's layout) is moved there by ``run`` at its start.
    """

    def __init__(
        self, state_dir: Path, known: list[str], reported: list[Path] | None = None
    ) -> None:
        self.state_dir = state_dir
        self.known = set(known)  # device ids served, or found unservable, or being served
        self._reported = set(reported or ())  # unreadable credentials files already logged

    def poll(self) -> tuple[list[PairedDevice], set[str]]:
        try:
            directories = _device_dirs(self.state_dir)
        except OSError as exc:  # not "gone": say so, and look again next time
            if self.state_dir not in self._reported:
                log.error("cannot list %s (%s); looking again", self.state_dir / DEVICES_DIR, exc)
                self._reported.add(self.state_dir)
            return [], set()
        self._reported.discard(self.state_dir)
        present: set[str] = set()
        new: list[PairedDevice] = []
        unreadable: set[Path] = set()
        for directory in directories:
            try:
                creds = _load(directory)
            except UnreadableDevice as exc:
                if not (directory / CREDENTIALS_FILE).exists():
                    continue  # removed between the listing and the read: gone
                present.add(directory.name)
                unreadable.add(exc.path)
                if exc.path not in self._reported:
                    log.error(
                        "cannot read %s (%r); read again every few seconds, the other devices "
                        "are served",
                        exc.path,
                        exc.cause,
                    )
                continue
            if creds is None:
                continue  # no credentials (yet, or any more)
            present.add(creds.device_id)
            if creds.device_id not in self.known:
                self.known.add(creds.device_id)
                new.append(PairedDevice(directory, creds))
        self._reported = unreadable  # one that can be read again is logged again if it breaks
        gone = self.known - present
        self.known -= gone
        return new, gone


def migrate_root_device(state_dir: Path) -> PairedDevice | None:
    """Move a device paired by an older agent (credentials and journal at the state dir's root)
    into ``devices/<id>/``. Call it holding the state dir's lock, before opening any journal.

    Crash-safe order: the journal's files are renamed one by one into the new directory (a
    rename is atomic; nothing is copied), then the credentials are written there (temp file,
    rename), and only then is the root's credentials file removed. Until that last step the next
    start sees the root's credentials again and finishes the move; no step loses a journal
    entry or the token. Raises UnreadableDevice for a root credentials file it cannot read.
    """
    creds = _load(state_dir)
    if creds is None:
        return None
    target = device_dir(state_dir, creds.device_id)
    credentials.ensure_state_dir(target.parent)
    credentials.ensure_state_dir(target)
    for name in JOURNAL_FILES:
        if (state_dir / name).exists():
            os.replace(state_dir / name, target / name)
    credentials.fsync_dir(target)
    credentials.save(target, creds)
    (state_dir / CREDENTIALS_FILE).unlink()
    credentials.fsync_dir(state_dir)
    log.info("moved device %s (%s) into %s", creds.name, creds.device_id, target)
    return PairedDevice(target, creds)


def forget_device(device: PairedDevice) -> None:
    """After the server revoked it: its token is useless, keep no copy (nor its status). The
    journal stays, as a record of what it printed."""
    credentials.forget(device.directory)
    (device.directory / STATUS_FILE).unlink(missing_ok=True)


# -- the running agent's status file --------------------------------------------------------


def write_status(directory: Path, status: dict[str, Any]) -> None:
    """Atomically (temp file, rename): a reader sees the old file or the new one. Never holds
    the token; no fsync, since it says what is happening now, not what must survive."""
    tmp = directory / f".{STATUS_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(status, fh)
    os.replace(tmp, directory / STATUS_FILE)


def read_status(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
