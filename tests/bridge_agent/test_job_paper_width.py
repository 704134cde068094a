"""The agent renders each job at its own ``paper_width_mm`` (its station's, sent by the server);
the agent's ``--paper-width`` is only the fallback for a job from a server that sends none."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bridge_agent.render import RenderError, job_paper_width, render_document, render_job
from tests.bridge_agent.tickets import RECEIPT


def _job(**fields: Any) -> dict[str, Any]:
    return {"document": RECEIPT, "raw": None, "copies": 1, "drawer_pulse": False, **fields}


@pytest.mark.parametrize("fallback", [58, 80])
@pytest.mark.parametrize("width", [58, 80])
def test_the_jobs_own_width_wins_over_the_agents(width: int, fallback: int) -> None:
    job = _job(paper_width_mm=width)
    assert job_paper_width(job, fallback) == width
    assert render_job(job, paper_width_mm=fallback) == render_document(
        RECEIPT, paper_width_mm=width
    )


@pytest.mark.parametrize("fallback", [58, 80])
@pytest.mark.parametrize("job", [_job(), _job(paper_width_mm=None)])
def test_a_job_without_a_width_prints_at_the_agents(job: dict[str, Any], fallback: int) -> None:
    """A server from before jobs carried a width sends none: --paper-width decides."""
    assert job_paper_width(job, fallback) == fallback
    assert render_job(job, paper_width_mm=fallback) == render_document(
        RECEIPT, paper_width_mm=fallback
    )


def test_the_two_widths_print_differently() -> None:
    """Else the tests above would hold for a renderer that ignores the width."""
    assert render_job(_job(paper_width_mm=58)) != render_job(_job(paper_width_mm=80))


@pytest.mark.parametrize("width", [76, 0, -80, 80.0, "58", True, [80]])
def test_a_width_no_paper_has_fails_the_job_clearly(width: object) -> None:
    with pytest.raises(RenderError, match="paper_width_mm must be 80 or 58"):
        render_job(_job(paper_width_mm=width))


def test_raw_bytes_ignore_the_width() -> None:
    raw = b"\x1b@^XA^FDhello^FS^XZ"
    job = {"raw": {"encoding": "base64", "data": base64.b64encode(raw).decode()}}
    assert render_job({**job, "paper_width_mm": 58}) == raw
    assert render_job({**job, "paper_width_mm": 76}) == raw  # not ours to lay out
