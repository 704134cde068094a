"""The manager console (/console/) in a real Chromium against a real server on loopback: sign
in, station cards, Connect printer pairing a real /bridge/ tab, Unpair with its confirm step,
devices going offline, the live job list with Reprint, the receipt preview, paper width, and
accessible markup. Only navigator.serial and navigator.usb (in the bridge tabs) are fakes."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.web.conftest import Requests, Shop, screenshot
from tests.web.test_bridge_page import UNNAMED_CONTROLS, button_names, connect_printer, status

pytestmark = pytest.mark.slow

KEY_STORAGE = "printrelay:console:api-key"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def signed_in(context: Any, server: str, shop: Shop) -> Any:
    page = context.new_page()
    page.goto(f"{server}/console/")
    page.get_by_label("API key").fill(shop.manager_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#watch-state")).to_have_text("Live")
    return page


def card(page: Any, name: str = "COCINA") -> Any:
    return page.get_by_role("article").filter(has=page.get_by_role("heading", name=name))


def location_card(page: Any) -> Any:
    return card(page, "Location bridges (no station)")


def bridge_tab(context: Any, server: str, shop: Shop, *, station: bool = True) -> Any:
    page = context.new_page()
    page.goto(f"{server}/bridge/#code={shop.pairing_code(station)}")
    expect(status(page)).to_have_text("Connected")
    return page


def shop_code_pattern() -> re.Pattern[str]:
    return re.compile(r"^[A-Z0-9]{6,}$")


def loaded_width(page: Any, image: Any) -> int:
    """The picture's width in pixels once the browser has decoded it (0 had it failed)."""
    page.wait_for_function("img => img.complete", arg=image.element_handle())
    width: int = image.evaluate("img => img.naturalWidth")
    return width


def job_row(page: Any, job_id: str) -> Any:
    return page.locator(f"#jobs tr[data-job-id='{job_id}']")


def test_sign_in_refuses_a_wrong_key_and_stores_nothing(
    context: Any, server: str, shop: Shop
) -> None:
    page = context.new_page()
    page.goto(f"{server}/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "sign-in", prefix="console")

    page.get_by_label("API key").fill("prk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#message")).to_have_text(
        "This API key was not accepted. Check it and try again."
    )
    page.get_by_label("API key").fill(shop.pos_key())
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#message")).to_have_text(
        "This key is not a manager key; the console needs one."
    )
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()

    hostile = "<img src=/x onerror=window.__xss=1>"  # a device's name is the pairer's to choose
    r = shop.http.post("/v1/devices/pair", json={"code": shop.pairing_code(False), "name": hostile})
    assert r.status_code == 201, r.text
    page.get_by_label("API key").fill(shop.manager_key)
    page.get_by_role("button", name="Sign in").click()
    expect(card(page).get_by_text("No printer paired.")).to_be_visible()
    expect(location_card(page).locator(".device-name")).to_have_text(hostile)  # as text
    expect(location_card(page).locator(".last-seen")).to_have_text("not seen yet")
    assert page.evaluate("window.__xss") is None
    expect(page.locator("#message")).to_be_empty()
    assert page.get_by_label("API key").input_value() == ""
    assert page.evaluate(f"sessionStorage.getItem({KEY_STORAGE!r})") == shop.manager_key
    assert page.evaluate("localStorage.length") == 0  # never kept past the tab

    # Other tests' tenants share this server: only this tenant's locations are offered.
    terraza = shop.post("/v1/locations", {"name": "Terraza"})
    shop.post(f"/v1/locations/{terraza['id']}/stations", {"name": "BARRA"})
    page.reload()  # the same tab stays signed in
    locations = page.get_by_label("Location", exact=True)
    expect(locations).to_have_value(shop.location_id)
    expect(locations.locator("option")).to_have_text(["Main", "Terraza"])
    locations.select_option(label="Terraza")
    expect(card(page, "BARRA")).to_be_visible()
    expect(card(page, "COCINA")).to_have_count(0)
    expect(location_card(page).get_by_text("No printer paired.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_key_deleted_while_signed_in_signs_the_console_out(
    context: Any, server: str, shop: Shop
) -> None:
    second = shop.post("/v1/api-keys", {"name": "owner laptop", "role": "manager"})
    page = context.new_page()
    page.goto(f"{server}/console/")
    page.get_by_label("API key").fill(second["secret"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#watch-state")).to_have_text("Live")

    r = shop.http.delete(f"/v1/api-keys/{second['id']}", headers=shop.manager)
    assert r.status_code == 204
    expect(page.locator("#message")).to_have_text(
        "This API key no longer works (it was deleted). Sign in with another manager key."
    )
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_connect_printer_pairs_a_bridge_tab_that_the_card_shows_online(
    context: Any, server: str, shop: Shop
) -> None:
    page = signed_in(context, server, shop)
    card(page).get_by_role("button", name="Connect printer").click()
    dialog = page.get_by_role("dialog", name="Connect printer — COCINA")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    code_shown = dialog.locator("#pairing-code")
    expect(code_shown).to_have_text(shop_code_pattern())
    expect(dialog.locator("#pairing-expiry")).to_contain_text("Expires at")
    qr = dialog.get_by_role("img", name="QR code of the web bridge link")
    expect(qr).to_be_visible()
    assert loaded_width(page, qr) == 384  # drawn by POST /v1/render on 58 mm paper
    link = dialog.get_by_role("link", name="Open the web bridge with this code")
    web_code = code_shown.inner_text()
    assert link.get_attribute("href") == f"{server}/bridge/#code={web_code}"
    screenshot(page, "connect", prefix="console")

    dialog.get_by_label("Print-Bridge agent (a shop PC)").check()
    expect(code_shown).not_to_have_text(web_code)
    expect(code_shown).to_have_text(shop_code_pattern())  # not the "…" of a code on its way
    agent_code = code_shown.inner_text()
    command = dialog.get_by_label("Command on the shop PC")
    expect(command).to_have_value(f"printrelay-bridge pair --server {server} --code {agent_code}")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.bring_to_front()  # the clipboard answers only a focused document
    dialog.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text("Command copied.")
    assert page.evaluate("navigator.clipboard.readText()") == command.input_value()
    expect(link).to_be_hidden()
    dialog.get_by_label("Web bridge (a Chrome or Edge tab)").check()
    expect(code_shown).not_to_have_text(agent_code)
    expect(code_shown).to_have_text(shop_code_pattern())
    expect(link).to_have_attribute("href", re.compile(r"/bridge/#code=\w+$"))
    href = link.get_attribute("href")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(card(page).get_by_role("button", name="Connect printer")).to_be_focused()

    bridge = context.new_page()
    bridge.goto(href)
    expect(status(bridge)).to_have_text("Connected")
    device = card(page).locator(".devices li")
    expect(device).to_have_count(1)
    expect(device.locator(".chip")).to_have_text("Online")
    expect(device.locator(".kind")).to_have_text("Web bridge")
    connect_printer(bridge)  # the bridge reports its printer online
    expect(device.locator(".printer-state")).to_have_text("Printer: online")
    expect(page.locator("#monitor")).to_contain_text("is online")
    screenshot(page, "stations", prefix="console")
    paired = shop.devices()
    assert [(d["kind"], d["station_id"]) for d in paired] == [("web_bridge", shop.station_id)]


def test_unpair_asks_first_and_the_bridge_tab_stops(context: Any, server: str, shop: Shop) -> None:
    bridge = bridge_tab(context, server, shop)
    page = signed_in(context, server, shop)
    device = card(page).locator(".devices li")
    expect(device.locator(".chip")).to_have_text("Online")
    name = device.locator(".device-name").inner_text()

    device.get_by_role("button", name="Unpair").click()
    dialog = page.get_by_role("dialog", name=f"Unpair {name}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    screenshot(page, "unpair", prefix="console")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert len(shop.devices()) == 1  # Cancel changes nothing
    expect(status(bridge)).to_have_text("Connected")

    device.get_by_role("button", name="Unpair").click()
    dialog.get_by_role("button", name="Unpair").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text(f"{name} was unpaired.")
    expect(card(page).get_by_text("No printer paired.")).to_be_visible()
    expect(status(bridge)).to_have_text("Unpaired")
    expect(bridge.get_by_role("button", name="Connect printer")).to_be_disabled()
    assert shop.devices() == []


def test_a_bridge_tab_closing_shows_offline(context: Any, server: str, shop: Shop) -> None:
    page = signed_in(context, server, shop)
    bridge = bridge_tab(context, server, shop, station=False)
    device = location_card(page).locator(".devices li")
    expect(device.locator(".chip")).to_have_text("Online")

    bridge.close()
    expect(device.locator(".chip")).to_have_text("Offline")
    expect(page.locator("#monitor li").first).to_contain_text("went offline")
    expect(device.locator(".last-seen")).to_contain_text("last seen")


def test_the_job_list_is_live_and_reprint_makes_the_reprint(
    context: Any, server: str, shop: Shop
) -> None:
    earlier = shop.submit()  # before the console opens: comes from REST
    page = signed_in(context, server, shop)
    expect(job_row(page, earlier["id"]).locator(".status")).to_have_text("pending")
    expect(job_row(page, earlier["id"]).get_by_role("button", name="Reprint")).to_have_count(0)

    bridge = bridge_tab(context, server, shop)
    connect_printer(bridge)  # prints the backlog
    expect(job_row(page, earlier["id"]).locator(".status")).to_have_text("printed")

    bridge.evaluate("window.__printerFails = 'The device has been lost.'")
    failed = shop.submit()
    row = job_row(page, failed["id"])
    expect(row.locator(".status")).to_contain_text("failed")
    expect(row.locator(".status")).to_contain_text("printer_error")
    expect(row).to_contain_text("COCINA")
    expect(page.get_by_role("status")).to_have_text(f"Job {failed['id'][:8]}: failed.")
    bridge.evaluate("window.__printerFails = null")

    row.get_by_role("button", name="Reprint").click()
    reprint = shop.wait_for(
        lambda: next((j for j in list_jobs(shop) if j["reprint_of"] == failed["id"]), None),
        "the reprint job",
    )
    expect(page.get_by_role("status")).to_have_text(f"Reprint queued as job {reprint['id'][:8]}.")
    expect(job_row(page, reprint["id"]).locator(".status")).to_have_text("printed")
    expect(job_row(page, reprint["id"])).to_contain_text(f"reprint of {failed['id'][:8]}")
    assert page.locator("#jobs tr").first.get_attribute("data-job-id") == reprint["id"]
    assert len(list_jobs(shop)) == 3  # one click, one reprint
    screenshot(page, "jobs", prefix="console")


def test_the_job_list_starts_from_the_newest_fifty(context: Any, server: str, shop: Shop) -> None:
    submitted = [shop.submit()["id"] for _ in range(52)]
    page = signed_in(context, server, shop)
    rows = page.locator("#jobs tr")
    expect(rows).to_have_count(50)
    shown = [row.get_attribute("data-job-id") for row in rows.all()]
    assert shown == submitted[::-1][:50]


def list_jobs(shop: Shop) -> list[dict[str, Any]]:
    r = shop.http.get(
        "/v1/print-jobs", params={"location_id": shop.location_id}, headers=shop.manager
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_paper_width_is_saved_and_the_preview_shows_the_paper(
    context: Any, server: str, shop: Shop
) -> None:
    wide = shop.submit()
    page = signed_in(context, server, shop)
    width = card(page).get_by_label("Paper width")
    expect(width).to_have_value("80")
    width.select_option("58")
    expect(page.get_by_role("status")).to_have_text("COCINA: paper width set to 58 mm.")
    r = shop.http.get(f"/v1/locations/{shop.location_id}/stations", headers=shop.manager)
    assert [s["paper_width_mm"] for s in r.json()["items"]] == [58]
    narrow = shop.submit()

    for job, dots in ((wide, 576), (narrow, 384)):
        job_row(page, job["id"]).get_by_role("button", name=job["id"][:8]).click()
        receipt = page.get_by_role("img", name=f"Receipt of job {job['id'][:8]}")
        expect(receipt).to_be_visible()
        assert loaded_width(page, receipt) == dots
    screenshot(page, "preview", prefix="console")

    def png_unavailable(route: Any) -> None:
        body = '{"error": {"code": "service_unavailable", "message": "busy"}}'
        route.fulfill(status=503, content_type="application/json", body=body)

    page.route("**/render?format=png", png_unavailable)  # no picture: the paper as text
    job_row(page, wide["id"]).get_by_role("button", name=wide["id"][:8]).click()
    expect(page.locator("#preview-text")).to_contain_text("2x Burger")
    expect(page.locator("#preview-image")).to_be_hidden()
    page.unroute("**/render?format=png")

    raw_bytes = {"encoding": "base64", "data": base64.b64encode(b"\x1b@").decode()}
    raw = shop.submit(document=None, raw=raw_bytes)
    job_row(page, raw["id"]).get_by_role("button", name=raw["id"][:8]).click()
    expect(page.locator("#preview-text")).to_have_text(
        "A raw job (printer bytes): no picture or text to show."
    )
    expect(page.locator("#preview-image")).to_be_hidden()


def test_every_control_has_a_name_and_nothing_leaves_loopback(
    context: Any, server: str, shop: Shop, requests_seen: Requests
) -> None:
    page = context.new_page()
    page.goto(f"{server}/console/")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert button_names(page) == {"Sign in"}

    bridge_tab(context, server, shop)
    shop.submit()
    page.get_by_label("API key").fill(shop.manager_key)
    page.get_by_role("button", name="Sign in").click()
    expect(card(page).locator(".devices li .chip")).to_have_text("Online")
    expect(page.locator("#jobs tr")).to_have_count(1)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    names = button_names(page)
    assert {"Sign out", "Connect location printer", "Connect printer", "Unpair"} <= names
    for label in ("Language", "Location", "Paper width"):  # each <select> by its <label>
        expect(page.get_by_role("combobox", name=label, exact=True).first).to_be_visible()

    page.get_by_role("button", name="Connect location printer").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("Connect printer — Main (location)")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    dialog.get_by_role("button", name="Close").click()

    page.get_by_label("Language").select_option("es")
    expect(page.get_by_role("heading", name="Estaciones")).to_be_visible()
    expect(card(page).get_by_role("button", name="Conectar impresora")).to_be_visible()
    expect(card(page).get_by_role("button", name="Desvincular")).to_be_visible()
    expect(card(page).locator(".chip")).to_have_text("En línea")
    assert page.evaluate("document.documentElement.lang") == "es"
    screenshot(page, "es", prefix="console")

    assert requests_seen.outside(server) == []
    paths = {url.removeprefix(server).split("?")[0] for url in requests_seen}
    assert {
        "/console/",
        "/console/console.js",
        "/console/dialogs.js",
        "/sdk/printrelay.js",
        "/vendor/socket.io-client/socket.io.esm.min.js",
        "/web/printrelay.css",
        "/v1/render",
    } <= paths
