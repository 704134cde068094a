"""The server's Socket.IO packet answers "is this binary?" exactly as python-socketio's does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from socketio import packet as upstream

from app.config import Settings
from app.json_codec import JsonObject
from app.main import create_app
from app.realtime.packets import Packet
from tests.world import ADMIN_TOKEN

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary() | st.just(bytearray(b"x")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.tuples(inner)
    ),  # not walked by either: a tuple is not a list
    max_leaves=15,
)


@settings(max_examples=500)
@given(values)
def test_same_answer_as_upstream(data: Any) -> None:
    assert Packet.data_is_binary(data) == upstream.Packet.data_is_binary(data)


def test_binary_deep_in_a_job_is_found() -> None:
    data = ["print_job.new", {"document": {"lines": [{"text": "a"}] * 50 + [{"image": b"\x00"}]}}]
    assert Packet.data_is_binary(data)
    assert Packet(upstream.EVENT, data).packet_type == upstream.BINARY_EVENT
    assert Packet(upstream.EVENT, ["x", {"lines": []}]).packet_type == upstream.EVENT


def test_the_server_builds_its_packets_with_it(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}", admin_token=ADMIN_TOKEN)
    app = create_app(settings, run_sweeper=False)
    assert app.state.sio.packet_class is Packet


def test_a_job_s_json_is_not_walked() -> None:
    """``JsonObject`` (what ``job_wire`` makes) is JSON by construction: taken as bytes-free."""
    wire = JsonObject(document={"lines": [{"text": "a"}] * 50})
    assert not Packet.data_is_binary(["print_job.new", wire])
    assert Packet.data_is_binary([{"ok": True, "job": wire}, {"raw": b"\x00"}])  # beside it
    # The trust is in the type: a JsonObject is skipped whatever it holds (never bytes).
    assert not Packet.data_is_binary([JsonObject(raw=b"\x00")])
    assert upstream.Packet.data_is_binary([JsonObject(raw=b"\x00")])
