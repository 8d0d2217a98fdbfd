"""Placing streams on connections under a venue's per-connection caps, and requests under its per-request cap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def size(stream: str) -> int:
    """What ``stream`` adds to a connection's ``max_chars`` budget: its name as it stands in a JSON
    ``args`` array, quoted and comma-separated, so the budget holds however the venue counts."""
    return len(stream) + 3


def place(streams: Iterable[str], loads: Sequence[int], limit: int | None, *, sizes: Sequence[int] = (),
          max_chars: int | None = None) -> dict[int, list[str]]:
    """Shard index for each new stream: fill existing shards in order, then open new ones.

    ``loads[i]`` is how many streams shard ``i`` carries and ``sizes[i]`` their total
    :func:`size`; ``limit`` caps the count per connection and ``max_chars`` the size
    (``None``: no cap; with neither, everything goes on shard 0). A shard carrying nothing
    takes any stream, so none is left unplaced. Returns ``{shard: streams}``.
    """
    counts = list(loads) or [0]
    chars = list(sizes) + [0] * (len(counts) - len(sizes))
    placed: dict[int, list[str]] = {}
    shard = 0
    for stream in streams:
        cost = size(stream)
        while counts[shard] and ((limit is not None and counts[shard] >= limit)
                                 or (max_chars is not None and chars[shard] + cost > max_chars)):
            shard += 1
            if shard == len(counts):
                counts.append(0)
                chars.append(0)
        counts[shard] += 1
        chars[shard] += cost
        placed.setdefault(shard, []).append(stream)
    return placed


def batches(streams: Sequence[str], max_args: int | None) -> list[list[str]]:
    """``streams`` cut into requests of at most ``max_args`` each (``None``: one request)."""
    step = max_args or len(streams) or 1
    return [list(streams[i:i + step]) for i in range(0, len(streams), step)]
