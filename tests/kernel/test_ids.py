"""Client order ids: distinct, within both venues' rules, and not repeated by a forked child."""

from __future__ import annotations

import os
import re

import pytest

from lotusx.kernel.ids import client_order_id

BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # newClientOrderId (rest-api.md)
BYBIT = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # orderLinkId (v5 "Place Order")


def test_every_id_is_new_and_fits_both_venues() -> None:
    """Ten thousand ids: no repeat, each one a valid Binance and Bybit client order id."""
    ids = [client_order_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(BINANCE.match(i) and BYBIT.match(i) for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_draws_ids_of_its_own() -> None:
    """Parent and child continue from one state: without a fresh prefix the child would repeat the parent's next id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next id, leave at once
        os.write(write, client_order_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    parent = client_order_id()
    assert child[:19] != parent[:19]  # "lx-" and the 16 hex of the process's prefix
