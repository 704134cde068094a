"""The device token and where to find the server, kept in the state dir, readable by the owner
only. The token is shown once by the server at pairing; losing it means pairing again."""

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

    def __repr__(self) -> str:  # never print the token
        return (
            f"Credentials(server={self.server!r}, device_id={self.device_id!r}, name={self.name!r})"
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
    return path


def load(state_dir: Path) -> Credentials | None:
    path = state_dir / CREDENTIALS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Credentials(
        server=data["server"], token=data["token"], device_id=data["device_id"], name=data["name"]
    )


def forget(state_dir: Path) -> None:
    """After the server revoked the device: the token is useless, keep no copy."""
    (state_dir / CREDENTIALS_FILE).unlink(missing_ok=True)
