"""``printrelay-bridge``: pair this PC with a Printrelay server, run the bridge, test a printer.

    printrelay-bridge pair --server URL --code CODE [--name NAME] [--state-dir DIR]
    printrelay-bridge run --printer URL [--state-dir DIR] [--paper-width 80|58]
    printrelay-bridge test-print --printer URL [--paper-width 80|58]

Printer URLs: tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, file:///path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from pathlib import Path

from bridge_agent import credentials
from bridge_agent.api import ApiError
from bridge_agent.api import pair as api_pair

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REVOKED = 3
EXIT_PRINTER = 4

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


def _pair(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    name = args.name or socket.gethostname()
    try:
        result = asyncio.run(api_pair(args.server, args.code, name))
    except ApiError as exc:
        print(f"printrelay-bridge: pairing refused: {exc.message} ({exc.code})", file=sys.stderr)
        return EXIT_USAGE
    device = result["device"]
    creds = credentials.Credentials(args.server, result["token"], device["id"], device["name"])
    path = credentials.save(state_dir, creds)
    scope = f"station {device['station_id']}" if device["station_id"] else "the whole location"
    print(f"paired as {device['name']} ({device['id']}) for {scope}; token saved in {path}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from bridge_agent.runner import BridgeRunner
    from bridge_agent.spool import Journal
    from bridge_agent.transports import open_transport

    state_dir = Path(args.state_dir)
    creds = credentials.load(state_dir)
    if creds is None:
        print(
            f"printrelay-bridge: not paired (no credentials in {state_dir}); run 'pair'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        transport = open_transport(args.printer)
    except ValueError as exc:
        print(f"printrelay-bridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    journal = Journal(credentials.ensure_state_dir(state_dir))
    log.info(
        "bridge %s (%s) → %s, printer %s", creds.name, creds.device_id, creds.server, args.printer
    )

    async def main() -> str | None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        async with BridgeRunner(
            creds,
            transport,
            journal,
            paper_width_mm=args.paper_width,
            printer_poll_s=args.status_interval,
            heartbeat_interval_s=args.heartbeat_interval,
        ) as runner:
            return await runner.run()

    try:
        reason = asyncio.run(main())
    except asyncio.CancelledError:
        log.info("stopped")
        return EXIT_OK
    finally:
        journal.close()
    if reason in ("revoked", "unpaired", "unauthorized"):
        log.error("the server no longer accepts this device (%s); pair it again", reason)
        credentials.forget(state_dir)
        return EXIT_REVOKED
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
        state, cause = asyncio.run(send())
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("engineio").setLevel(logging.WARNING)
    logging.getLogger("socketio").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(
        prog="printrelay-bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state = {
        "default": str(credentials.default_state_dir()),
        "help": "where the token and journal live",
    }
    width = {"type": int, "choices": (80, 58), "default": 80, "help": "paper width in mm"}

    p = sub.add_parser("pair", help="exchange a pairing code for this device's token")
    p.add_argument("--server", required=True, help="e.g. https://printrelay.example.com")
    p.add_argument("--code", required=True, help="the code a manager created")
    p.add_argument("--name", help="how managers see this bridge (default: host name)")
    p.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    p.set_defaults(handler=_pair)

    r = sub.add_parser("run", help="receive and print jobs until stopped")
    r.add_argument(
        "--printer", required=True, help="tcp://host:9100, usb://VID:PID, serial://…, file://…"
    )
    r.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    r.add_argument("--paper-width", **width)  # type: ignore[arg-type]
    r.add_argument(
        "--status-interval", type=float, default=5.0, help="seconds between printer status checks"
    )
    r.add_argument("--heartbeat-interval", type=float, default=None, help=argparse.SUPPRESS)
    r.set_defaults(handler=_run)

    t = sub.add_parser("test-print", help="print a sample ticket (no server needed)")
    t.add_argument("--printer", required=True)
    t.add_argument("--paper-width", **width)  # type: ignore[arg-type]
    t.set_defaults(handler=_test_print)

    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return int(args.handler(args))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
