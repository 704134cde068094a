"""The web bridge page (/bridge/) in a real Chromium against a real server on loopback: pairing
from a code, printing through a (fake) WebSerial/WebUSB printer, failures, Resume after a reload,
two tabs of one device, and unpairing. Only navigator.serial and navigator.usb are fakes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Shop, screenshot

pytestmark = pytest.mark.slow

DRAWER_PULSE = bytes.fromhex("1b700019fa")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def status(page: Any) -> Any:
    return page.get_by_role("status")


def open_paired(context: Any, server: str, shop: Shop, *, station: bool = True) -> Any:
    page = context.new_page()
    page.goto(f"{server}/bridge/#code={shop.pairing_code(station)}")
    expect(status(page)).to_have_text("Connected")
    return page


def connect_printer(page: Any, transport: str = "Serial (WebSerial)") -> None:
    page.get_by_label(transport).check()
    page.get_by_role("button", name="Connect printer").click()
    expect(page.locator("#printer-name")).not_to_have_text("No printer connected")


def printed(page: Any) -> list[bytes]:
    return [bytes(chunk) for chunk in page.evaluate("window.__printed")]


def storage_key(shop: Shop, station: bool = True) -> str:
    key = f"printrelay:web-bridge:{shop.location_id}"
    return f"{key}:{shop.station_id}" if station else key


def test_pairs_from_a_code_and_keeps_the_token_under_the_contract_key(
    context: Any, server: str, shop: Shop
) -> None:
    page = context.new_page()
    page.goto(f"{server}/bridge/")
    expect(page.get_by_role("heading", name="Pair this browser")).to_be_visible()
    screenshot(page, "pair")

    page.goto(f"{server}/bridge/#code={shop.pairing_code()}")
    expect(status(page)).to_have_text("Connected")
    assert "code" not in page.url  # single-use secret out of the address bar
    saved = page.evaluate(f"JSON.parse(localStorage.getItem({storage_key(shop)!r}))")
    assert saved["token"].startswith("prd_")
    assert saved["device"]["kind"] == "web_bridge"
    assert saved["device"]["station_id"] == shop.station_id
    devices = shop.wait_for(
        lambda: [d for d in shop.devices() if d["online"]], "the bridge shown online"
    )
    assert [(d["kind"], d["name"]) for d in devices] == [("web_bridge", saved["device"]["name"])]


def test_a_location_bridge_keeps_its_token_under_the_location_key(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop, station=False)
    assert page.evaluate(f"localStorage.getItem({storage_key(shop, station=False)!r})")
    expect(page.locator("#device-scope")).to_have_text("Location-wide jobs (no station)")


def test_prints_a_job_with_a_drawer_pulse_byte_for_byte(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page)
    assert page.evaluate("window.__serialOpened") == {"baudRate": 9600}

    job = shop.submit(drawer_pulse=True)
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "the job printed")
    expected = shop.render(job["id"], "escpos")
    assert DRAWER_PULSE in expected
    assert b"".join(printed(page)) == expected
    expect(page.locator("#jobs li")).to_have_count(1)
    expect(page.locator("#jobs li").first).to_contain_text("printed")
    screenshot(page, "connected")


def test_prints_every_copy_with_one_pulse_over_webusb(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page, "USB (WebUSB)")
    expect(page.locator("#printer-name")).to_have_text("TM-T20III (fake)")

    job = shop.submit(copies=2, drawer_pulse=True)
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "the job printed")
    written = b"".join(printed(page))
    assert written == shop.render(job["id"], "escpos_job")
    one_copy = shop.render(job["id"], "escpos")
    assert len(written) == 2 * len(one_copy) - len(DRAWER_PULSE)
    assert written.count(DRAWER_PULSE) == 1


def test_jobs_waiting_before_the_printer_is_connected_print_once_it_is(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    first, second = shop.submit(), shop.submit()
    assert shop.job(first["id"])["status"] == "pending"  # no printer yet: not claimed

    connect_printer(page)
    for job in (first, second):
        shop.wait_for(lambda j=job: shop.job(j["id"])["status"] == "printed", "backlog printed")
    assert b"".join(printed(page)) == shop.render(first["id"]) + shop.render(second["id"])


def test_a_failing_printer_reports_failed_with_its_error(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page)
    page.evaluate("window.__printerFails = 'The device has been lost.'")

    job = shop.submit()
    failed = shop.wait_for(
        lambda: (j := shop.job(job["id"]))["status"] == "failed" and j, "the job failed"
    )
    assert failed["error"] == "printer_error: The device has been lost."
    expect(page.locator("#jobs li").first).to_contain_text("failed")
    assert printed(page) == []


def test_reload_offers_resume_and_prints_again(context: Any, server: str, shop: Shop) -> None:
    page = open_paired(context, server, shop)
    page.reload()
    expect(status(page)).to_have_text("Paired — Disconnected")
    resume = page.get_by_role("button", name="Resume")
    expect(resume).to_have_count(1)
    screenshot(page, "resume")

    resume.click()
    expect(status(page)).to_have_text("Connected")
    connect_printer(page)
    job = shop.submit()
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "printed after resume")
    assert b"".join(printed(page)) == shop.render(job["id"])


def test_a_second_tab_supersedes_the_first_and_take_over_wins_it_back(
    context: Any, server: str, shop: Shop
) -> None:
    first = open_paired(context, server, shop)
    connect_printer(first)
    second = context.new_page()  # same profile: same localStorage, same device token
    second.goto(f"{server}/bridge/")
    second.get_by_role("button", name="Resume").click()
    expect(status(second)).to_have_text("Connected")
    expect(status(first)).to_have_text("Owned by another tab")
    take_over = first.get_by_role("button", name="Take over")
    expect(take_over).to_be_visible()
    screenshot(first, "superseded")

    connect_printer(second)
    job = shop.submit()
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "printed by the owner")
    assert printed(first) == []
    assert b"".join(printed(second)) == shop.render(job["id"])

    take_over.click()
    expect(status(first)).to_have_text("Connected")
    expect(status(second)).to_have_text("Owned by another tab")
    expect(take_over).to_be_hidden()
    job = shop.submit()
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "printed after take over")
    assert b"".join(printed(first)) == shop.render(job["id"])
    assert len(printed(second)) == 1


def test_unpaired_by_a_manager_the_tab_stops_for_good(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page)
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))  # a reconnect would open one
    device_id = page.evaluate(f"JSON.parse(localStorage.getItem({storage_key(shop)!r})).device.id")

    r = shop.http.delete(f"/v1/devices/{device_id}", headers=shop.manager)
    assert r.status_code == 204
    expect(status(page)).to_have_text("Unpaired")
    expect(page.get_by_role("button", name="Connect printer")).to_be_disabled()
    assert page.evaluate(f"localStorage.getItem({storage_key(shop)!r})") is None
    screenshot(page, "unpaired")

    job = shop.submit()
    page.reload()  # nothing left to resume: the page asks for a new code
    expect(page.get_by_role("heading", name="Pair this browser")).to_be_visible()
    assert sockets == []
    assert printed(page) == []
    assert shop.job(job["id"])["status"] == "pending"


def test_unpair_button_removes_the_device_with_a_manager_key(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    page.get_by_role("button", name="Unpair", exact=True).click()
    key = page.get_by_label("Manager API key")
    expect(key).to_be_focused()
    key.fill("prk_not-a-key")
    page.get_by_role("button", name="Unpair this bridge").click()
    expect(page.locator("#message")).to_contain_text("unauthorized")
    expect(status(page)).to_have_text("Connected")  # a refused unpair changes nothing
    assert len(shop.devices()) == 1

    key.fill(shop.manager_key)
    page.get_by_role("button", name="Unpair this bridge").click()
    expect(status(page)).to_have_text("Unpaired")
    assert shop.devices() == []
    assert key.input_value() == ""  # the key is not kept in the page


def test_disconnect_this_browser_forgets_locally_only(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    page.get_by_role("button", name="Disconnect this browser").click()
    expect(page.locator("#message")).to_contain_text("forgot the bridge")
    assert page.evaluate(f"localStorage.getItem({storage_key(shop)!r})") is None
    shop.wait_for(lambda: not shop.devices()[0]["online"], "the device shown offline")
    assert len(shop.devices()) == 1  # still paired on the server

    page.get_by_role("button", name="Pair with a new code").click()
    page.get_by_label("Pairing code").fill(shop.pairing_code())
    page.get_by_label("Name of this bridge").fill("Barra")
    page.get_by_role("button", name="Pair", exact=True).click()
    expect(status(page)).to_have_text("Connected")
    expect(page.get_by_role("heading", name="Barra")).to_be_visible()


def test_a_wrong_code_says_why_and_pairs_nothing(context: Any, server: str, shop: Shop) -> None:
    page = context.new_page()
    page.goto(f"{server}/bridge/#code=NOTACODE")
    expect(page.get_by_role("heading", name="Pair this browser")).to_be_visible()
    expect(page.locator("#message")).not_to_be_empty()
    assert page.evaluate("localStorage.length") == 0
    assert shop.devices() == []


UNNAMED_CONTROLS = """() => {
    const bad = [];
    for (const b of document.querySelectorAll("button")) {
        if (!(b.textContent.trim() || b.getAttribute("aria-label"))) bad.push(b.outerHTML);
    }
    for (const f of document.querySelectorAll("input, select, textarea")) {
        if (!(f.labels?.length || f.getAttribute("aria-label"))) bad.push(f.outerHTML);
    }
    return bad;
}"""


def button_names(page: Any) -> set[str]:
    """The buttons' names as the accessibility tree gives them (visible ones only)."""
    return {b.inner_text() for b in page.get_by_role("button").all()}


def test_every_control_has_a_name_and_every_field_a_label(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    page.reload()  # the Resume list holds buttons made at run time
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert button_names(page) == {"Resume"}

    page.get_by_role("button", name="Resume").click()
    expect(status(page)).to_have_text("Connected")
    page.get_by_role("button", name="Unpair", exact=True).click()
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert button_names(page) == {
        "Connect printer",
        "Disconnect this browser",
        "Unpair",
        "Unpair this bridge",
        "Cancel",
    }
    for label in ("Serial (WebSerial)", "USB (WebUSB)", "Baud rate", "Manager API key", "Language"):
        expect(page.get_by_label(label)).to_be_visible()


def test_the_page_speaks_spanish(context: Any, server: str, shop: Shop) -> None:
    page = open_paired(context, server, shop)
    page.get_by_label("Language").select_option("es")
    expect(status(page)).to_have_text("Conectado")
    expect(page.locator("#device-scope")).to_contain_text("estación")
    expect(page.get_by_role("button", name="Conectar impresora")).to_be_visible()
    expect(page.get_by_role("button", name="Desvincular", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "es"
    screenshot(page, "connected-es")


def test_docs_render_offline(context: Any, server: str, requests_seen: list[str]) -> None:
    page = context.new_page()
    page.goto(f"{server}/docs")
    expect(page.get_by_role("heading", name=re.compile("Printrelay"))).to_be_visible()
    assert any(u.endswith("/vendor/swagger-ui/swagger-ui-bundle.js") for u in requests_seen)


def test_no_answer_for_the_bytes_is_retried_and_prints_once(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page)
    refused: list[str] = []

    def unavailable_once(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        body = '{"error": {"code": "service_unavailable", "message": "database down"}}'
        route.fulfill(status=503, content_type="application/json", body=body)

    page.route("**/render?*", unavailable_once)
    job = shop.submit()
    shop.wait_for(
        lambda: shop.job(job["id"])["status"] == "printed", "printed after a retry", page=page
    )
    assert len(refused) == 1 and "format=escpos_job" in refused[0]
    assert b"".join(printed(page)) == shop.render(job["id"])  # once: nothing written on the 503


def test_a_job_cut_off_mid_write_by_a_reload_is_reported_failed_not_printed_twice(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    connect_printer(page)
    page.evaluate("window.__printerHangs = true")
    job = shop.submit()
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "sent", "claimed by the tab")
    journal_key = f"{storage_key(shop)}:journal"
    page.wait_for_function(  # the journal says so before the first byte goes out
        "key => Object.values(JSON.parse(localStorage.getItem(key) || '{}'))"
        ".some((entry) => entry.stage === 'printing')",
        arg=journal_key,
    )

    page.reload()  # the tab closes with the write unfinished: did the paper come out?
    page.get_by_role("button", name="Resume").click()
    expect(status(page)).to_have_text("Connected")
    failed = shop.wait_for(
        lambda: (j := shop.job(job["id"]))["status"] == "failed" and j, "reported after resume"
    )
    assert failed["error"].startswith("interrupted_while_printing")
    connect_printer(page)
    other = shop.submit()
    shop.wait_for(lambda: shop.job(other["id"])["status"] == "printed", "the next job printed")
    assert b"".join(printed(page)) == shop.render(other["id"])  # never the interrupted one again
    assert page.evaluate("key => localStorage.getItem(key)", journal_key) == "{}"


def test_resume_of_a_bridge_unpaired_while_closed_forgets_it(
    context: Any, server: str, shop: Shop
) -> None:
    page = open_paired(context, server, shop)
    device_id = page.evaluate(f"JSON.parse(localStorage.getItem({storage_key(shop)!r})).device.id")
    page.close()
    assert shop.http.delete(f"/v1/devices/{device_id}", headers=shop.manager).status_code == 204

    page = context.new_page()
    page.goto(f"{server}/bridge/")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", name="Pair this browser")).to_be_visible()
    expect(page.locator("#message")).not_to_be_empty()
    assert page.evaluate(f"localStorage.getItem({storage_key(shop)!r})") is None


def test_no_page_requests_anything_but_this_server(
    context: Any, server: str, shop: Shop, requests_seen: Any
) -> None:
    """Every test's context checks this at its end too; here over one whole tour."""
    page = open_paired(context, server, shop)
    connect_printer(page)
    job = shop.submit(drawer_pulse=True)
    shop.wait_for(lambda: shop.job(job["id"])["status"] == "printed", "printed")
    page.goto(f"{server}/docs")
    expect(page.get_by_role("heading", name=re.compile("Printrelay"))).to_be_visible()
    assert requests_seen.outside(server) == []
    paths = {url.removeprefix(server).split("?")[0] for url in requests_seen}
    assert {
        "/bridge/",
        "/sdk/printrelay.js",
        "/vendor/socket.io-client/socket.io.esm.min.js",
        f"/v1/print-jobs/{job['id']}/render",
        "/vendor/swagger-ui/swagger-ui-bundle.js",
    } <= paths
    assert all(
        u.startswith("http://127.0.0.1:") or u.startswith("ws://127.0.0.1:") for u in requests_seen
    )
