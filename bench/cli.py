"""``python -m bench``: the benchmark harness of issue 7.

    python -m bench [closed|open|idle|reconnect|render|all] [--backend sqlite|postgres|both] ...

Starts its own server (``printrelay serve`` on a free loopback port, on a fresh database),
pairs station bridges over REST, runs a lean load generator in this process (aiohttp, and
bench.sio for the sockets), and prints a table; the full figures go to
bench/results/<timestamp>.json. Exit status 1 if any run lost, duplicated or failed a job.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bench import scenarios
from bench.scenarios import Options, Skip
from bench.stats import fmt

SCENARIOS = ("closed", "open", "idle", "reconnect", "render", "cloudprnt", "selftest")
# Where each scenario runs unless --backend says otherwise.
DEFAULT_BACKENDS = {
    "closed": ("sqlite", "postgres"),
    "open": ("sqlite", "postgres"),
    "idle": ("postgres",),
    "reconnect": ("postgres",),
    "render": ("-",),
    "cloudprnt": ("sqlite", "postgres"),
    "selftest": ("stub",),
}
T = TypeVar("T")
SIGNALLED: list[int] = []
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", nargs="?", default="all", choices=(*SCENARIOS, "all"))
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        help="default: closed/open on both, idle/reconnect on postgres (+ Redis)",
    )
    p.add_argument("--stations", type=int, default=20, help="station bridges (closed/open)")
    p.add_argument("--pos", type=int, default=8, help="concurrent POS clients")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (closed/open)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    p.add_argument(
        "--rate", default="200", help="offered jobs/s (open); a comma-separated list runs each"
    )
    p.add_argument("--heartbeat", type=float, default=30.0, help="bridge heartbeat interval s")
    p.add_argument("--printer", action="store_true", help="bridges print to a loopback TCP printer")
    p.add_argument(
        "--idempotency-keys", action="store_true", help="POS clients send an Idempotency-Key"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the server during closed/open windows (collapsed stacks in bench/results)",
    )
    p.add_argument(
        "--count-tasks",
        action="store_true",
        help="count the asyncio tasks the server makes per printed job (closed/open)",
    )
    p.add_argument("--idle-sizes", default="1000,5000,10000", help="comma-separated")
    p.add_argument("--idle-hold", type=float, default=35.0, help="seconds each tier is held")
    p.add_argument("--connect-concurrency", type=int, default=200)
    p.add_argument(
        "--idle-connect-budget",
        type=float,
        default=180.0,
        help="seconds a tier may spend connecting; it is held with whatever is connected then",
    )
    p.add_argument("--reconnect-bridges", type=int, default=1000)
    p.add_argument("--backlog-per-bridge", type=int, default=1)
    p.add_argument("--render-iterations", type=int, default=500)
    p.add_argument(
        "--cloudprnt-printers", type=int, default=100, help="printers (cloudprnt latency)"
    )
    p.add_argument("--cloudprnt-jobs", type=int, default=60, help="jobs per polling interval")
    p.add_argument(
        "--cloudprnt-idle-printers", type=int, default=200, help="printers (CPU per poll)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes for closed/open on postgres (printrelay serve --workers)",
    )
    p.add_argument("--redis-db", type=int, default=13, help="Redis database index (flushed)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--json", action="store_true", help="also print the JSON on stdout")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server under test, e.g. PRINTRELAY_HOT_PATH=false (repeatable)",
    )
    p.add_argument(
        "--server-bin",
        default=None,
        metavar="DIR",
        help="run the server's printrelay from this bin directory (another virtualenv, e.g. "
        "one on a newer Python) instead of the bench's own",
    )
    return p.parse_args(argv)


def options(args: argparse.Namespace, stamp: str) -> Options:
    return Options(
        stations=args.stations,
        pos=args.pos,
        duration_s=args.duration,
        warmup_s=args.warmup,
        rate=rates(args)[0],
        heartbeat_s=args.heartbeat,
        printer=args.printer,
        idempotency_keys=args.idempotency_keys,
        profile=args.profile,
        count_tasks=args.count_tasks,
        redis_db=args.redis_db,
        idle_sizes=[int(x) for x in args.idle_sizes.split(",") if x.strip()],
        idle_hold_s=args.idle_hold,
        connect_concurrency=args.connect_concurrency,
        idle_connect_budget_s=args.idle_connect_budget,
        reconnect_bridges=args.reconnect_bridges,
        backlog_per_bridge=args.backlog_per_bridge,
        render_iterations=args.render_iterations,
        cloudprnt_printers=args.cloudprnt_printers,
        cloudprnt_jobs=args.cloudprnt_jobs,
        cloudprnt_idle_printers=args.cloudprnt_idle_printers,
        results_dir=args.results_dir,
        stamp=stamp,
        server_env=dict(kv.split("=", 1) for kv in args.server_env),
        workers=args.workers,
        server_bin=args.server_bin,
    )


def rates(args: argparse.Namespace) -> list[float]:
    return [float(x) for x in str(args.rate).split(",") if x.strip()]


def plan(args: argparse.Namespace) -> list[tuple[str, str, float | None]]:
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    runs: list[tuple[str, str, float | None]] = []
    for name in names:
        if name in ("render", "selftest"):
            backends: tuple[str, ...] = DEFAULT_BACKENDS[name]
        elif args.backend == "both":
            backends = ("sqlite", "postgres")
        elif args.backend:
            backends = (args.backend,)
        else:
            backends = DEFAULT_BACKENDS[name]
        for b in backends:
            if name == "open":
                runs.extend((name, b, r) for r in rates(args))
            else:
                runs.append((name, b, None))
    return runs


def machine() -> dict[str, Any]:
    model = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        # Uncommitted changes to what is measured (others may be editing the server).
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app", "migrations", "pyproject.toml"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
    except OSError:
        commit, dirty = "?", []
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_commit": commit,
        "uncommitted_server_changes": [d.strip() for d in dirty if d.strip()],
    }


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def run_all(runs: list[tuple[str, str, float | None]], opts: Options) -> list[dict[str, Any]]:
    results = []
    for name, backend, rate in runs:
        label = f"{name} {rate:g}/s" if rate is not None else name
        print(f"\n--- {label} ({backend}) ...", flush=True)
        if rate is not None:
            opts = dataclasses.replace(opts, rate=rate)
        started = time.monotonic()
        try:
            if name == "render":
                result = scenarios.render(opts)
            elif name == "selftest":
                result = await scenarios.selftest(opts)
            elif name in ("closed", "open"):
                result = await scenarios.throughput(name, backend, opts)
            elif name == "idle":
                result = await scenarios.idle(backend, opts)
            elif name == "cloudprnt":
                from bench.cloudprnt import cloudprnt

                result = await cloudprnt(backend, opts)
            else:
                result = await scenarios.reconnect(backend, opts)
        except Skip as exc:
            result = {"scenario": name, "backend": backend, "skipped": str(exc), "problems": []}
        except Exception as exc:
            traceback.print_exc()
            result = {
                "scenario": name,
                "backend": backend,
                "problems": [f"crashed: {type(exc).__name__}: {exc}"],
            }
        result["elapsed_s"] = round(time.monotonic() - started, 1)
        print(render_result(result), flush=True)
        results.append(result)
    return results


# -- output -----------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(out)


def render_result(r: dict[str, Any]) -> str:
    lines: list[str] = []
    if "skipped" in r:
        lines.append(f"SKIPPED {r['scenario']} ({r['backend']}): {r['skipped']}")
    elif r["scenario"] in ("closed", "open") and "printed_per_s" in r:
        lat, cpu = r["submit_to_printed_ms"], r["server_cpu"]
        what = "closed loop" if r["scenario"] == "closed" else f"open loop, {r['offered_rate']}/s"
        lines.append(
            f"{what} on {r['backend']}: {r['stations']} stations, {r['pos_clients']} POS, "
            f"{r.get('workers', 1)} server process(es), {r['window_s']} s measured"
        )
        lines.append(
            f"  printed {fmt(r['printed_per_s'])} jobs/s; submit→printed p50 {fmt(lat['p50'])} ms,"
            f" p99 {fmt(lat['p99'])} ms, max {fmt(lat['max'])} ms "
            f"(HTTP submit p50 {fmt(r['submit_http_ms']['p50'])} ms)"
        )
        parts = ", ".join(
            f"{k[:-2]} {cpu[k]:.2f} s" for k in ("server_s", "postgres_s", "redis_s") if k in cpu
        )
        lines.append(
            f"  server-side CPU {fmt(r['server_cpu_ms_per_job'], digits=3)} ms/job ({parts}); "
            f"server process{'es' if r.get('workers', 1) > 1 else ''} at "
            f"{r['server_process_utilisation']:.0%} of a core"
        )
        lines.append(
            f"  load generator {fmt(r['generator_cpu_ms_per_job'], digits=3)} ms/job, "
            f"{r['generator_utilisation']:.0%} of a core; server RSS {r['server_rss_mb']} MB"
        )
        foreign = cpu.get("foreign_s", 0.0) / r["window_s"]
        lines.append(
            f"  other processes on the machine used {foreign:.2f} cores meanwhile"
            + (" (CONTENDED: figures are pessimistic)" if foreign > 0.2 else "")
        )
        gcp = r.get("gc_pauses", {})
        lines.append(
            f"  server GC pauses >= 1 ms: {gcp.get('count', 0)} ({gcp.get('total_ms', 0)} ms, "
            f"longest {gcp.get('max_ms', 0)} ms; {gcp.get('full_collections', 0)} full); "
            f"I/O stall {r.get('io_stall_pct', 0)}% of the window"
        )
        if r["scenario"] == "open":
            lines.append(
                f"  achieved {r['achieved_rate']}/s; "
                f"sender at most {r['sender_late_ms_max']} ms late"
            )
        v = r["verification"]
        lines.append(
            f"  verified: {v['submitted']} submitted, database {v['db_status']}, "
            f"double prints {v['double_prints']}, duplicate deliveries {r['duplicate_deliveries']}"
        )
        if r["ack_errors"]:
            lines.append(f"  socket ack errors: {r['ack_errors']}")
        if r.get("tasks_per_job"):
            t = r["tasks_per_job"]
            lines.append(
                f"  asyncio tasks per printed job: {t['total']} ("
                + ", ".join(f"{k} {v}" for k, v in list(t["by_coroutine"].items())[:5])
                + ")"
            )
        if r.get("profile"):
            p = r["profile"]
            lines.append(f"  profile ({p['samples']} samples, {p['file']}):")
            lines.append(
                "    self by package: "
                + ", ".join(f"{k} {v}%" for k, v in p["self_by_package_pct"][:8])
            )
            lines.append("    where the samples were:")
            for k, v in p["by_entry_pct"][:12]:
                lines.append(f"    {v:5.1f}%  {k}")
    elif r["scenario"] == "idle" and "tiers" in r:
        lines.append(
            f"idle bridges on {r['backend']}: paired {fmt(r['paired'])} in {r['pairing_s']} s "
            f"({r['pairings_per_s']}/s); heartbeat every {r['heartbeat_s']} s, "
            f"held {r['hold_s']} s"
        )
        rows = [
            [
                fmt(t["bridges"]),
                fmt(t["owners"]),
                fmt(t["owners_after_hold"]),
                f"{t['connect_s']:.1f}",
                f"{t['connects_per_s']:.0f}",
                f"{t['server_rss_empty_mb']:.0f}",
                f"{t['server_rss_mb']:.0f}",
                f"{t['rss_per_bridge_kb']:.1f}",
                f"{t['hold_server_utilisation']:.1%}",
                f"{t['hold_total_utilisation']:.1%}",
                fmt(t["heartbeats_in_hold"]),
                fmt(t["heartbeat_ack_ms"]["p50"]),
                fmt(t["heartbeat_ack_ms"]["p99"]),
            ]
            for t in r["tiers"]
        ]
        lines.append(
            _table(
                [
                    "bridges",
                    "owners",
                    "after hold",
                    "connect s",
                    "conn/s",
                    "RSS empty MB",
                    "RSS MB",
                    "KB/bridge",
                    "server CPU",
                    "+pg+redis",
                    "hb in hold",
                    "hb p50 ms",
                    "hb p99 ms",
                ],
                rows,
            )
        )
    elif r["scenario"] == "reconnect" and "restart_s" in r:
        lines.append(
            f"reconnect on {r['backend']}: {r['bridges']} station bridges, "
            f"{r['backlog_jobs']} backlog jobs; SIGKILL, restart, jobs submitted once healthy"
        )
        ob = r["owner_back_s"]
        lines.append(
            f"  server answered {r['restart_s']} s after SIGKILL; backlog submitted in "
            f"{r['submit_s']} s; from then: every bridge owner again at "
            f"{fmt(r['all_owners_s'], ' s', 2)}"
            f" (p50 {fmt(ob['p50'], ' s', 2)}), every job printed at {fmt(r['drained_s'], ' s', 2)}"
        )
        lines.append(
            f"  both done {fmt(r['all_owners_and_drained_s'], ' s', 2)} after the restart "
            f"answered ({r['from_kill_s']} s after the kill); {r['reconnect_attempts']} connect "
            f"attempts, {r['failed_connects']} failed; recovery CPU {r['recovery_cpu']}"
        )
        v = r["verification"]
        lines.append(
            f"  verified: {v['submitted']} submitted, database {v['db_status']}, "
            f"double prints {v['double_prints']}"
        )
    elif r["scenario"] == "selftest" and "printed_per_s" in r:
        lines.append(
            f"generator ceiling against bench.stub (no database, no auth): "
            f"{r['stations']} stations, {r['pos_clients']} POS, {r['window_s']} s"
        )
        lines.append(
            f"  printed {fmt(r['printed_per_s'])} jobs/s; load generator "
            f"{fmt(r['generator_cpu_ms_per_job'], digits=3)} ms/job at "
            f"{r['generator_utilisation']:.0%} of a core; stub "
            f"{fmt(r['stub_cpu_ms_per_job'], digits=3)} ms/job at {r['stub_utilisation']:.0%}"
        )
    elif r["scenario"] == "cloudprnt" and "latency" in r:
        rows = [
            [
                f"{run['poll_interval_s']:g} s",
                fmt(run["printers"]),
                fmt(run["latency_ms"]["n"]),
                fmt(run["latency_ms"]["p50"], digits=0),
                fmt(run["latency_ms"]["p99"], digits=0),
            ]
            for run in r["latency"]
        ]
        lines.append("CloudPRNT submit -> printed (the printer's DELETE answered):")
        lines.append(_table(["polling", "printers", "jobs", "p50 ms", "p99 ms"], rows))
        idle = r["idle"]
        lines.append(
            f"  CPU per poll ({idle['printers']} idle printers at 1 s, {idle['polls']} polls): "
            f"server {idle['server_cpu_ms_per_poll']:.3f} ms, "
            f"PostgreSQL {idle['postgres_cpu_ms_per_poll']:.3f} ms"
        )
    elif r["scenario"] == "render":
        rows = [
            [
                c["case"],
                fmt(c["bytes"]),
                f"{c['mean_ms']:.3f}",
                f"{c['p50_ms']:.3f}",
                f"{c['p99_ms']:.3f}",
            ]
            for c in r["cases"]
        ]
        lines.append(
            "agent render cost, one core (render_job: ESC/POS bytes; PNG: render_png, the"
            " picture the render endpoints serve):"
        )
        lines.append(_table(["ticket", "bytes", "mean ms", "p50 ms", "p99 ms"], rows))
    log = r.get("server_log")
    if log and (log["errors"] or log["tracebacks"] or log["warnings"]):
        lines.append(
            f"  server log: {log['errors']} errors, {log['warnings']} warnings, "
            f"{log['tracebacks']} tracebacks ({log.get('log')})"
        )
        lines += [f"    {s}" for s in log["samples"][:6]]
    for warning in r.get("warnings", []):
        lines.append(f"  !!  WARNING: {warning}")
    for problem in r.get("problems", []):
        lines.append(f"  !!! PROBLEM: {problem}")
    return "\n".join(lines)


def _find(results: list[dict[str, Any]], scenario: str, backend: str) -> dict[str, Any] | None:
    for r in results:
        if r["scenario"] == scenario and r["backend"] == backend and "skipped" not in r:
            return r
    return None


def targets(results: list[dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """The issue's targets against what was measured (None: not measured)."""
    out: list[tuple[str, str, bool | None]] = []

    def check(name: str, value: Any, ok: Callable[[Any], bool], unit: str) -> None:
        if value is None:
            out.append((name, "not measured", None))
        else:
            out.append((name, f"{value}{unit}", ok(value)))

    closed = _find(results, "closed", "postgres") or {}
    check(
        "closed loop PG+Redis ≥ 1,000 printed jobs/s",
        closed.get("printed_per_s"),
        lambda v: v >= 1000,
        " jobs/s",
    )
    check(
        "closed loop PG+Redis server-side CPU ≤ 1.0 ms/job",
        closed.get("server_cpu_ms_per_job"),
        lambda v: v <= 1.0,
        " ms/job",
    )
    for backend in ("postgres", "sqlite"):
        opened = next(
            (
                r
                for r in results
                if r["scenario"] == "open"
                and r["backend"] == backend
                and r.get("offered_rate") == 200
                and "submit_to_printed_ms" in r
            ),
            None,
        )
        if opened:
            check(
                f"open loop 200 jobs/s on {backend}: p99 submit→printed ≤ 20 ms",
                opened["submit_to_printed_ms"]["p99"],
                lambda v: v <= 20,
                " ms",
            )
    idle = _find(results, "idle", "postgres") or _find(results, "idle", "sqlite")
    tier = next((t for t in (idle or {}).get("tiers", []) if t["bridges"] == 10000), None)
    if tier is None:
        out.append(("10,000 idle bridges on one process < 1 GB RSS", "not measured", None))
    elif tier["owners_after_hold"] < 10000:
        out.append(
            (
                "10,000 idle bridges on one process < 1 GB RSS",
                f"only {tier['owners_after_hold']:,} of 10,000 held as owners "
                f"(RSS {tier['server_rss_mb']} MB, {tier['rss_per_bridge_kb']} KB/bridge)",
                False,
            )
        )
    else:
        check(
            "10,000 idle bridges on one process < 1 GB RSS",
            tier["server_rss_mb"],
            lambda v: v < 1024,
            " MB",
        )
    rec = _find(results, "reconnect", "postgres") or _find(results, "reconnect", "sqlite")
    name = "1,000 bridges owners again and backlog drained ≤ 10 s after restart"
    if rec is None or rec.get("bridges") != 1000 or "restart_s" not in rec:
        out.append((name, "not measured", None))
    elif rec["all_owners_and_drained_s"] is None:
        out.append((name, "did not complete", False))
    else:
        check(name, rec["all_owners_and_drained_s"], lambda v: v <= 10, " s")
    return out


async def cancel_on_sigterm(work: Coroutine[Any, Any, T]) -> T:
    """SIGTERM cancels the run like Ctrl-C does, so servers stop and databases are dropped."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:
        SIGNALLED.append(signal.SIGTERM)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    opts = options(args, stamp)
    nofile = raise_nofile()
    runs = plan(args)
    info = machine()
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
        info["generator_loop"] = "uvloop"
    except ImportError:
        loop_factory = None
        info["generator_loop"] = "asyncio"
    info["generator_nofile"] = nofile
    print(
        f"printrelay bench: {info['cpus']} x {info['cpu_model']}, kernel {info['kernel']}, "
        f"Python {info['python']}, commit {info['git_commit']}"
        + (" + uncommitted changes in app/" if info["uncommitted_server_changes"] else "")
        + "; runs: "
        + ", ".join(
            (f"{n} {r:g}/s" if r is not None else n) + (f"/{b}" if b != "-" else "")
            for n, b, r in runs
        ),
        flush=True,
    )
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results = runner.run(cancel_on_sigterm(run_all(runs, opts)))
    except (asyncio.CancelledError, KeyboardInterrupt):
        if not SIGNALLED:
            traceback.print_exc()
        print("\ninterrupted: servers stopped, bench databases dropped", file=sys.stderr)
        return 130
    checks = targets(results) if args.scenario == "all" else []
    problems = [f"{r['scenario']}/{r['backend']}: {p}" for r in results for p in r["problems"]]
    document = {
        "started": stamp,
        "command": " ".join([os.path.basename(sys.executable), "-m", "bench", *sys.argv[1:]]),
        "machine": info,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
        "results": results,
        "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in checks],
        "problems": problems,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str))
    print("\n=== summary")
    print(summary(results))
    if checks:
        print("\n=== issue 7 targets")
        for name, measured, ok in checks:
            mark = "n/a" if ok is None else ("MET" if ok else "NOT MET")
            print(f"  {mark:8} {name}: {measured}")
    print(f"\nfull results: {path}")
    if args.json:
        print(json.dumps(document, indent=2, default=str))
    if problems:
        print("\n!!! VIOLATIONS / FAILURES:", file=sys.stderr)
        for p in problems:
            print(f"!!! {p}", file=sys.stderr)
        return 1
    return 0


def summary(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        if r["scenario"] not in ("closed", "open"):
            continue
        if "printed_per_s" not in r:
            rows.append(
                [
                    r["scenario"],
                    r["backend"],
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "skipped" if "skipped" in r else "FAILED",
                ]
            )
            continue
        lat = r["submit_to_printed_ms"]
        rows.append(
            [
                r["scenario"] if r["scenario"] == "closed" else f"open {r['offered_rate']:g}/s",
                r["backend"],
                fmt(r["printed_per_s"]),
                fmt(lat["p50"], digits=2),
                fmt(lat["p99"], digits=2),
                fmt(r["server_cpu_ms_per_job"], digits=3),
                fmt(r["server_process_cpu_ms_per_job"], digits=3),
                fmt(r["generator_cpu_ms_per_job"], digits=3),
                "VIOLATION" if r["problems"] else ("warnings" if r.get("warnings") else "ok"),
            ]
        )
    if not rows:
        return "(no throughput runs)"
    return _table(
        [
            "mode",
            "backend",
            "printed/s",
            "p50 ms",
            "p99 ms",
            "server-side CPU ms/job",
            "of it API process",
            "generator ms/job",
            "check",
        ],
        rows,
    )
