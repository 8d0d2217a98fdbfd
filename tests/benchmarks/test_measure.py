"""The benchmark's server process: it runs where it is told, not where its parent runs."""

from __future__ import annotations

import os

import pytest

from bench.measure import Server, pin

two_cores = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                               reason="needs two cores to pin client and server apart")


@two_cores
def test_a_server_asked_for_a_core_runs_there_when_the_client_is_pinned_elsewhere() -> None:
    """A pinned client's server gets the core it was given, not the client's inherited mask."""
    mask = os.sched_getaffinity(0)
    client, other = sorted(mask)[:2]
    pin(client)
    try:
        running = Server("replay", other)
        try:
            assert os.sched_getaffinity(running.process.pid) == {other}
        finally:
            running.close()
    finally:
        os.sched_setaffinity(0, mask)


def test_a_server_not_asked_for_a_core_keeps_its_parents_mask() -> None:
    """Without a core, the server runs wherever its parent may (no pinning on one-core machines)."""
    running = Server("replay")
    try:
        assert os.sched_getaffinity(running.process.pid) == os.sched_getaffinity(0)
    finally:
        running.close()
