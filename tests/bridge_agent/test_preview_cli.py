"""``printrelay-bridge preview``: the agent's pictures on the shop PC, as a real child process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bridge_agent.render import preview_text, render_png
from tests.bridge_agent.agent_cli import cli, one_line
from tests.bridge_agent.tickets import KITCHEN_TICKET, RECEIPT


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.usefixtures("cell_font")  # draws a PNG
def test_a_document_becomes_a_png_beside_the_file(tmp_path: Path) -> None:
    source = _write(tmp_path / "receipt.json", RECEIPT)
    result = cli("preview", str(source))
    assert result.returncode == 0, result.stderr
    png = (tmp_path / "receipt.png").read_bytes()
    assert png == render_png(RECEIPT, paper_width_mm=80)
    assert "receipt.png" in result.stdout and result.stderr == ""


@pytest.mark.usefixtures("cell_font")  # draws a PNG
def test_a_job_renders_at_its_own_paper_width_unless_told(tmp_path: Path) -> None:
    job = {"document": KITCHEN_TICKET, "raw": None, "copies": 1, "paper_width_mm": 58}
    source = _write(tmp_path / "job.json", job)
    assert cli("preview", str(source)).returncode == 0
    with Image.open(tmp_path / "job.png") as png:
        assert (png.mode, png.width) == ("1", 384)
    out = tmp_path / "wide.png"
    result = cli("preview", str(source), "--paper-width", "80", "--output", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(io.BytesIO(out.read_bytes())) as png:
        assert png.width == 576


def test_text_goes_to_stdout(tmp_path: Path) -> None:
    source = _write(tmp_path / "kitchen.json", KITCHEN_TICKET)
    result = cli("preview", str(source), "--format", "text", "--paper-width", "58")
    assert result.returncode == 0, result.stderr
    assert result.stdout == preview_text(KITCHEN_TICKET, paper_width_mm=58)
    assert not (tmp_path / "kitchen.png").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"blocks": [', "is not JSON"),
        ("[1, 2]", "expected a Document"),
        ('{"blocks": [{"type": "poster"}]}', "cannot be rendered: blocks[0] has an unknown type"),
        ('{"raw": {"encoding": "base64", "data": "AA=="}}', "nothing to preview"),
    ],
)
def test_a_bad_file_gets_one_line_and_exit_2(tmp_path: Path, content: str, says: str) -> None:
    source = tmp_path / "bad.json"
    source.write_text(content, encoding="utf-8")
    result = cli("preview", str(source))
    assert result.returncode == 2
    assert says in one_line(result.stderr)
    assert not (tmp_path / "bad.png").exists()


def test_a_missing_file_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    result = cli("preview", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "cannot read" in one_line(result.stderr)
