"""Inflate: gzip / zlib / raw deflate, auto-detection and the decompression-bomb cap."""

import gzip
import zlib

import pytest

from lotusx.kernel.errors import FrameTooLarge, ProtocolError
from lotusx.metrics import Metrics
from lotusx.ws.deflate import Deflate, Inflate, detect
from lotusx.ws.frames import Drop

PAYLOAD = b'{"ch":"market.btcusdt.depth.step0","tick":{"bids":[["50000.1","1.5"]]}}'


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def sample(metrics: Metrics, name: str, reason: str) -> float:
    return metrics.registry.get_sample_value(name, {"exchange": "x", "reason": reason}) or 0.0


class TestInflate:
    @pytest.mark.parametrize(("data", "mode"), [
        (gzip.compress(PAYLOAD), "gzip"), (zlib.compress(PAYLOAD), "zlib"), (raw_deflate(PAYLOAD), "raw"),
    ])
    def test_auto_detects_each_format(self, data: bytes, mode: str) -> None:
        """gzip (HTX), zlib and raw deflate (OKX) are recognised by their headers and inflated."""
        assert detect(data) == mode
        assert Inflate()(data) == PAYLOAD

    def test_configured_mode(self) -> None:
        """A configured mode skips detection."""
        assert Inflate(mode="raw")(raw_deflate(PAYLOAD)) == PAYLOAD

    def test_text_passes_through(self) -> None:
        """Text frames are not compressed and are returned as they are."""
        assert Inflate()('{"a":1}') == '{"a":1}'

    def test_bomb_raises_frame_too_large(self) -> None:
        """A frame inflating past the cap is a FrameTooLarge, without inflating it all."""
        bomb = gzip.compress(b"0" * 10_000_000)
        with pytest.raises(FrameTooLarge):
            Inflate(max_size=1024).inflate(bomb)

    def test_bomb_is_counted_and_dropped(self) -> None:
        """In a pipeline the oversized frame is dropped and counted in ws_dropped{too_large}."""
        metrics = Metrics()
        stage = Inflate(max_size=1024, metrics=metrics, exchange="x")
        with pytest.raises(Drop):
            stage(zlib.compress(b"0" * 1_000_000))
        assert sample(metrics, "lotusx_ws_dropped_messages_total", "too_large") == 1

    @pytest.mark.parametrize("mode", ["gzip", "zlib", "raw"])
    def test_small_frames_inflated_in_one_call_never_pass_the_cap(self, mode: str) -> None:
        """Frames small enough for the one-call path cannot inflate past the cap, even the most compressible."""
        compress = {"gzip": gzip.compress, "zlib": zlib.compress, "raw": raw_deflate}[mode]
        for size in (10_000, 100_000, 1_000_000):
            frame = compress(b"\0" * size, 9) if mode != "raw" else compress(b"\0" * size)
            cap = len(frame) * 1032  # the largest cap under which this frame takes the one-call path
            out = Inflate(max_size=cap)(frame)
            assert len(out) == size <= cap
        with pytest.raises(FrameTooLarge):  # and one byte over that ratio it is capped
            Inflate(max_size=len(frame) * 1032 - 1).inflate(compress(b"\0" * (len(frame) * 1032)))

    def test_exactly_at_cap_is_fine(self) -> None:
        """A frame inflating to exactly the cap is delivered."""
        assert Inflate(max_size=len(PAYLOAD))(gzip.compress(PAYLOAD)) == PAYLOAD

    def test_corrupt_frame_is_malformed(self) -> None:
        """Corrupt compressed data raises ProtocolError, and in a pipeline counts as malformed."""
        metrics = Metrics()
        corrupt = gzip.compress(PAYLOAD)[:12] + b"garbage!"
        with pytest.raises(ProtocolError):
            Inflate().inflate(corrupt)
        with pytest.raises(Drop):
            Inflate(metrics=metrics, exchange="x")(corrupt)
        assert sample(metrics, "lotusx_ws_malformed_frames_total", "inflate") == 1

    def test_deflate_is_the_same_stage(self) -> None:
        """Deflate (the design's name) and Inflate (the issue's) are one class."""
        assert Deflate is Inflate
