"""The agent's CLI as a user meets it: ``python -m bridge_agent.cli`` in a real child process,
its output read from a file, stopped with a real signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

WAIT_S = 30.0
POLL_S = 0.01
# What an unclean stop prints: asyncio and aiohttp complaining from finalizers and destructors.
UNCLEAN = (
    "Traceback",
    "Event loop is closed",
    "Unclosed",
    "Exception ignored",
    "Task was destroyed",
    "never awaited",
)


def agent_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge_agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=agent_env(),
    )


def one_line(stderr: str) -> str:
    """The single line a failed command wrote, or an AssertionError showing everything it wrote."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("printrelay-bridge: "), stderr
    return lines[0]


class AgentProcess:
    """A running ``run`` (or any command line); stdout and stderr go to one log file."""

    def __init__(self, log_path: Path, argv: list[str]) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=agent_env()
            )

    @classmethod
    def run(cls, log_path: Path, state_dir: Path, printer: str, *extra: str) -> AgentProcess:
        argv = [sys.executable, "-m", "bridge_agent.cli", "run", "--printer", printer]
        return cls(log_path, [*argv, "--state-dir", str(state_dir), *extra])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"exited {self.proc.returncode} before {what}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} in {WAIT_S} s:\n{self.output()}")
            time.sleep(POLL_S)

    def wait_for_line(self, text: str) -> None:
        self.wait_until(repr(text), lambda: text in self.output())

    def wait_catching_sigterm(self) -> None:
        """Until the process has a SIGTERM handler (Linux: /proc/PID/status SigCgt): the first
        moment at which any program can make a stop clean."""
        self.wait_until("SIGTERM handler", lambda: _catches(self.proc.pid, signal.SIGTERM))

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {WAIT_S} s after {sig.name}:\n{self.output()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _catches(pid: int, sig: signal.Signals) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def assert_clean_stop(agent: AgentProcess, returncode: int) -> None:
    out = agent.output()
    assert returncode == 0, out
    for text in UNCLEAN:
        assert text not in out, out
    lines = out.strip().splitlines()
    assert lines and lines[-1].endswith(" stopped"), out
    assert sum(line.endswith(" stopped") for line in lines) == 1, out
