"""bench.idle: each REST client's own CPU per call in process, back to back and after a round trip's idle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bench.canned import capture
from bench.idle import PASS_THROUGH, Replay, idle_suite, lotusx_calls, pass_through, report
from bench.measure import Server
from bench.rest import ABLATIONS
from lotusx.kernel.message import Request

SERVER = "sim"  # the bench server the `server` fixture (conftest) runs


@pytest.fixture(scope="module")
def own(server: Server) -> dict:
    import asyncio

    return asyncio.run(idle_suite(server.info, calls=3, rounds=2))


def test_every_client_is_measured_for_both_ops_and_both_modes(own: dict) -> None:
    """floor, lotusx, lotusx without each ablated layer set and with pass-through layers added, for depth and
    order, back to back and after idle."""
    clients = {"floor", "lotusx", f"lotusx +{PASS_THROUGH} pass-through",
               *("lotusx -" + " -".join(layer.__name__ for layer in drop) for drop in ABLATIONS)}
    for mode in ("back_to_back", "after_idle"):
        assert set(own[mode]) == {"depth", "order"}
        for op in ("depth", "order"):
            assert set(own[mode][op]) == clients


async def test_each_lotusx_client_runs_the_stack_it_is_named_for(server: Server) -> None:
    """The full stack, minus exactly the ablated layers, or with the pass-through layers on top."""
    info = server.info
    replay = Replay(await capture(info["rest_url"], info["api_key"], info["secret"]), idle=0.0)
    exits: list[Any] = []
    try:
        for drop in ((), *ABLATIONS):
            await lotusx_calls(info, replay, drop, exits)
        await lotusx_calls(info, replay, (), exits, PASS_THROUGH)
        # A layer by its class, or by its own name for a function (pass_through).
        full, *ablated, padded = [[getattr(layer, "__name__", type(layer).__name__) for layer in ex.rest.layers]
                                  for ex in exits]
    finally:
        for ex in exits:
            await ex.aclose()
    for drop, layers in zip(ABLATIONS, ablated, strict=True):
        assert layers == [name for name in full if name not in {kind.__name__ for kind in drop}] != full
    assert padded == [pass_through.__name__] * PASS_THROUGH + full


def test_the_report_has_a_row_per_op_and_client(own: dict) -> None:
    """Two header lines, then one row per (op, client), each with its ratio to the floor after idle."""
    lines = report(own).splitlines()
    assert len(lines) == 2 + 2 * (3 + len(ABLATIONS))
    assert "| order | floor |" in report(own) and lines[2].endswith("| 1.00x |")


async def test_the_replay_hands_back_the_sims_answers_and_refuses_other_paths(server: Server) -> None:
    """Depth is the sim's 100-level book, an order its RESULT answer with usage headers; anything else is an error."""
    info = server.info
    replay = Replay(await capture(info["rest_url"], info["api_key"], info["secret"]), idle=0.0)
    depth = await replay(Request(method="GET", path="/api/v3/depth"))
    order = await replay(Request(method="POST", path="/api/v3/order"))
    assert len(depth.decode()["bids"]) == 100
    assert Decimal(order.decode()["origQty"]) == Decimal("0.001") and order.header("x-mbx-order-count-10s")
    with pytest.raises(AssertionError, match="no answer"):
        await replay(Request(method="GET", path="/api/v3/account"))
