"""Parse: typed decoding by tagged union; malformed and unknown messages are counted, not fatal."""

import msgspec
import pytest
import structlog

from lotusx.metrics import Metrics
from lotusx.ws.frames import Drop, frames
from lotusx.ws.parse import Malformed, Parse


class Trade(msgspec.Struct, tag_field="e", tag="trade", frozen=True):
    p: str
    q: str


class Depth(msgspec.Struct, tag_field="e", tag="depthUpdate", frozen=True):
    u: int


def malformed(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value(
        "lotusx_ws_malformed_frames_total", {"exchange": "x", "reason": reason}) or 0.0


class TestParse:
    def test_tag_picks_the_type(self) -> None:
        """The event-type tag routes each message to its Struct."""
        parse = Parse(Trade | Depth)
        assert parse('{"e":"trade","p":"1.5","q":"2"}') == Trade("1.5", "2")
        assert parse(b'{"e":"depthUpdate","u":7}') == Depth(7)

    def test_default_decodes_plain_json(self) -> None:
        """Without a type, messages decode to builtins."""
        assert Parse()('{"a":[1]}') == {"a": [1]}

    @pytest.mark.parametrize(("payload", "reason"), [
        ('{"e":"kline"}', "unknown"), ('{"p":"1"}', "unknown"), ('{"e":"trade","p":1,"q":"2"}', "schema"),
        ("{nope", "json"),
    ])
    def test_bad_messages_are_counted_and_dropped(self, payload: str, reason: str) -> None:
        """Unknown tags, schema mismatches and broken JSON each count under their reason."""
        metrics = Metrics()
        with pytest.raises(Drop):
            Parse(Trade | Depth, metrics=metrics, exchange="x")(payload)
        assert malformed(metrics, reason) == 1

    def test_stream_goes_on(self) -> None:
        """A bad message in a batch does not stop the good ones."""
        from lotusx.ws.dechunk import Dechunk

        pipeline = frames(Dechunk(split="lines"), Parse(Depth | Trade))
        assert pipeline('{"e":"depthUpdate","u":1}\n{bad\n{"e":"depthUpdate","u":2}') == [Depth(1), Depth(2)]

    def test_error_event_when_asked(self) -> None:
        """With errors=True a Malformed event takes the bad message's place."""
        event = Parse(Trade, errors=True)('{"e":"trade"}')
        assert isinstance(event, Malformed)
        assert event.reason == "schema"
        assert event.size == len('{"e":"trade"}')

    def test_logs_a_structured_line(self) -> None:
        """A malformed message is reported as a structured warning with its reason."""
        with structlog.testing.capture_logs() as logs:
            Parse(Trade, errors=True, exchange="x")("[]")
        assert logs[0]["event"] == "ws message malformed"
        assert logs[0]["reason"] == "schema"
        assert logs[0]["exchange"] == "x"


@pytest.mark.parametrize("data", ['{"topic":"orderbook.50.BTCUSDT","data":{"b":[[',
                                  b'{"topic":"orderbook.50.BTCUSDT","x":'])
def test_a_frame_cut_short_is_reported_with_the_stream_its_head_names(data: str | bytes) -> None:
    """Parse(name_key=...) reads the stream off a failed frame's head, text or bytes, and reports it."""
    metrics = Metrics()
    malformed = Parse(dict, errors=True, metrics=metrics, exchange="x", name_key="topic")(data)
    assert malformed == Malformed("json", malformed.error, len(data), "orderbook.50.BTCUSDT")


def test_a_failed_frame_with_another_head_names_no_stream() -> None:
    """Without the key first in the frame (or without name_key) no stream is guessed."""
    assert Parse(dict, errors=True, name_key="topic")('{"op":"pong"').stream is None
    assert Parse(dict, errors=True)('{"topic":"a"').stream is None
