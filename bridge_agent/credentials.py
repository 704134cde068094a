"""A device's token and where to find the server, kept in its directory, readable by the owner
only. The token is shown once by the server at pairing; losing it means pairing again.

Each paired device has its own directory (``devices/<device_id>/`` in the state dir, see
bridge_agent.shop); these functions take that directory. ``printer`` is the printer URL given
to ``pair --printer``; ``location_id`` and ``station_id`` are what the server said at pairing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "printrelay-bridge"


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str
    device_id: str
    name: str
    printer: str | None = None
    location_id: str | None = None
    station_id: str | None = None

    def __repr__(self) -> str:  # never print the token
        return (
            f"Credentials(server={self.server!r}, device_id={self.device_id!r}, name={self.name!r},"
            f" printer={self.printer!r})"
        )


def ensure_state_dir(state_dir: Path) -> Path:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    return state_dir


def save(state_dir: Path, creds: Credentials) -> Path:
    """Write atomically (temp file, then rename) with mode 0600 from the first byte."""
    ensure_state_dir(state_dir)
    path = state_dir / CREDENTIALS_FILE
    tmp = state_dir / f".{CREDENTIALS_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(creds), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(state_dir)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (POSIX; Windows has no directory handles)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(state_dir: Path) -> Credentials | None:
    path = state_dir / CREDENTIALS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Credentials(
        server=data["server"],
        token=data["token"],
        device_id=data["device_id"],
        name=data["name"],
        printer=data.get("printer"),
        location_id=data.get("location_id"),
        station_id=data.get("station_id"),
    )


def forget(state_dir: Path) -> None:
    """After the server revoked the device: the token is useless, keep no copy."""
    (state_dir / CREDENTIALS_FILE).unlink(missing_ok=True)
