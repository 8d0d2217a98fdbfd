"""Dechunk: batches split into messages, multi-part messages reassembled, both capped."""

import pytest

from lotusx.metrics import Metrics
from lotusx.ws.dechunk import Dechunk, Part
from lotusx.ws.frames import Drop, frames


def part_of(payload: str | bytes) -> Part | None:
    """Test venue: parts look like `P|key|index|total|chunk`."""
    text = payload if isinstance(payload, str) else payload.decode()
    if not text.startswith("P|"):
        return None
    _, key, index, total, chunk = text.split("|", 4)
    return key, int(index), int(total), chunk


def dropped(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value(
        "lotusx_ws_dropped_messages_total", {"exchange": "x", "reason": reason}) or 0.0


class TestBatches:
    def test_newline_delimited(self) -> None:
        """One frame of newline-separated JSON yields one message per non-empty line."""
        assert frames(Dechunk(split="lines"))('{"a":1}\n{"a":2}\n\n') == ['{"a":1}', '{"a":2}']

    def test_json_array(self) -> None:
        """A JSON array batch yields each element's raw JSON."""
        assert frames(Dechunk(split="array"))(b'[{"a":1}, {"b":[2]}]') == [b'{"a":1}', b'{"b":[2]}']

    def test_array_mode_passes_objects(self) -> None:
        """In array mode a plain object frame is one message."""
        assert frames(Dechunk(split="array"))('{"a":1}') == ['{"a":1}']

    def test_broken_array_is_malformed(self) -> None:
        """A batch that is not valid JSON is counted and dropped."""
        metrics = Metrics()
        with pytest.raises(Drop):
            Dechunk(split="array", metrics=metrics, exchange="x")("[1,")
        assert metrics.registry.get_sample_value(
            "lotusx_ws_malformed_frames_total", {"exchange": "x", "reason": "batch"}) == 1

    def test_default_passes_through(self) -> None:
        """Without a split mode or part extractor a payload is one message."""
        assert Dechunk()("abc") == "abc"


class TestParts:
    def test_reassembles_in_index_order(self) -> None:
        """Parts arriving out of order yield one message once all have arrived."""
        stage = frames(Dechunk(part=part_of))
        assert stage("P|k|1|3|bb") == []
        assert stage("P|k|0|3|aa") == []
        assert stage("P|k|2|3|cc") == ["aabbcc"]

    def test_non_parts_pass_through(self) -> None:
        """A payload the extractor does not claim is delivered as is."""
        assert Dechunk(part=part_of)("hello") == "hello"

    def test_reassembled_then_split(self) -> None:
        """A reassembled message can itself be a batch."""
        stage = frames(Dechunk(split="lines", part=part_of))
        stage("P|k|0|2|x\n")
        assert stage("P|k|1|2|y") == ["x", "y"]

    def test_size_cap(self) -> None:
        """A message growing past max_size is discarded and counted."""
        metrics = Metrics()
        stage = Dechunk(part=part_of, max_size=4, metrics=metrics, exchange="x")
        with pytest.raises(Drop):
            stage("P|k|0|3|abc")
        with pytest.raises(Drop):
            stage("P|k|1|3|def")
        assert stage.pending == 0
        assert dropped(metrics, "too_large") == 1

    def test_pending_cap_evicts_oldest(self) -> None:
        """Past max_pending partial messages the oldest is evicted and counted."""
        metrics = Metrics()
        stage = frames(Dechunk(part=part_of, max_pending=2, metrics=metrics, exchange="x"))
        stage("P|a|0|2|a")
        stage("P|b|0|2|b")
        stage("P|c|0|2|c")
        assert dropped(metrics, "partial_evicted") == 1
        assert stage("P|a|1|2|A") == []  # a's first half was evicted: this starts over
        assert stage("P|c|1|2|C") == ["cC"]

    def test_inconsistent_part_is_malformed(self) -> None:
        """A part whose index or total disagrees with its message drops that message."""
        stage = Dechunk(part=part_of)
        with pytest.raises(Drop):
            stage("P|k|0|2|a")
        with pytest.raises(Drop):
            stage("P|k|5|2|b")
        assert stage.pending == 0

    def test_bytes_parts(self) -> None:
        """Binary parts join as bytes."""
        def binary_part(payload: str | bytes) -> Part | None:
            assert isinstance(payload, bytes)
            return "k", payload[0], 2, payload[1:]

        stage = frames(Dechunk(part=binary_part))
        assert stage(b"\x01world") == []
        assert stage(b"\x00hello ") == [b"hello world"]
