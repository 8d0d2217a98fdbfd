"""Placing streams on connections when a venue caps streams per connection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def place(streams: Iterable[str], loads: Sequence[int], limit: int | None) -> dict[int, list[str]]:
    """Shard index for each new stream: fill existing shards in order, then open new ones.

    ``loads[i]`` is how many streams shard ``i`` carries; ``limit`` is the venue's cap per
    connection (``None``: no cap, everything on shard 0). Returns ``{shard: streams}``.
    """
    counts = list(loads) or [0]
    placed: dict[int, list[str]] = {}
    shard = 0
    for stream in streams:
        while limit is not None and counts[shard] >= limit:
            shard += 1
            if shard == len(counts):
                counts.append(0)
        counts[shard] += 1
        placed.setdefault(shard, []).append(stream)
    return placed
