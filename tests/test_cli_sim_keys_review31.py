"""`lotusx sim`'s closing line says how to use every key it printed, the Ed25519 seed included."""

from __future__ import annotations

import base64

import lotusx
from lotusx.cli import connect_hint, describe
from lotusx.sim import serve


async def test_the_hint_says_the_ed25519_seed_is_base64_to_decode_to_bytes() -> None:
    """With a Binance sim the hint shows the seed as Credentials takes it: base64.b64decode(ed25519_private_key)."""
    async with serve(venues=("binance",)) as sim:
        hint = connect_hint(sim)
    assert "secret=hmac_secret" in hint
    assert "secret=base64.b64decode(ed25519_private_key)" in hint


async def test_the_hint_names_no_ed25519_key_when_no_venue_printed_one() -> None:
    """A Bybit-only sim prints no Ed25519 key, so the hint speaks of the HMAC key alone."""
    async with serve(venues=("bybit",)) as sim:
        hint = connect_hint(sim)
    assert "ed25519" not in hint and "secret=hmac_secret" in hint


async def test_the_printed_seed_used_as_the_hint_says_signs_on_the_sim() -> None:
    """The printed ed25519_key and base64-decoded ed25519_private_key are accepted by the venue."""
    async with serve(venues=("binance",)) as sim:
        fields = dict(part.split("=", 1) for part in describe(sim, "binance").split()[1:])
        creds = lotusx.Credentials(api_key=fields["ed25519_key"],
                                   secret=base64.b64decode(fields["ed25519_private_key"]))
        async with lotusx.connect("binance", credentials=creds, rest_url=fields["rest"], ws_url=fields["ws"]) as ex:
            assert await ex.get_open_orders("BTCUSDT") == []
