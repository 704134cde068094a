"""The SDK (/sdk/printrelay.js) as a POS app or the console uses it, in a real Chromium against a
real server: submission with an Idempotency-Key and safe retries, the contract's error shape,
watching a location, pairing codes and unpairing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.web.conftest import Shop
from tests.world import DOCUMENT

pytestmark = pytest.mark.slow

IMPORT = "const sdk = await import('/sdk/printrelay.js');"


@pytest.fixture
def page(context: Any, server: str) -> Any:
    page = context.new_page()
    page.goto(f"{server}/healthz")  # any page of the server's origin can import the module
    return page


def run(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {IMPORT} {body} }}", arg)


def job_body(shop: Shop) -> dict[str, Any]:
    return {"location_id": shop.location_id, "station_id": shop.station_id, "document": DOCUMENT}


def test_submit_retries_a_5xx_and_a_network_error_with_the_same_key(page: Any, shop: Shop) -> None:
    keys: list[str] = []
    failures = iter(["503", "abort"])

    def flaky(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        failure = next(failures, None)
        if failure == "503":
            body = {"error": {"code": "unavailable", "message": "try again"}}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(body))
        elif failure == "abort":
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/print-jobs", flaky)
    job = run(
        page,
        "return await new sdk.Client({apiKey: arg.key}).submitJob(arg.body);",
        {"key": shop.manager_key, "body": job_body(shop)},
    )
    assert len(keys) == 3 and len(set(keys)) == 1
    assert uuid.UUID(keys[0]).version == 4  # crypto.randomUUID
    assert job["status"] == "pending"
    listed = shop.http.get(
        "/v1/print-jobs", params={"location_id": shop.location_id}, headers=shop.manager
    ).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_the_same_key_twice_gives_the_same_job(page: Any, shop: Shop) -> None:
    ids = run(
        page,
        """const client = new sdk.Client({apiKey: arg.key});
        const a = await client.submitJob(arg.body, {idempotencyKey: "order-1234"});
        const b = await client.submitJob(arg.body, {idempotencyKey: "order-1234"});
        return [a.id, b.id];""",
        {"key": shop.manager_key, "body": job_body(shop)},
    )
    assert ids[0] == ids[1]


def test_errors_carry_the_contracts_code_and_are_not_retried(page: Any, shop: Shop) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/v1/print-jobs" in r.url else None)
    errors = run(
        page,
        """const catchIt = (p) => p.then(() => null, (e) => ({
            name: e.name, status: e.status, code: e.code, message: e.message}));
        return [
            await catchIt(new sdk.Client({apiKey: "prk_wrong"}).submitJob(arg.body)),
            await catchIt(new sdk.Client({apiKey: arg.key}).submitJob({...arg.body, copies: 0})),
        ];""",
        {"key": shop.manager_key, "body": job_body(shop)},
    )
    assert [(e["name"], e["status"], e["code"]) for e in errors] == [
        ("PrintrelayError", 401, "unauthorized"),
        ("PrintrelayError", 422, "validation_error"),
    ]
    assert all(e["message"] for e in errors)
    assert len(requests) == 2  # a 4xx is final: no retry


def test_watch_location_hears_every_status_change(page: Any, shop: Shop) -> None:
    page.evaluate(
        f"""async (key) => {{ {IMPORT}
        window.__events = [];
        window.__watchState = null;
        new sdk.Client({{apiKey: key}}).watchLocation({shop.location_id!r}, {{
            onJob: (job) => window.__events.push([job.id, job.status]),
            onState: (state) => {{ window.__watchState = state; }},
        }});
    }}""",
        shop.pos_key(),
    )
    page.wait_for_function("window.__watchState === 'connected'")
    job = shop.submit()
    shop.http.post(f"/v1/print-jobs/{job['id']}/cancel", headers=shop.manager)
    page.wait_for_function("window.__events.length >= 2")
    assert page.evaluate("window.__events") == [[job["id"], "pending"], [job["id"], "canceled"]]


def test_watching_another_tenants_location_is_refused(page: Any, server: str, shop: Shop) -> None:
    other = Shop(server)
    state = run(
        page,
        """return await new Promise((resolve) => {
            new sdk.Client({apiKey: arg.key}).watchLocation(arg.location, {
                onState: (state, detail) => state !== "disconnected" && resolve([state, detail]),
            });
        });""",
        {"key": shop.manager_key, "location": other.location_id},
    )
    assert state[0] == "refused"
    assert state[1]["code"] == "not_found"


def test_pairing_code_and_unpair_through_the_sdk(page: Any, shop: Shop) -> None:
    result = run(
        page,
        """const client = new sdk.Client({apiKey: arg.key});
        const {code} = await client.createPairingCode({locationId: arg.location});
        const bridge = await sdk.WebBridge.pair({code, name: "till tab", storage: sessionStorage});
        const before = (await client.listDevices(arg.location)).items.length;
        await client.unpairDevice(bridge.device.id);
        const after = (await client.listDevices(arg.location)).items.length;
        return {kind: bridge.device.kind, station: bridge.device.station_id, key: bridge.key,
                saved: sessionStorage.getItem(bridge.key) !== null, before, after};""",
        {"key": shop.manager_key, "location": shop.location_id},
    )
    assert result == {
        "kind": "web_bridge",
        "station": None,
        "key": f"printrelay:web-bridge:{shop.location_id}",
        "saved": True,
        "before": 1,
        "after": 0,
    }


def test_watch_location_sees_a_bridge_tab_come_and_go(
    context: Any, page: Any, server: str, shop: Shop
) -> None:
    page.evaluate(
        """async ([key, location]) => {
        const sdk = await import('/sdk/printrelay.js');
        window.__devices = [];
        window.__watchState = null;
        new sdk.Client({apiKey: key}).watchLocation(location, {
            onDevice: (status) => window.__devices.push(status.online),
            onState: (state) => { window.__watchState = state; },
        });
    }""",
        [shop.manager_key, shop.location_id],
    )
    page.wait_for_function("window.__watchState === 'connected'")
    tab = context.new_page()
    tab.goto(f"{server}/bridge/#code={shop.pairing_code()}")
    page.wait_for_function("window.__devices.includes(true)")
    tab.close()
    page.wait_for_function("window.__devices.at(-1) === false")


def test_watch_location_hears_a_web_bridges_printer_state(
    context: Any, page: Any, server: str, shop: Shop
) -> None:
    page.evaluate(
        """async ([key, location]) => {
        const sdk = await import('/sdk/printrelay.js');
        window.__printers = [];
        window.__watchState = null;
        new sdk.Client({apiKey: key}).watchLocation(location, {
            onPrinter: (status) => window.__printers.push([status.printer, status.state]),
            onState: (state) => { window.__watchState = state; },
        });
    }""",
        [shop.manager_key, shop.location_id],
    )
    page.wait_for_function("window.__watchState === 'connected'")
    tab = context.new_page()
    tab.goto(f"{server}/bridge/#code={shop.pairing_code()}")
    page.wait_for_function("window.__printers.length >= 1")
    tab.get_by_role("button", name="Connect printer").click()
    page.wait_for_function("window.__printers.length >= 2")
    tab.evaluate("window.__printerFails = 'cover open'")
    shop.submit()
    page.wait_for_function("window.__printers.length >= 3")
    assert page.evaluate("window.__printers") == [
        ["none", "offline"],
        ["Serial printer 04b8:0e28", "online"],
        ["Serial printer 04b8:0e28", "error"],
    ]


def test_a_web_bridge_sends_its_heartbeat(page: Any, shop: Shop) -> None:
    with page.expect_websocket() as opened:
        run(
            page,
            """const {code} = await new sdk.Client({apiKey: arg.key}).createPairingCode(
                {locationId: arg.location});
            const bridge = await sdk.WebBridge.pair({code, name: "beat", storage: sessionStorage});
            // The page's bridge beats every 30 s; this one every 0.2 s, to see it without waiting.
            bridge.heartbeatIntervalS = 0.2;
            bridge.start();""",
            {"key": shop.manager_key, "location": shop.location_id},
        )
    socket = opened.value
    socket.wait_for_event("framesent", lambda payload: '"heartbeat"' in str(payload))
    socket.wait_for_event("framereceived", lambda payload: '"owner":true' in str(payload))


def test_render_gives_text_and_a_png_blob(page: Any, shop: Shop, cell_font: None) -> None:
    job = shop.submit()
    rendered = run(
        page,
        """const client = new sdk.Client({apiKey: arg.key});
        const png = await client.renderJob(arg.id, "png");
        return {text: await client.renderJob(arg.id, "text"), type: png.type, size: png.size,
                bytes: (await client.renderJob(arg.id, "escpos")).byteLength};""",
        {"key": shop.manager_key, "id": job["id"]},
    )
    assert "COCINA" in rendered["text"]
    assert rendered["type"] == "image/png" and rendered["size"] > 100
    assert rendered["bytes"] == len(shop.render(job["id"]))
