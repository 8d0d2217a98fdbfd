"""Client order ids: unique per order, so a retried placement can be matched to the venue's order.

``lx-`` then a 64-bit random prefix drawn once per process (afresh in a forked child) then a
48-bit counter, 31 characters of ``[a-z0-9-]``: within Binance's ``^[.A-Z:/a-z0-9_-]{1,36}$``
and Bybit's 36 letters, digits, ``-`` and ``_``. Unique within a process by the counter, and
between processes (restarts included) unless two draw the same 64 bits. Not a secret: a
counter instead of 96 fresh random bits per order spares a ``getrandom`` syscall per order.
"""

from __future__ import annotations

import itertools
import os
import secrets

_prefix = ""
_counter = itertools.count()


def _draw() -> None:
    global _prefix, _counter
    _prefix, _counter = f"lx-{secrets.token_hex(8)}", itertools.count()


_draw()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_draw)  # a forked child would repeat its parent's ids


def client_order_id() -> str:
    """A client order id no other order of this or (almost surely) any other process has."""
    return f"{_prefix}{next(_counter):012x}"
