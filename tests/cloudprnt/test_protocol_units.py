"""The protocol's pure rules: status decoding, media choice, MACs, confirmation codes."""

from __future__ import annotations

import logging

import pytest

from app.cloudprnt import protocol
from app.models import DeviceKind, PrinterState
from app.serving import RedactSecrets, redact_secrets


@pytest.mark.parametrize(
    ("code", "asb", "state"),
    [
        ("200%20OK", "23 86 00 00 00 00 00 00 00", PrinterState.ONLINE),
        ("200 OK", None, PrinterState.ONLINE),
        ("210%20Paper%20low", None, PrinterState.PAPER_LOW),
        ("211 Paper near end", None, PrinterState.PAPER_LOW),
        ("410 Out of paper", None, PrinterState.PAPER_OUT),
        ("411 Paper jam", None, PrinterState.ERROR),
        ("420 Cover open", None, PrinterState.COVER_OPEN),
        ("400 Printer error", None, PrinterState.ERROR),
        ("510 Incompatible media type", None, PrinterState.ERROR),
        ("garbage", None, PrinterState.ERROR),
        # ASB says more than the code: cover (status 1 bit 5), paper end and near end
        # (status 4 bits 3 and 2), offline (status 1 bit 3).
        ("200 OK", "23 86 20 00 00 00 00 00 00", PrinterState.COVER_OPEN),
        ("400 Error", "23 86 08 00 00 08 00 00 00", PrinterState.PAPER_OUT),
        ("200 OK", "23 86 00 00 00 04 00 00 00", PrinterState.PAPER_LOW),
        ("200 OK", "23 86 08 00 00 00 00 00 00", PrinterState.ERROR),
        ("200 OK", "23 6 0 0 0 0 0 0 0 ", PrinterState.ONLINE),  # the guide's own example
        ("200 OK", "not hex", PrinterState.ONLINE),
    ],
)
def test_status_decodes_to_a_printer_state(code: str, asb: str | None, state: PrinterState) -> None:
    assert protocol.printer_state(code, asb) is state


def test_raw_jobs_go_in_the_first_command_language_listed() -> None:
    hi01x = "image/png; application/vnd.star.raster; application/vnd.star.line; text/plain"
    assert protocol.command_media_type(hi01x) == "application/vnd.star.line"
    assert protocol.command_media_type("image/png; image/jpeg") is None
    assert protocol.command_media_type(None) is None


@pytest.mark.parametrize(
    ("code", "printed"),
    [("200%20OK", True), ("OK", True), ("200 OK", True), ("410 Out of paper", False), ("", False)],
)
def test_confirmation_codes(code: str, printed: bool) -> None:
    assert protocol.printed(code) is printed


def test_macs_are_normalised_or_refused() -> None:
    assert protocol.normalize_mac("00-11-62-AA-BB-CC") == "00:11:62:aa:bb:cc"
    assert protocol.normalize_mac("001162aabbcc") == "00:11:62:aa:bb:cc"
    assert protocol.normalize_mac("00:11-62:aa:bb:cc") is None
    assert protocol.normalize_mac("nope") is None


def test_a_picture_cuts_once_as_its_last_cut_block_says() -> None:
    doc = {"blocks": [{"type": "text", "text": "A"}, {"type": "cut", "mode": "partial"}]}
    printed, cut = protocol.png_document(doc, copies=2)
    assert printed["blocks"] == [{"type": "text", "text": "A"}] * 2 and cut == "partial; feed=true"
    assert protocol.png_document({"blocks": []}, 1)[1] == "none; feed=true"


def test_the_access_log_never_shows_a_printers_url_secret() -> None:
    secret = "prc_" + "A1b2-C3d4_" * 4
    line = f'127.0.0.1:5 - "GET /cloudprnt/{secret}?mac=00%3A11&token=abc HTTP/1.1" 200'
    assert secret not in redact_secrets(line)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None
    )
    record.args = ("127.0.0.1:5", "POST", f"/cloudprnt/{secret}", "1.1", 200)
    RedactSecrets().filter(record)
    assert secret not in record.getMessage() and "/cloudprnt/prc_[redacted]" in record.getMessage()


def test_a_pairing_code_never_makes_a_cloudprnt_device() -> None:
    """Printers come from POST /v1/cloudprnt-printers (a URL secret), never from a code."""
    from pydantic import ValidationError

    from app.devices.schemas import PairingCodeCreate

    base = {"location_id": "00000000-0000-0000-0000-000000000001"}
    made = PairingCodeCreate.model_validate({**base, "kind": "web_bridge"})
    assert made.kind is DeviceKind.WEB_BRIDGE
    with pytest.raises(ValidationError):
        PairingCodeCreate.model_validate({**base, "kind": "cloudprnt"})
