"""CPU time and memory of processes, read from /proc (Linux).

CPU time = utime + stime of every thread of a process (``/proc/<pid>/stat`` fields 14 and 15),
in clock ticks. For PostgreSQL the postmaster's cutime + cstime (fields 16 and 17) is added:
it holds the CPU of children that exited and were reaped during the run (a backend whose
connection closed, an autovacuum worker), which a snapshot of live processes would lose.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcTimes:
    pid: int
    comm: str
    ppid: int
    own_s: float  # utime + stime
    children_s: float  # cutime + cstime (reaped children)


def read_times(pid: int) -> ProcTimes | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is in parentheses and may itself contain spaces or parentheses.
    open_, close = raw.index("("), raw.rindex(")")
    comm = raw[open_ + 1 : close]
    fields = raw[close + 2 :].split()
    # fields[0] is field 3 (state): field n is fields[n - 3].
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ProcTimes(pid, comm, ppid, (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK)


def pids_named(*names: str) -> list[int]:
    """Live pids whose comm is one of ``names``."""
    wanted = set(names)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() in wanted:
                    found.append(int(entry))
        except OSError:
            continue
    return found


def with_descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and every live process below them (``printrelay serve --workers N`` forks)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (t := read_times(int(entry))) is not None:
            children.setdefault(t.ppid, []).append(t.pid)
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) summed over ``pid`` and its descendants."""
    sizes = [rss_bytes(p) for p in with_descendants([pid])]
    return sum(r for r, _ in sizes), sum(h for _, h in sizes)


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes; (0, 0) if it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


def machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not iowait) since boot."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / CLK_TCK


def self_cpu_s() -> float:
    """CPU time of this process (the load generator), every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def io_stall_us() -> int:
    """Microseconds since boot in which some task waited on I/O (``/proc/pressure/io``, the
    ``some`` line); 0 where the kernel has no pressure stall information. On this machine
    that is mostly PostgreSQL waiting for its WAL flush at commit."""
    try:
        with open("/proc/pressure/io") as fh:
            for line in fh:
                if line.startswith("some"):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class Snapshot:
    """CPU seconds per process of each group at one moment."""

    groups: dict[str, dict[int, float]] = field(default_factory=dict)
    comms: dict[int, str] = field(default_factory=dict)
    machine_busy_s: float = 0.0
    generator_s: float = 0.0
    wall_s: float = 0.0  # time.time(), to line the window up with the server's own logs
    io_stall_us: int = 0


class CpuMeter:
    """Snapshots of the server process(es), every PostgreSQL process and redis-server.

    ``groups`` decides which groups count toward the server-side total (the SQLite backend
    uses no PostgreSQL or Redis, so their idle ticking is left out there)."""

    def __init__(self, server_pids: Iterable[int], *, postgres: bool, redis: bool) -> None:
        self.server_pids = list(server_pids)
        self.postgres = postgres
        self.redis = redis

    def snapshot(self) -> Snapshot:
        snap = Snapshot(
            machine_busy_s=machine_busy_s(),
            generator_s=self_cpu_s(),
            wall_s=time.time(),
            io_stall_us=io_stall_us(),
        )
        server: dict[int, float] = {}
        for pid in with_descendants(self.server_pids):
            t = read_times(pid)
            if t is not None:
                server[pid] = t.own_s
                snap.comms[pid] = t.comm
        snap.groups["server"] = server
        if self.postgres:
            pg: dict[int, float] = {}
            for pid in pids_named("postgres", "postmaster"):
                t = read_times(pid)
                if t is None:
                    continue
                # The postmaster (its parent is not postgres) also carries its reaped children.
                parent = read_times(t.ppid)
                is_postmaster = parent is None or parent.comm not in ("postgres", "postmaster")
                pg[pid] = t.own_s + (t.children_s if is_postmaster else 0.0)
                snap.comms[pid] = t.comm
            snap.groups["postgres"] = pg
        if self.redis:
            rd: dict[int, float] = {}
            for pid in pids_named("redis-server"):
                t = read_times(pid)
                if t is not None:
                    rd[pid] = t.own_s
                    snap.comms[pid] = t.comm
            snap.groups["redis"] = rd
        return snap


def delta(before: Snapshot, after: Snapshot) -> dict[str, dict[int, float]]:
    """CPU seconds per pid spent between two snapshots (a pid born meanwhile started at 0)."""
    out: dict[str, dict[int, float]] = {}
    for group, now in after.groups.items():
        then = before.groups.get(group, {})
        out[group] = {pid: max(0.0, s - then.get(pid, 0.0)) for pid, s in now.items()}
    return out


def totals(per_pid: dict[str, dict[int, float]]) -> dict[str, float]:
    return {group: sum(pids.values()) for group, pids in per_pid.items()}
