"""``printrelay-bridge install-service``: the agent as a systemd service on Linux, started with
the PC and restarted when it fails.

A user unit (``~/.config/systemd/user``, the default for a normal user; it starts at boot once
``loginctl enable-linger`` is on) or a system unit (``/etc/systemd/system``, the default for
root). The unit runs this same Python with ``-m bridge_agent.cli run`` and the given options, so
it keeps working whatever ``PATH`` systemd has. It restarts after a crash or a printer or
network failure, but not after a refusal that a restart cannot fix (the exit statuses of
``EXIT_NO_RESTART``: a mistake in the options, the device unpaired, another agent on the state
dir). Windows and macOS: docs/agent.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_NAME = "printrelay-bridge"
# A plain unit name: no path separator, no template (@), no escapes.
UNIT_NAME = re.compile(r"[A-Za-z0-9:_.-]+")
RESTART_DELAY_S = 5
# bridge_agent.cli: 2 a mistake to fix, 3 the server revoked this device, 6 another agent runs.
EXIT_NO_RESTART = (2, 3, 6)


@dataclass(frozen=True)
class UnitPlan:
    name: str
    path: Path
    text: str
    system: bool

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *([] if self.system else ["--user"]), *args]

    @property
    def commands(self) -> list[list[str]]:
        return [self.systemctl("daemon-reload"), self.systemctl("enable", "--now", self.name)]


def quote(arg: str) -> str:
    """One argument of ``ExecStart``, as systemd reads it: ``%`` and ``$`` doubled (no
    specifiers, no variables), quoted when it holds a space, a quote or a backslash."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\"\\'"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(run_args: Sequence[str], state_dir: Path, *, system: bool) -> str:
    command = " ".join(quote(a) for a in (sys.executable, "-m", "bridge_agent.cli", *run_args))
    no_restart = " ".join(str(code) for code in EXIT_NO_RESTART)
    lines = [
        "# Written by `printrelay-bridge install-service`; run it again to change the options.",
        "[Unit]",
        f"Description=Printrelay bridge agent ({state_dir})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        "Restart=on-failure",
        f"RestartSec={RESTART_DELAY_S}",
        f"RestartPreventExitStatus={no_restart}",
        # The agent stops cleanly on SIGTERM (it finishes its journal entry first).
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if system else 'default.target'}",
        "",
    ]
    return "\n".join(lines)


def plan(
    run_args: Sequence[str],
    state_dir: Path,
    *,
    system: bool,
    unit_dir: Path | None = None,
    name: str = DEFAULT_NAME,
) -> UnitPlan:
    if unit_dir is None:
        if system:
            unit_dir = Path("/etc/systemd/system")
        else:
            config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            unit_dir = Path(config) / "systemd" / "user"
    if not UNIT_NAME.fullmatch(name) or name.startswith("."):
        raise ValueError(f"--name {name!r}: letters, digits and : _ . - only")
    unit = f"{name}.service"
    return UnitPlan(unit, unit_dir / unit, unit_text(run_args, state_dir, system=system), system)


def install(unit: UnitPlan, *, enable: bool) -> list[str]:
    """Write the unit (mode 0644) and, with ``enable``, reload systemd and enable and start it.
    Returns what was done, a line each. ``OSError`` or ``CalledProcessError`` if a step fails."""
    done = []
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = unit.path.with_name(f".{unit.path.name}.tmp")
    tmp.write_text(unit.text)
    tmp.chmod(0o644)
    tmp.replace(unit.path)
    done.append(f"wrote {unit.path}")
    if not enable:
        return done
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise FileNotFoundError("systemctl is not on PATH: is this a systemd system?")
    for command in unit.commands:
        # Our own arguments (the unit's name), never a shell.
        subprocess.run(  # noqa: S603
            [systemctl, *command[1:]], check=True, capture_output=True, text=True
        )
        done.append("ran " + " ".join(command))
    return done
