"""Frame pipeline vs the floor: a bare msgspec receive-and-decode loop with string prices.

    .venv/bin/python bench/bench_frames.py [messages]

Ours: ``frames(Parse(Depth | Trade), to_book)`` (and with ``Inflate()`` for gzip frames) into
typed ``Book`` events whose levels are exact (``Levels``: Decimal on access). The floor decodes
the same 20+20-level update into a Struct with ``str`` prices and does nothing else. Both are
run as pure CPU loops and as async receive loops (``await queue.get()`` then decode).
Prints msgs/s and ours/floor (target >= 0.8).
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from lotusx.ws import Inflate, Levels, Parse, frames


class Depth(msgspec.Struct, tag_field="e", tag="depthUpdate", frozen=True, gc=False):
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class Trade(msgspec.Struct, tag_field="e", tag="trade", frozen=True, gc=False):
    s: str
    p: str
    q: str


class Book(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    sequence: int
    bids: Levels
    asks: Levels


def to_book(message: Any) -> Any:
    return Book(message.s, message.u, Levels(message.b), Levels(message.a)) if type(message) is Depth else message


def update(n: int) -> str:
    return msgspec.json.encode({
        "e": "depthUpdate", "E": 1_700_000_000_000 + n, "s": "BTCUSDT", "U": n, "u": n + 1,
        "b": [[f"{50000 - i}.{n % 100:02d}", "1.23400000"] for i in range(20)],
        "a": [[f"{50001 + i}.{n % 100:02d}", "0.50000000"] for i in range(20)],
    }).decode()


def cpu(fn: Callable[[Any], Any], payloads: list[Any]) -> float:
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for payload in payloads:
            fn(payload)
        best = max(best, len(payloads) / (time.perf_counter() - start))
    return best


async def receive(fn: Callable[[Any], Any], payloads: list[Any]) -> float:
    best = 0.0
    for _ in range(5):
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for payload in payloads:
            queue.put_nowait(payload)
        start = time.perf_counter()
        for _ in range(len(payloads)):
            fn(await queue.get())
        best = max(best, len(payloads) / (time.perf_counter() - start))
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    text = [update(n) for n in range(count)]
    packed = [gzip.compress(t.encode()) for t in text]
    floor = msgspec.json.Decoder(Depth | Trade).decode
    book = frames(Parse(Depth | Trade), to_book)
    gz_book = frames(Inflate(), Parse(Depth | Trade), to_book)

    def gz_floor(data: bytes) -> Any:
        return floor(gzip.decompress(data))

    sample = book(text[0])[0]
    assert sample.bids[0] == (Decimal("50000.00"), Decimal("1.23400000"))  # exact, digits kept
    assert str(sample.bids[0][1]) == "1.23400000"
    rows = [
        ("plain cpu", cpu(floor, text), cpu(book, text)),
        ("plain receive", asyncio.run(receive(floor, text)), asyncio.run(receive(book, text))),
        ("gzip cpu (floor: gzip.decompress+decode)", cpu(gz_floor, packed), cpu(gz_book, packed)),
        ("gzip receive", asyncio.run(receive(gz_floor, packed)), asyncio.run(receive(gz_book, packed))),
    ]
    print(f"{count} depth updates (20+20 levels), best of 5")
    print(f"{'case':44} {'floor msg/s':>12} {'ours msg/s':>12} {'ratio':>6}")
    for name, base, ours in rows:
        print(f"{name:44} {base:12,.0f} {ours:12,.0f} {ours / base:6.2f}")


if __name__ == "__main__":
    main()
