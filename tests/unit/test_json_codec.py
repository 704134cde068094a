"""app/json_codec.py: the same values as the standard library, and ValueError for what the fast
submit path must hand to the route (NaN, numbers too large for a double, broken UTF-8)."""

from __future__ import annotations

import json

import pytest

from app import json_codec

PAYLOAD = {
    "id": "7b5a2156-d1d3-46f7-9b0f-a6c9c8cc43fa",
    "document": {"blocks": [{"type": "row", "left": "1x Ramen 拉面", "right": "47.00 €"}]},
    "copies": 2,
    "epoch": None,
    "drawer_pulse": False,
    "ratio": 0.5,
}


def test_values_survive_both_ways_as_with_the_standard_library() -> None:
    text = json_codec.dumps(PAYLOAD, separators=(",", ":"))
    assert json.loads(text) == PAYLOAD
    assert json_codec.loads(json.dumps(PAYLOAD)) == PAYLOAD
    assert json_codec.loads(text.encode()) == PAYLOAD
    assert "拉面" in text  # UTF-8, not \\u escapes


@pytest.mark.parametrize("text", ['{"copies": NaN}', '{"copies": 1' + "0" * 400 + "}", b"\xff{}"])
def test_what_the_standard_library_might_accept_is_refused_with_value_error(
    text: str | bytes,
) -> None:
    with pytest.raises(ValueError):
        json_codec.loads(text)


def test_the_response_renders_the_same_values() -> None:
    response = json_codec.FastJSONResponse(PAYLOAD, status_code=201)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == PAYLOAD
