"""``printrelay-bridge``: pair this PC with a Printrelay server, run the bridge, test a printer.

    printrelay-bridge pair --server URL --code CODE [--name NAME] [--printer URL] [--state-dir DIR]
    printrelay-bridge run [--printer URL] [--state-dir DIR] [--paper-width 80|58]
    printrelay-bridge status [--state-dir DIR] [--json]
    printrelay-bridge test-print --printer URL [--paper-width 80|58]
    printrelay-bridge preview FILE.json [--format png|text] [--paper-width 80|58] [--output PATH]
    printrelay-bridge install-service [--printer URL] [--state-dir DIR] [--user|--system]
                                      [--dry-run]
    printrelay-bridge printers [--scan CIDR [--port 9100]] [--json] [--udev-rule]

Pair several codes into one state dir (each with its --printer) and one `run` serves them all,
each device on its own printer; run's --printer is for a device paired without one.
A job prints at its station's paper width (the server sends it with the job); --paper-width
is for jobs from an older server that does not.

Printer URLs: tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, file:///path.
Every command takes --log-level debug|info|warning|error (default info) and --log-format
text|json (json: one JSON object a line).

Exit status: 0 done (or stopped), 2 a mistake to fix (arguments, pairing code, server address,
credentials), 3 the server revoked every device of the state dir, 4 the printer failed, 5 the
server cannot be reached or asks to retry later, 6 another agent runs with the same state dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bridge_agent import cli_parser, credentials, lifecycle, shop
from bridge_agent.device_log import TEXT_FORMAT, DeviceLogFilter
from bridge_agent.json_logs import JsonLogFormatter

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REVOKED = 3
EXIT_PRINTER = 4
EXIT_UNAVAILABLE = 5
EXIT_ALREADY_RUNNING = 6

STOP_RETRY_S = 1.0  # how often a stop cancels work that is still running

T = TypeVar("T")

log = logging.getLogger("printrelay-bridge")

SAMPLE_TICKET = {
    "blocks": [
        {"type": "text", "text": "PRINTRELAY", "align": "center", "size": "double", "bold": True},
        {"type": "text", "text": "Test print", "align": "center"},
        {"type": "rule", "char": "="},
        {"type": "row", "left": "1x Café con leche", "right": "2.50"},
        {"type": "row", "left": "2x Tostada con tomate y jamón ibérico", "right": "9.00"},
        {"type": "rule", "char": "-"},
        {"type": "row", "left": "TOTAL", "right": "11.50 €"},
        {"type": "feed", "lines": 1},
        {"type": "qr", "data": "https://example.com/printrelay"},
        {"type": "cut", "mode": "partial"},
    ]
}


def _fail(message: str, code: int) -> int:
    """A mistake or refusal the user can act on: one line on stderr, no traceback."""
    print(f"printrelay-bridge: {message}", file=sys.stderr)
    return code


def _until_stopped(work: Coroutine[object, object, T]) -> T:
    """``asyncio.run(work)``, cancelled by a stop signal (raising CancelledError here).

    A stop cancels the work again every ``STOP_RETRY_S`` until it ends: a library that swallows
    one cancellation (seen in CI: a SIGTERM during the agent's first connect left it running)
    cannot keep the agent alive. Once stopped, whatever the work returned, this raises.
    """

    async def main() -> T:
        stop = asyncio.Event()
        task = asyncio.ensure_future(work)
        how = lifecycle.call_on_stop_signals(asyncio.get_running_loop(), stop.set)
        log.debug("stop signals handled by %s", how)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=STOP_RETRY_S)
        finally:
            stopping.cancel()
        if stop.is_set():
            if not task.cancelled():
                task.exception()  # retrieved: an error raised while stopping is not news
            raise asyncio.CancelledError
        return task.result()

    try:
        return asyncio.run(main())
    finally:
        lifecycle.defer_stop_signals()  # the loop took its handlers with it


def _server_url(raw: str) -> str:
    """The server's base URL, or ValueError saying what to type instead."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        example = f"http://{raw}" if "://" not in raw else "https://printrelay.example.com"
        raise ValueError(f"--server needs an http:// or https:// address, e.g. {example}")
    return raw.strip().rstrip("/")


def _pair(args: argparse.Namespace) -> int:
    from bridge_agent.api import ApiError, Unreachable
    from bridge_agent.api import pair as api_pair

    state_dir = Path(args.state_dir)
    name = args.name or socket.gethostname()
    if args.printer:
        from bridge_agent.transports import parse_printer_url

        try:
            parse_printer_url(args.printer)  # before the code is spent on a typo
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
    try:
        server = _server_url(args.server)
    except ValueError as exc:
        return _fail(f"{exc} (got {args.server!r})", EXIT_USAGE)
    try:
        result = _until_stopped(api_pair(server, args.code, name))
    except Unreachable as exc:
        return _fail(f"cannot reach the server at {server} ({exc})", EXIT_UNAVAILABLE)
    except ApiError as exc:
        if exc.status == 404 or exc.code == "unexpected_response":
            # The pairing route always exists and always answers in the contract's shape: this
            # is another web server, or the wrong path on ours (typically a trailing /v1).
            return _fail(
                f"no Printrelay server at {server} (POST {server}/v1/devices/pair answered "
                f"HTTP {exc.status}); --server is the server's base address, "
                f"e.g. {server.removesuffix('/v1')}",
                EXIT_USAGE if exc.status < 500 else EXIT_UNAVAILABLE,
            )
        message = f"pairing refused: {exc.message} ({exc.code})"
        if exc.retry_after_s is not None:
            return _fail(f"{message}; retry in {exc.retry_after_s} s", EXIT_UNAVAILABLE)
        return _fail(message, EXIT_USAGE if exc.status < 500 else EXIT_UNAVAILABLE)
    device = result["device"]
    creds = credentials.Credentials(
        server,
        result["token"],
        device["id"],
        device["name"],
        printer=args.printer,
        location_id=device.get("location_id"),
        station_id=device.get("station_id"),
    )
    try:
        path = shop.save_device(state_dir, creds)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return _fail(f"cannot save the token in {state_dir}: {why}", EXIT_USAGE)
    scope = f"station {device['station_id']}" if device["station_id"] else "the whole location"
    where = f", printing on {args.printer}" if args.printer else ""
    print(f"paired as {device['name']} ({device['id']}) for {scope}{where}; token saved in {path}")
    pid = lifecycle.StateDirLock(state_dir).holder()
    if pid is not None:
        print(
            f"the running agent{f' (pid {pid})' if pid else ''} starts serving it within a few "
            "seconds"
        )
    return EXIT_OK


def _check_fonts() -> None:
    """Say at start-up, once, which scripts this PC cannot draw: they would print as '?'."""
    from bridge_agent.render import RenderError, fonts, script_fonts

    try:
        fonts.cell_font()
    except RenderError as exc:
        log.warning("lines of CJK, Arabic, Thai or emoji will print as '?': %s", exc)
        return
    missing = script_fonts.missing_scripts()
    if missing:
        log.warning(
            "no font for %s: such text prints as '?'; install %s or set %s",
            ", ".join(missing),
            script_fonts.SCRIPT_FONT_PACKAGES,
            script_fonts.SCRIPT_FONTS_ENV,
        )
    problem = script_fonts.shaping_problem()
    if problem:
        log.warning("%s", problem)


def _run(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    devices, problems = shop.paired_devices(state_dir)
    if not devices and not problems:
        return _fail(f"not paired (no credentials in {state_dir}); run 'pair'", EXIT_USAGE)
    lock = lifecycle.StateDirLock(state_dir)
    try:
        lock.acquire()  # before any journal is opened or moved: two agents never share one
    except lifecycle.AlreadyRunning as exc:
        return _fail(str(exc), EXIT_ALREADY_RUNNING)
    except OSError as exc:
        return _fail(f"cannot lock {lock.path}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        try:
            shop.migrate_root_device(state_dir)
        except shop.UnreadableDevice:
            pass  # listed as a problem below
        except OSError as exc:
            return _fail(f"cannot move the device into {state_dir}/devices: {exc}", EXIT_USAGE)
        return _serve(args, state_dir)
    finally:
        lock.release()


def _serve(args: argparse.Namespace, state_dir: Path) -> int:
    from bridge_agent import shop_runner

    devices, problems = shop.paired_devices(state_dir)
    if not devices:
        return _fail(str(problems[0]), EXIT_USAGE)
    for unreadable in problems:
        log.error("%s; the other devices are served", unreadable)
    servable, unserved = shop_runner.plan(devices, args.printer)
    if not servable:
        return _fail("no device can print: " + "; ".join(unserved.values()), EXIT_USAGE)
    served, _ = shop_runner.admit(devices, args.printer)
    watcher = shop.DeviceWatcher(
        state_dir, [d.creds.device_id for d in devices], [p.path for p in problems]
    )
    _check_fonts()
    options = shop_runner.RunnerOptions(
        paper_width_mm=args.paper_width,
        printer_poll_s=args.status_interval,
        heartbeat_interval_s=args.heartbeat_interval,
    )
    _until_stopped(shop_runner.serve(served, options, watcher, args.printer))
    log.error("no device left to serve: each was unpaired, revoked or removed")
    return EXIT_REVOKED


def _status(args: argparse.Namespace) -> int:
    from bridge_agent import shop_status

    report = shop_status.collect(Path(args.state_dir))
    render = shop_status.render_json if args.json else shop_status.render_text
    sys.stdout.write(render(report))
    return EXIT_OK


def _install_service(args: argparse.Namespace) -> int:
    import subprocess

    from bridge_agent import service

    if not sys.platform.startswith("linux"):
        return _fail("install-service writes a systemd unit (Linux); see docs/agent.md", EXIT_USAGE)
    state_dir = Path(args.state_dir).expanduser().resolve()
    if not shop.paired_devices(state_dir)[0]:
        return _fail(f"not paired (no credentials in {state_dir}); run 'pair' first", EXIT_USAGE)
    run_args = [
        "run",
        *(["--printer", args.printer] if args.printer else []),
        "--state-dir",
        str(state_dir),
        "--paper-width",
        str(args.paper_width),
        "--log-level",
        args.log_level,
        "--log-format",
        args.log_format,
    ]
    system = args.system if args.system is not None else os.geteuid() == 0
    unit_dir = Path(args.unit_dir) if args.unit_dir else None
    try:
        unit = service.plan(run_args, state_dir, system=system, unit_dir=unit_dir, name=args.name)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if args.dry_run:
        print(f"# {unit.path}")
        print(unit.text, end="")
        for command in unit.commands:
            print("# then: " + " ".join(command))
        return EXIT_OK
    try:
        done = service.install(unit, enable=not args.no_enable)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        return _fail(f"installing {unit.path} failed: {str(detail).strip()}", EXIT_USAGE)
    for line in done:
        print(line)
    if args.no_enable:
        print("not enabled; start it with: " + " ".join(unit.commands[-1]))
    elif not system:
        print(
            "a user service starts when you log in; to start it at boot: "
            f"loginctl enable-linger {os.environ.get('USER', '$USER')}"
        )
    return EXIT_OK


def _test_print(args: argparse.Namespace) -> int:
    from bridge_agent.render import preview_text, render_job
    from bridge_agent.transports import PrinterState, TransportError, open_transport

    job = {"document": SAMPLE_TICKET, "raw": None, "copies": 1, "drawer_pulse": False}
    data = render_job(job, paper_width_mm=args.paper_width)

    async def send() -> tuple[PrinterState, str | None]:
        transport = open_transport(args.printer)
        try:
            state = await transport.status()
            if state in (PrinterState.ONLINE, PrinterState.PAPER_LOW):
                await transport.write(data)
            return state, transport.status_cause
        finally:
            await transport.close()

    print(preview_text(SAMPLE_TICKET, paper_width_mm=args.paper_width))
    try:
        state, cause = _until_stopped(send())
    except (TransportError, ValueError) as exc:
        print(f"printrelay-bridge: {exc}", file=sys.stderr)
        return EXIT_PRINTER
    if state not in (PrinterState.ONLINE, PrinterState.PAPER_LOW):
        why = f" ({cause})" if cause else ""
        print(
            f"printrelay-bridge: printer {args.printer} is {state}{why}; nothing sent",
            file=sys.stderr,
        )
        return EXIT_PRINTER
    print(f"sent {len(data)} bytes to {args.printer}")
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    """A Document or a whole Job from a JSON file, rendered here as the printer would print it."""
    from bridge_agent.render import RenderError, preview_text
    from bridge_agent.render.layout import layout_document
    from bridge_agent.render.raster import encode_png

    source = Path(args.file)
    try:
        document, job_width = _document_from(json.loads(source.read_text(encoding="utf-8")))
    except OSError as exc:
        return _fail(f"cannot read {source}: {exc.strerror or exc}", EXIT_USAGE)
    except UnicodeDecodeError:
        return _fail(f"{source} is not UTF-8 text", EXIT_USAGE)
    except json.JSONDecodeError as exc:
        return _fail(f"{source} is not JSON: {exc}", EXIT_USAGE)
    except ValueError as exc:
        return _fail(f"{source}: {exc}", EXIT_USAGE)
    width = args.paper_width or job_width
    try:
        if args.format == "text":
            sys.stdout.write(preview_text(document, paper_width_mm=width))
            return EXIT_OK
        png = encode_png(layout_document(document, paper_width_mm=width), font_path=args.font)
    except RenderError as exc:
        return _fail(f"{source} cannot be rendered: {exc}", EXIT_USAGE)
    output = Path(args.output) if args.output else source.with_suffix(".png")
    try:
        output.write_bytes(png)
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE)
    print(f"wrote {output} ({width} mm paper, {len(png)} bytes)")
    return EXIT_OK


def _printers(args: argparse.Namespace) -> int:
    """What this PC can reach: USB printers, serial ports, and with --scan a network's TCP port."""
    from bridge_agent import discovery

    if args.udev_rule:
        sys.stdout.write(discovery.UDEV_RULE.read_text(encoding="utf-8"))
        return EXIT_OK
    if args.port is not None and args.scan is None:
        return _fail("--port goes with --scan (the port the scan tries)", EXIT_USAGE)
    try:
        port = discovery.SCAN_PORT if args.port is None else args.port
        plan = discovery.scan_plan(args.scan, port) if args.scan is not None else None
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if plan is not None:
        print(f"scanning {plan.describe()}…", file=sys.stderr, flush=True)
    found = _until_stopped(discovery.discover(plan))
    if args.json:
        print(json.dumps(found.as_json(), indent=2))
        return EXIT_OK
    for line in found.as_lines():  # stdout: one printer URL a line with its status
        print(line)
    print("\n".join(found.summary()), file=sys.stderr)
    return EXIT_OK


def _document_from(data: Any) -> tuple[Any, int]:
    """The Document in a file that holds one, or a Job; and the Job's paper width (default 80)."""
    if not isinstance(data, dict):
        raise ValueError('expected a Document ({"blocks": [...]}) or a Job, as a JSON object')
    if "blocks" in data:
        return data, 80
    if data.get("document") is not None:
        width = data.get("paper_width_mm")
        return data["document"], width if width in (58, 80) else 80
    if data.get("raw") is not None:
        raise ValueError("a raw job goes to the printer untouched: there is nothing to preview")
    raise ValueError('expected a Document (with "blocks") or a Job (with "document")')


def main(argv: list[str] | None = None) -> int:
    # First: from here on a stop signal is kept for the event loop instead of killing mid-way.
    lifecycle.defer_stop_signals()
    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(DeviceLogFilter())  # names the device on every line about one
    logging.getLogger("engineio").setLevel(logging.WARNING)
    logging.getLogger("socketio").setLevel(logging.WARNING)
    try:
        return _main(argv)
    except asyncio.CancelledError:  # a stop signal (Ctrl+C, SIGTERM) cancelled the work
        log.info("stopped")
        return EXIT_OK


def _main(argv: list[str] | None) -> int:
    parser = cli_parser.build_parser(
        __doc__,
        {
            "pair": _pair,
            "run": _run,
            "install-service": _install_service,
            "status": _status,
            "test-print": _test_print,
            "preview": _preview,
            "printers": _printers,
        },
    )
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(args.log_level.upper())
    if args.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
