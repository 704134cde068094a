"""The agent's command line: the commands and what each accepts (``bridge_agent.cli`` holds
what each does). Kept apart so the 140 lines of options do not hide the commands' logic."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from bridge_agent import credentials

LOG_LEVELS = ("debug", "info", "warning", "error")

Handler = Callable[[argparse.Namespace], int]


def build_parser(
    description: str | None, handlers: Mapping[str, Handler]
) -> argparse.ArgumentParser:
    """``printrelay-bridge``'s parser; each command's ``handler`` default is ``handlers[name]``."""
    parser = argparse.ArgumentParser(
        prog="printrelay-bridge",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="what to print (default: info)"
    )
    common.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object a line, for log shippers (default: text)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state = {
        "default": str(credentials.default_state_dir()),
        "help": "where the token and journal live",
    }
    width = {"type": int, "choices": (80, 58), "default": 80, "help": "paper width in mm"}

    p = sub.add_parser(
        "pair", parents=[common], help="exchange a pairing code for this device's token"
    )
    p.add_argument("--server", required=True, help="e.g. https://printrelay.example.com")
    p.add_argument("--code", required=True, help="the code a manager created")
    p.add_argument("--name", help="how managers see this bridge (default: host name)")
    p.add_argument(
        "--printer", help="where this device prints (tcp://…, usb://…, serial://…, file://…)"
    )
    p.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    p.set_defaults(handler=handlers["pair"])

    r = sub.add_parser("run", parents=[common], help="receive and print jobs until stopped")
    r.add_argument(
        "--printer",
        help="for each device paired without --printer: tcp://host:9100, usb://VID:PID, …",
    )
    r.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    r.add_argument(
        "--paper-width",
        type=int,
        choices=(80, 58),
        default=80,
        help="paper width in mm for a job that does not carry its own (from an older server);"
        " every other job prints at its station's width (default: 80)",
    )
    r.add_argument(
        "--status-interval", type=float, default=5.0, help="seconds between printer status checks"
    )
    r.add_argument("--heartbeat-interval", type=float, default=None, help=argparse.SUPPRESS)
    r.set_defaults(handler=handlers["run"])

    i = sub.add_parser(
        "install-service",
        parents=[common],
        help="run the agent as a systemd service (Linux): write, enable and start a unit",
    )
    i.add_argument("--printer", help="as for run")
    i.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    i.add_argument("--paper-width", **width)  # type: ignore[arg-type]
    scope = i.add_mutually_exclusive_group()
    scope.add_argument(
        "--user", dest="system", action="store_false", default=None, help="a user unit"
    )
    scope.add_argument(
        "--system", dest="system", action="store_true", help="a system unit (needs root)"
    )
    i.add_argument("--name", default="printrelay-bridge", help="the unit's name")
    i.add_argument("--unit-dir", help="where the unit goes (default: systemd's for the scope)")
    i.add_argument("--dry-run", action="store_true", help="print the unit, change nothing")
    i.add_argument("--no-enable", action="store_true", help="write the unit only")
    i.set_defaults(handler=handlers["install-service"])

    st = sub.add_parser(
        "status",
        parents=[common],
        help="each paired device: server, printer, and, while the agent runs, their states",
    )
    st.add_argument("--state-dir", **state)  # type: ignore[arg-type]
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.set_defaults(handler=handlers["status"])

    t = sub.add_parser(
        "test-print", parents=[common], help="print a sample ticket (no server needed)"
    )
    t.add_argument("--printer", required=True)
    t.add_argument("--paper-width", **width)  # type: ignore[arg-type]
    t.set_defaults(handler=handlers["test-print"])

    v = sub.add_parser(
        "preview",
        parents=[common],
        help="draw a Document or Job from a JSON file as PNG or text (no server needed)",
    )
    v.add_argument("file", help="a JSON file holding a Document or a whole Job")
    v.add_argument("--format", choices=("png", "text"), default="png", help="default: png")
    v.add_argument(
        "--paper-width",
        type=int,
        choices=(80, 58),
        default=None,
        help="paper width in mm (default: the job's paper_width_mm, else 80)",
    )
    v.add_argument("--output", help="where the PNG goes (default: FILE.png beside FILE)")
    v.add_argument(
        "--font", help="a monospace .ttf for the PNG (default: DejaVu Sans Mono, as found)"
    )
    v.set_defaults(handler=handlers["preview"])

    d = sub.add_parser(
        "printers",
        parents=[common],
        help="list the printers this PC can reach: USB, serial, and a network with --scan",
    )
    d.add_argument(
        "--scan",
        metavar="CIDR",
        help="also try raw TCP printing on each address of this network (a /24 at most),"
        " e.g. 192.168.1.0/24; nothing is scanned without it",
    )
    d.add_argument("--port", type=int, help="the TCP port --scan tries (default: 9100)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument(
        "--udev-rule",
        action="store_true",
        help="print the udev rule that lets users open USB printers (Linux), and nothing else",
    )
    d.set_defaults(handler=handlers["printers"])

    return parser
