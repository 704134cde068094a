"""GET /v1/print-jobs/{id}/render and POST /v1/render: one copy of a job as the agent prints it
(escpos) and as text, at the job's paper width, for whoever may read the job and nobody else.
(That the escpos answer is what a real agent writes to a TCP printer: tests/bridge_agent/
test_render_e2e.py.)"""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from bridge_agent.render import DRAWER_PULSE, render_job, render_png
from tests.bridge_agent.escpos_listing import listing
from tests.world import DOCUMENT, Tenant, World, assert_error

ESC_INIT = b"\x1b@"
RAW_BYTES = b"\x1b@RAW TICKET\n\x00\xff\x1dV\x00"
RAW = {"encoding": "base64", "data": base64.b64encode(RAW_BYTES).decode()}
# A rule is as wide as the paper; a long row wraps at it.
WIDE_DOCUMENT: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": "MESA 4", "align": "center", "size": "double"},
        {"type": "row", "left": "1x Hamburguesa completa con queso y bacon", "right": "12.50"},
        {"type": "rule", "char": "="},
        {"type": "cut"},
    ]
}
BAD_FORMATS = ["pdf", "ESCPOS", "PNG", ""]


async def _render(
    world: World, job_id: str, fmt: str | None, headers: dict[str, str]
) -> httpx.Response:
    params = {} if fmt is None else {"format": fmt}
    return await world.client.get(f"/v1/print-jobs/{job_id}/render", params=params, headers=headers)


async def _preview(
    world: World, body: Any, fmt: str | None, headers: dict[str, str]
) -> httpx.Response:
    params = {} if fmt is None else {"format": fmt}
    return await world.client.post("/v1/render", params=params, json=body, headers=headers)


async def _job(world: World, tenant: Tenant, job_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


def _rule_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and set(line) == {"="}]


# --- formats ---------------------------------------------------------------------------------


async def test_escpos_is_one_copy_of_what_the_agent_prints_drawer_pulse_included(
    world: World,
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, width=80)
    job = await tenant.job(location, station, document=WIDE_DOCUMENT, copies=3, drawer_pulse=True)
    r = await _render(world, job["id"], "escpos", tenant.pos)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    one_copy = render_job({**job, "copies": 1}, paper_width_mm=80)
    assert r.content == one_copy
    # What the agent prints is three copies; the first is this answer, pulse and all.
    printed = render_job(job, paper_width_mm=80)
    assert printed.startswith(r.content) and len(printed) > len(r.content)
    assert r.content.count(ESC_INIT) == 1
    assert r.content.count(DRAWER_PULSE) == 1
    assert listing(r.content)[:2] == [
        "ESC @ (initialise)",
        "ESC p (drawer) m=0 (pin 2) on=50ms off=500ms",
    ]
    # Rendering reads the job and changes nothing about it.
    assert await _job(world, tenant, job["id"]) == job


async def test_escpos_job_is_every_copy_the_agent_prints_with_one_pulse(world: World) -> None:
    """What a web bridge writes to its printer (app/web/static/sdk/printrelay.js)."""
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, width=58)
    for fields in ({"document": WIDE_DOCUMENT}, {"raw": RAW}):
        job = await tenant.job(location, station, copies=3, drawer_pulse=True, **fields)
        r = await _render(world, job["id"], "escpos_job", tenant.pos)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content == render_job(job, paper_width_mm=80)  # the job's own 58 mm width
        assert r.content.count(DRAWER_PULSE) == 1
        other = await world.tenant("Other")
        assert_error(await _render(world, job["id"], "escpos_job", other.pos), 404, "not_found")


async def test_escpos_without_a_drawer_pulse_has_none(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location, document=WIDE_DOCUMENT)
    r = await _render(world, job["id"], "escpos", tenant.manager)
    assert r.status_code == 200, r.text
    assert DRAWER_PULSE not in r.content
    assert r.content == render_job(job, paper_width_mm=80)


async def test_text_is_the_paper_at_its_stations_width(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BARRA", width=58)
    wide = await tenant.station(location, "COCINA", width=80)
    texts = {}
    for width, station in ((58, narrow), (80, wide)):
        job = await tenant.job(location, station, document=WIDE_DOCUMENT)
        r = await _render(world, job["id"], "text", tenant.pos)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        texts[width] = r.text
    assert _rule_lines(texts[58]) == ["=" * 32]
    assert _rule_lines(texts[80]) == ["=" * 42]
    assert max(len(line) for line in texts[58].splitlines()) == 32
    assert max(len(line) for line in texts[80].splitlines()) == 42
    # Each wraps at its own width: the row's left side, then its price flush right.
    assert texts[58].splitlines()[1:3] == [
        "1x Hamburguesa completa con",
        "queso y bacon              12.50",
    ]
    assert texts[80].splitlines()[1:3] == [
        "1x Hamburguesa completa con queso y bacon",
        " " * 37 + "12.50",
    ]


async def test_escpos_is_at_the_stations_width_and_a_location_job_at_80(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BARRA", width=58)
    cases = [(await tenant.job(location, narrow, document=WIDE_DOCUMENT), 58)]
    cases.append((await tenant.job(location, None, document=WIDE_DOCUMENT), 80))
    for job, width in cases:
        r = await _render(world, job["id"], "escpos", tenant.manager)
        assert r.status_code == 200, r.text
        assert r.content == render_job(job, paper_width_mm=width)
        rules = [line for line in listing(r.content) if line.startswith("TEXT b'==")]
        columns = 32 if width == 58 else 42
        assert rules == [f"TEXT b'{'=' * columns}'"]


@pytest.mark.usefixtures("cell_font")  # draws a PNG
async def test_png_is_the_paper_at_its_stations_width_in_1_bit(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BARRA", width=58)
    for station, dots, width in ((narrow, 384, 58), (None, 576, 80)):
        job = await tenant.job(location, station, document=WIDE_DOCUMENT)
        r = await _render(world, job["id"], "png", tenant.pos)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(r.content))
        assert (picture.format, picture.mode, picture.width) == ("PNG", "1", dots)
        # The agent's own raster renderer, at the job's width: the same picture.
        assert r.content == render_png(WIDE_DOCUMENT, paper_width_mm=width)
    raw = await tenant.job(location, narrow, raw=RAW)
    assert_error(await _render(world, raw["id"], "png", tenant.pos), 422, "not_renderable")
    preview = await _preview(world, {"document": WIDE_DOCUMENT}, "png", tenant.pos)
    assert preview.status_code == 200, preview.text
    assert preview.content == render_png(WIDE_DOCUMENT, paper_width_mm=80)


async def test_a_job_renders_at_the_width_it_was_submitted_at(world: World) -> None:
    """The stored width, as the agent prints it: a station changed later changes new jobs only."""
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, width=58)
    before = await tenant.job(location, station, document=WIDE_DOCUMENT)
    await tenant.update_station(station, paper_width_mm=80)
    after = await tenant.job(location, station, document=WIDE_DOCUMENT)
    assert (before["paper_width_mm"], after["paper_width_mm"]) == (58, 80)
    for job, columns in ((before, 32), (after, 42)):
        r = await _render(world, job["id"], "text", tenant.pos)
        assert _rule_lines(r.text) == ["=" * columns]


async def test_a_raw_job_gives_its_bytes_once_and_has_no_text(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, width=58)
    job = await tenant.job(location, station, raw=RAW, copies=3, drawer_pulse=True)
    r = await _render(world, job["id"], "escpos", tenant.pos)
    assert r.status_code == 200, r.text
    assert r.content == DRAWER_PULSE + RAW_BYTES
    assert r.content == render_job({**job, "copies": 1})
    plain = await tenant.job(location, station, raw=RAW)
    assert (await _render(world, plain["id"], "escpos", tenant.pos)).content == RAW_BYTES
    assert_error(await _render(world, job["id"], "text", tenant.pos), 422, "not_renderable")
    assert await _job(world, tenant, job["id"]) == job


@pytest.mark.parametrize("fmt", [*BAD_FORMATS, None])
async def test_an_unknown_or_missing_format_is_422(world: World, fmt: str | None) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    assert_error(await _render(world, job["id"], fmt, tenant.pos), 422, "validation_error")
    body = {"document": DOCUMENT}
    assert_error(await _preview(world, body, fmt, tenant.pos), 422, "validation_error")
    assert await _job(world, tenant, job["id"]) == job


async def test_an_unknown_query_parameter_is_422(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    r = await world.client.get(
        f"/v1/print-jobs/{job['id']}/render",
        params={"format": "text", "paper_width_mm": "58"},
        headers=tenant.pos,
    )
    assert_error(r, 422, "validation_error")


# --- preview ---------------------------------------------------------------------------------


async def test_a_preview_renders_like_a_stored_job(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, width=58)
    job = await tenant.job(location, station, document=WIDE_DOCUMENT)
    for fmt in ("escpos", "text"):
        stored = await _render(world, job["id"], fmt, tenant.pos)
        body = {"document": WIDE_DOCUMENT, "paper_width_mm": 58}
        preview = await _preview(world, body, fmt, tenant.pos)
        assert preview.status_code == 200, preview.text
        assert preview.content == stored.content
        assert preview.headers["content-type"] == stored.headers["content-type"]
    default = await _preview(world, {"document": WIDE_DOCUMENT}, "text", tenant.manager)
    assert default.status_code == 200, default.text
    assert _rule_lines(default.text) == ["=" * 42]
    escpos = await _preview(world, {"document": WIDE_DOCUMENT}, "escpos", tenant.manager)
    assert escpos.content == render_job({"document": WIDE_DOCUMENT}, paper_width_mm=80)
    assert DRAWER_PULSE not in escpos.content


def _bad_previews() -> list[Any]:
    blocks = WIDE_DOCUMENT["blocks"]
    return [
        {},
        {"document": None},
        {"document": {"blocks": []}},
        {"document": {"blocks": [{"type": "poem", "text": "x"}]}},
        {"document": {"blocks": [{"type": "barcode", "data": "12", "symbology": "EAN13"}]}},
        {"document": WIDE_DOCUMENT, "paper_width_mm": 76},
        {"document": WIDE_DOCUMENT, "paper_width_mm": "58"},
        {"document": WIDE_DOCUMENT, "copies": 2},
        {"blocks": blocks},
        {"raw": RAW},
        [WIDE_DOCUMENT],
    ]


@pytest.mark.parametrize("body", _bad_previews())
async def test_a_bad_preview_body_is_422_and_stores_nothing(world: World, body: Any) -> None:
    tenant = await world.tenant()
    assert_error(await _preview(world, body, "text", tenant.pos), 422, "validation_error")
    r = await world.client.get("/v1/print-jobs", headers=tenant.manager)
    assert r.json()["items"] == []


async def test_a_preview_body_that_is_not_json_is_422(world: World) -> None:
    tenant = await world.tenant()
    r = await world.client.post(
        "/v1/render",
        params={"format": "text"},
        content=b"{not json",
        headers={**tenant.pos, "Content-Type": "application/json"},
    )
    assert_error(r, 422, "validation_error")


async def test_a_preview_is_for_pos_and_manager_keys_only(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    body = {"document": DOCUMENT}
    assert_error(await _preview(world, body, "text", device.headers), 403, "forbidden")
    assert_error(await _preview(world, body, "text", {}), 401, "unauthorized")


# --- scope -----------------------------------------------------------------------------------


async def test_another_tenants_job_is_404_like_a_missing_one(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    other = await world.tenant("Other")
    their_location = await other.location()
    theirs = await other.job(their_location)
    missing = "00000000-0000-4000-8000-000000000000"
    for headers in (tenant.manager, tenant.pos, device.headers):
        for fmt in ("escpos", "text"):
            foreign = await _render(world, theirs["id"], fmt, headers)
            assert_error(foreign, 404, "not_found")
            assert foreign.json() == (await _render(world, missing, fmt, headers)).json()
    assert (await _render(world, theirs["id"], "escpos", other.pos)).status_code == 200


async def test_a_device_renders_only_jobs_in_its_scope(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    kitchen = await tenant.station(location, "COCINA")
    bar = await tenant.station(location, "BARRA", width=58)
    kitchen_bridge = await tenant.device(location, kitchen, online=True)
    location_bridge = await tenant.device(location, None, online=True)
    elsewhere = await tenant.device(await tenant.location("Terraza"), None, online=True)
    kitchen_job = await tenant.job(location, kitchen)
    bar_job = await tenant.job(location, bar, document=WIDE_DOCUMENT)
    location_job = await tenant.job(location, None)

    async def seen(device_headers: dict[str, str]) -> list[int]:
        jobs = (kitchen_job, bar_job, location_job)
        return [(await _render(world, j["id"], "text", device_headers)).status_code for j in jobs]

    # The station bridge: its station's jobs only.
    assert await seen(kitchen_bridge.headers) == [200, 404, 404]
    # The location bridge: jobs without a station, and a station's while it has no online
    # station bridge (the kitchen has one, the bar has none).
    assert await seen(location_bridge.headers) == [404, 200, 200]
    assert await seen(elsewhere.headers) == [404, 404, 404]
    # The bar's job renders at the bar's width for the bridge that would print it.
    text = (await _render(world, bar_job["id"], "text", location_bridge.headers)).text
    assert _rule_lines(text) == ["=" * 32]
    # Exactly the rule of GET /v1/print-jobs/{id} for a device.
    for device in (kitchen_bridge, location_bridge, elsewhere):
        for job in (kitchen_job, bar_job, location_job):
            read = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=device.headers)
            rendered = await _render(world, job["id"], "escpos", device.headers)
            assert read.status_code == rendered.status_code


async def test_no_credential_or_a_bad_one_is_401(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    for headers in ({}, {"Authorization": "Bearer prk_never-issued"}):
        assert_error(await _render(world, job["id"], "escpos", headers), 401, "unauthorized")
        # Before the format or the body is looked at.
        assert_error(await _render(world, job["id"], "bogus", headers), 401, "unauthorized")
        assert_error(await _preview(world, {}, "text", headers), 401, "unauthorized")


# --- off the delivery path -------------------------------------------------------------------


async def test_renders_run_in_bounded_threads_while_jobs_flow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renders that hold their threads (a stand-in renderer that waits to be released) take
    ``RENDER_THREADS`` threads at most, and a job is submitted, read and claimed meanwhile."""
    import asyncio
    import threading

    from app.print_jobs import rendering

    release, full = threading.Event(), threading.Event()
    lock = threading.Lock()
    running = [0]
    most = [0]

    def held_render(job: Any, paper_width_mm: int) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == rendering.RENDER_THREADS:
                full.set()
        release.wait(timeout=30)
        with lock:
            running[0] -= 1
        return b"held"

    held = rendering.RenderFormat("text/plain; charset=utf-8", held_render, "held")
    monkeypatch.setitem(rendering.FORMATS, "text", held)
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location, online=True)
    previews = [
        asyncio.create_task(_preview(world, {"document": DOCUMENT}, "text", tenant.pos))
        for _ in range(3 * rendering.RENDER_THREADS)
    ]
    assert await asyncio.to_thread(full.wait, 30)
    job = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    assert not any(p.done() for p in previews)  # still held: the job went past them
    release.set()
    answers = await asyncio.gather(*previews)
    assert [a.content for a in answers] == [b"held"] * len(previews)
    assert most[0] == rendering.RENDER_THREADS
