"""Record and replay: a WebSocket session's inbound frames and a connector's REST exchanges, as JSON lines."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from lotusx import ConfigError, LotusXError, Request, Response, WsFrame, register_secret
from lotusx.signers import BinanceHmac, BybitHmac
from lotusx.testing import FakeClock, FakeTransport, FakeWs, Record, RecordWs, ReplayWs, replay_transport

KEY, SECRET = "K3yAbcdef0123456789", "S3cretAbcdef0123456789"


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def recorded(path: Path, *inbound: str | bytes, clock: FakeClock | None = None) -> FakeWs:
    """The inner session after every frame of ``inbound`` was read through a ``RecordWs`` into ``path``."""
    inner = FakeWs(inbound)
    session = RecordWs(inner, path, clock=clock or FakeClock())
    await session.connect()
    for _ in inbound:
        await session.next()
    await session.close()
    return inner


# ----- WebSocket -----

async def test_a_recording_starts_with_a_versioned_header(tmp_path: Path) -> None:
    """The first line names the format and its version, so the format can evolve."""
    await recorded(tmp_path / "ws.jsonl", "{}")
    assert lines(tmp_path / "ws.jsonl")[0] == {"format": "lotusx-ws", "version": 1}


async def test_text_frames_are_written_as_text_and_binary_as_base64(tmp_path: Path) -> None:
    """Each inbound frame is one line: its kind, its offset and its data (binary in base64)."""
    await recorded(tmp_path / "ws.jsonl", '{"p":"0.10"}', b"\x00\xff")
    frames = lines(tmp_path / "ws.jsonl")[1:]
    assert frames == [{"t": 0.0, "kind": "text", "data": '{"p":"0.10"}', "connect": True},
                      {"t": 0.0, "kind": "binary", "data": base64.b64encode(b"\x00\xff").decode()}]


async def test_offsets_are_monotonic_seconds_from_the_first_frame(tmp_path: Path) -> None:
    """A frame read 1.5 s after the first is written at offset 1.5."""
    path, clock = tmp_path / "ws.jsonl", FakeClock()
    inner = FakeWs(["a", "b"])
    session = RecordWs(inner, path, clock=clock)
    await session.connect()
    await clock.sleep(7.0)  # before the first frame: not counted
    await session.next()
    await clock.sleep(1.5)
    await session.next()
    assert [line["t"] for line in lines(path)[1:]] == [0.0, 1.5]


async def test_the_recorder_passes_frames_and_sends_through(tmp_path: Path) -> None:
    """The wrapped session sees every send; the reader gets every frame as the session gave it."""
    inner = FakeWs(['{"x":1}'])
    session = RecordWs(inner, tmp_path / "ws.jsonl", clock=FakeClock())
    await session.connect()
    await session.send('{"method":"SUBSCRIBE"}')
    assert await session.next() == WsFrame.text('{"x":1}')
    assert inner.sent == ['{"method":"SUBSCRIBE"}']


async def test_what_the_user_sends_never_reaches_the_file(tmp_path: Path) -> None:
    """A login message (key and signature) is sent, and not a byte of it is written."""
    path = tmp_path / "ws.jsonl"
    session = RecordWs(FakeWs(["ack"]), path, clock=FakeClock())
    await session.connect()
    await session.send(f'{{"op":"auth","args":["{KEY}",1700000000000,"deadbeefsignature"]}}')
    await session.next()
    text = path.read_text()
    assert KEY not in text and "deadbeefsignature" not in text and "auth" not in text


async def test_a_key_the_venue_echoes_in_a_frame_is_masked(tmp_path: Path) -> None:
    """Binance's session.logon answer carries the API key: a registered secret is written as [REDACTED]."""
    register_secret(KEY)
    path = tmp_path / "ws.jsonl"
    await recorded(path, f'{{"id":1,"status":200,"result":{{"apiKey":"{KEY}","authorizedSince":1}}}}')
    assert KEY not in path.read_text()
    assert lines(path)[1]["data"] == '{"id":1,"status":200,"result":{"apiKey":"[REDACTED]","authorizedSince":1}}'


async def test_a_replay_gives_the_recorded_frames_in_order(tmp_path: Path) -> None:
    """ReplayWs(path) returns the frames recorded, text as text and binary as bytes."""
    await recorded(tmp_path / "ws.jsonl", "one", b"\x01\x02", "three")
    replayed = ReplayWs(tmp_path / "ws.jsonl")
    await replayed.connect()
    assert [await replayed.next() for _ in range(3)] == [WsFrame.text("one"), WsFrame.binary(b"\x01\x02"),
                                                         WsFrame.text("three")]


async def test_an_unpaced_replay_never_sleeps(tmp_path: Path) -> None:
    """By default frames come as fast as they are read, whatever their offsets."""
    clock = FakeClock()
    await recorded(tmp_path / "ws.jsonl", "a", "b", clock=clock)
    replay_clock = FakeClock()
    replayed = ReplayWs(tmp_path / "ws.jsonl", clock=replay_clock)
    await replayed.connect()
    await replayed.next()
    await replayed.next()
    assert replay_clock.slept == []


async def test_a_paced_replay_waits_the_recorded_gaps(tmp_path: Path) -> None:
    """paced=True returns each frame at its recorded offset from the first one read."""
    path, clock = tmp_path / "ws.jsonl", FakeClock()
    session = RecordWs(FakeWs(["a", "b", "c"]), path, clock=clock)
    await session.connect()
    for gap in (0.0, 0.25, 2.0):
        await clock.sleep(gap)
        await session.next()
    replay_clock = FakeClock()
    replayed = ReplayWs(path, paced=True, clock=replay_clock)
    await replayed.connect()
    for _ in range(3):
        await replayed.next()
    assert replay_clock.slept == [0.25, 2.0]


async def test_a_replay_of_another_format_version_is_refused(tmp_path: Path) -> None:
    """A file whose header is not version 1 of the WS format is a ConfigError naming the file."""
    path = tmp_path / "ws.jsonl"
    path.write_bytes(orjson.dumps({"format": "lotusx-ws", "version": 2}) + b"\n")
    with pytest.raises(ConfigError, match=r"ws\.jsonl"):
        ReplayWs(path)


# ----- REST -----

def book(request: Request) -> Response:
    return Response(status=200, body=b'{"bids":[["0.10000000","1.5"]]}',
                    headers={"X-MBX-USED-WEIGHT-1M": "7", "Content-Type": "application/json"})


async def record_one(path: Path, request: Request, answer: FakeTransport | None = None) -> Response:
    return await Record(path)(answer or FakeTransport(book))(request)


async def test_record_writes_each_exchange_after_a_versioned_header(tmp_path: Path) -> None:
    """One line per exchange: method, path, query, status, response headers and body, exactly."""
    path = tmp_path / "rest.jsonl"
    await record_one(path, Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"), ("limit", "5"))))
    header, exchange = lines(path)
    assert header == {"format": "lotusx-rest", "version": 1}
    assert exchange == {"method": "GET", "path": "/api/v3/depth", "query": [["symbol", "BTCUSDT"], ["limit", "5"]],
                        "status": 200, "headers": [["X-MBX-USED-WEIGHT-1M", "7"], ["Content-Type", "application/json"]],
                        "body": '{"bids":[["0.10000000","1.5"]]}'}


async def test_a_binance_signed_request_leaves_no_key_secret_signature_or_timestamp(tmp_path: Path) -> None:
    """Binance's query HMAC: signature, timestamp and recvWindow are dropped, the key header is never written."""
    path = tmp_path / "rest.jsonl"
    signer = BinanceHmac(KEY, SECRET, recv_window=5000)
    order = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),))
    signed = signer.sign(order, 1_700_000_123_456)
    await record_one(path, signed)
    text = path.read_text()
    signature = dict(signed.query)["signature"]
    assert KEY not in text and SECRET not in text and signature not in text and "1700000123456" not in text
    assert "recvWindow" not in text
    assert lines(path)[1]["query"] == [["symbol", "BTCUSDT"]]


async def test_a_bybit_signed_request_leaves_no_key_secret_or_signature(tmp_path: Path) -> None:
    """Bybit's header HMAC: no request header is written, so neither key nor signature nor timestamp."""
    path = tmp_path / "rest.jsonl"
    signer = BybitHmac(KEY, SECRET)
    signed = signer.sign(Request(method="GET", path="/v5/order/realtime", query=(("category", "spot"),)),
                         1_700_000_123_456)
    await record_one(path, signed)
    text = path.read_text()
    assert signed.header("X-BAPI-SIGN")
    assert KEY not in text and SECRET not in text and signed.header("X-BAPI-SIGN") not in text
    assert "1700000123456" not in text and "X-BAPI" not in text


async def test_a_key_carried_in_the_query_is_never_written(tmp_path: Path) -> None:
    """apiKey, api_key, listenKey and sign query parameters are left out, as the log scrubber masks them."""
    path = tmp_path / "rest.jsonl"
    query = (("symbol", "BTCUSDT"), ("apiKey", KEY), ("api_key", KEY), ("listenKey", KEY), ("sign", KEY))
    await record_one(path, Request(method="GET", path="/x", query=query))
    assert KEY not in path.read_text()
    assert lines(path)[1]["query"] == [["symbol", "BTCUSDT"]]


async def test_an_error_answer_raised_by_a_layer_beneath_is_recorded(tmp_path: Path) -> None:
    """A venue rejection raised with its response (MapErrors) is written, then raised on unchanged."""
    path = tmp_path / "rest.jsonl"
    rejected = Response(status=400, body=b'{"code":-2010,"msg":"insufficient balance"}')

    async def refuse(request: Request) -> Response:
        raise LotusXError("rejected", response=rejected)

    with pytest.raises(LotusXError, match="rejected"):
        await Record(path)(refuse)(Request(method="POST", path="/api/v3/order"))
    assert lines(path)[1]["status"] == 400


async def test_a_key_a_response_echoes_is_masked(tmp_path: Path) -> None:
    """A registered secret in a response body or header is written as [REDACTED]."""
    register_secret(KEY)
    path = tmp_path / "rest.jsonl"
    echo = FakeTransport(lambda r: Response(status=200, body=f'{{"apiKey":"{KEY}"}}'.encode(), headers={"X-Key": KEY}))
    await record_one(path, Request(method="GET", path="/x"), echo)
    assert KEY not in path.read_text()


async def test_a_replay_answers_with_the_recorded_response(tmp_path: Path) -> None:
    """Status, body bytes and response headers come back as recorded."""
    path = tmp_path / "rest.jsonl"
    request = Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),))
    live = await record_one(path, request)
    replayed = await replay_transport(path)(request)
    assert (replayed.status, replayed.body) == (live.status, live.body)
    assert replayed.header("x-mbx-used-weight-1m") == "7"


async def test_a_body_that_is_not_utf8_replays_byte_for_byte(tmp_path: Path) -> None:
    """A binary body is stored in base64 and comes back as the same bytes."""
    path, request = tmp_path / "rest.jsonl", Request(method="GET", path="/blob")
    await record_one(path, request, FakeTransport(lambda r: Response(status=200, body=b"\xff\x00\xfe")))
    assert (await replay_transport(path)(request)).body == b"\xff\x00\xfe"


async def test_repeated_identical_requests_are_answered_in_recorded_order(tmp_path: Path) -> None:
    """The n-th identical request gets the n-th recorded answer."""
    path, bodies = tmp_path / "rest.jsonl", iter([b"1", b"2"])
    live = FakeTransport(lambda r: Response(status=200, body=next(bodies)))
    request = Request(method="GET", path="/api/v3/time")
    for _ in range(2):
        await record_one(path, request, live)
    replay = replay_transport(path)
    assert [(await replay(request)).body for _ in range(2)] == [b"1", b"2"]


async def test_a_replay_ignores_the_signature_and_timestamp_of_the_request(tmp_path: Path) -> None:
    """A request signed at another time matches the recording: the volatile params are left out of the match."""
    path = tmp_path / "rest.jsonl"
    signer = BinanceHmac(KEY, SECRET, recv_window=5000)
    unsigned = Request(method="GET", path="/api/v3/account")
    await record_one(path, signer.sign(unsigned, 1_700_000_000_000))
    assert (await replay_transport(path)(signer.sign(unsigned, 1_800_000_000_000))).status == 200


async def test_an_unmatched_request_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """A request the recording holds no (more) answer for raises ConfigError with its method and path."""
    path = tmp_path / "rest.jsonl"
    await record_one(path, Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),)))
    replay = replay_transport(path)
    with pytest.raises(ConfigError, match="GET /api/v3/depth"):
        await replay(Request(method="GET", path="/api/v3/depth", query=(("symbol", "ETHUSDT"),)))
    await replay(Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),)))
    with pytest.raises(ConfigError, match="DELETE /api/v3/order"):
        await replay(Request(method="DELETE", path="/api/v3/order"))
