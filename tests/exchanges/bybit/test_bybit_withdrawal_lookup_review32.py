"""Bybit: get_withdrawals lists the account's withdrawal records, so an AmbiguousWithdrawal can be looked up.

GET /v5/asset/withdraw/query-record (docs/v5/asset/withdraw/withdraw-record.mdx): ``coin``, ``withdrawType``
(0 on chain by default, 1 off chain, 2 all), ``limit`` [1, 50], ``cursor`` from ``nextPageCursor``; the last
30 days by default; each row's ``status`` one of docs/v5/enum.mdx "withdrawStatus". No row carries the
withdrawal's ``requestId``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from bybit_helpers import answer, connect, payload

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.kernel import errors as e
from lotusx.kernel.message import Idempotency, Response
from lotusx.sim import Sim, SimConfig, serve

RECORD_PATH = "/v5/asset/withdraw/query-record"
USDT = lotusx.Withdrawal(asset="USDT", network="TRX", address="TXYZ1234", amount=Decimal("1.5"))


def row(withdraw_id: str, status: str = "success", **fields: Any) -> dict[str, Any]:
    """One record as the docs show it."""
    return {"coin": "USDT", "chain": "TRX", "amount": "1.5", "txID": "", "status": status, "toAddress": "TXYZ1234",
            "tag": "", "withdrawFee": "1", "createTime": "1742729329000", "updateTime": "1742729437000",
            "withdrawId": withdraw_id, "withdrawType": 0, **fields}


@pytest.fixture
async def instant() -> AsyncIterator[Sim]:
    """Bybit whose withdrawals complete at once."""
    async with serve(("bybit",), seed=1, config=SimConfig(driver_rate=0, withdraw_delay=0)) as running:
        yield running


def on(sim: Sim) -> Bybit:
    """A spot connector on ``sim``."""
    keys = sim.api_keys("bybit")
    return lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                          rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit"))


async def test_a_withdrawal_is_listed_pending_on_the_sim(bybit: Bybit) -> None:
    """Just made, the withdrawal is listed by its id with its exact amount and address, still PROCESSING."""
    withdrawal_id = await bybit.withdraw(USDT)
    [found] = await bybit.get_withdrawals("USDT")
    assert found == lotusx.WithdrawalStatus(withdrawal_id=withdrawal_id, asset="USDT", amount=Decimal("1.5"),
                                            status="PROCESSING", address="TXYZ1234", network="TRX")


async def test_a_withdrawal_completes_after_the_sims_delay(instant: Sim) -> None:
    """Past withdraw_delay the record reads COMPLETED, with its transaction hash."""
    async with on(instant) as ex:
        withdrawal_id = await ex.withdraw(USDT)
        [found] = await ex.get_withdrawals()
    assert (found.withdrawal_id, found.status, bool(found.tx_id)) == (withdrawal_id, "COMPLETED", True)


async def test_another_coins_withdrawals_are_not_listed(bybit: Bybit) -> None:
    """get_withdrawals("BTC") asks by coin: a USDT withdrawal is not among them."""
    await bybit.withdraw(USDT)
    assert await bybit.get_withdrawals("BTC") == []


async def test_a_client_id_is_a_config_error_before_anything_is_sent() -> None:
    """Bybit's records carry no requestId: client_id= is refused, saying what to do instead."""
    conn, transport = connect()
    async with conn as ex:
        with pytest.raises(e.ConfigError, match="requestId") as raised:
            await ex.get_withdrawals(client_id="wd-1")
    assert "coin" in str(raised.value) and not [r for r in transport.requests if r.path == RECORD_PATH]


async def test_every_page_is_walked_by_its_cursor() -> None:
    """Two pages: both pages' rows, the second asked with the first's nextPageCursor."""
    pages = [answer({"rows": [row("2")], "nextPageCursor": "c1"}), answer({"rows": [row("1")], "nextPageCursor": ""})]
    conn, transport = connect(asset_withdraw_query_record=pages)
    async with conn as ex:
        found = await ex.get_withdrawals("USDT")
    sent = [r for r in transport.requests if r.path == RECORD_PATH]
    assert [w.withdrawal_id for w in found] == ["2", "1"]
    assert [dict(r.query).get("cursor") for r in sent] == [None, "c1"]


async def test_on_and_off_chain_withdrawals_are_asked_for_fifty_a_page() -> None:
    """withdrawType 2 (all): a withdrawal to a Bybit address goes off chain, and the default lists on chain only."""
    conn, transport = connect(asset_withdraw_query_record=[answer({"rows": [], "nextPageCursor": ""})])
    async with conn as ex:
        await ex.get_withdrawals("USDT")
    [sent] = [r for r in transport.requests if r.path == RECORD_PATH]
    query = dict(sent.query)
    assert (query["coin"], query["withdrawType"], query["limit"]) == ("USDT", "2", "50")


async def test_a_cursor_sent_twice_is_a_protocol_error() -> None:
    """A venue handing out the same cursor again would loop forever: the walk stops with a ProtocolError."""
    again = [answer({"rows": [row(str(n))], "nextPageCursor": "same"}) for n in range(3)]
    conn, _ = connect(asset_withdraw_query_record=again)
    async with conn as ex:
        with pytest.raises(e.ProtocolError, match="cursor"):
            await ex.get_withdrawals()


STATUSES = [("SecurityCheck", "AWAITING_APPROVAL"), ("Pending", "PROCESSING"), ("success", "COMPLETED"),
            ("CancelByUser", "CANCELLED"), ("Reject", "REJECTED"), ("Fail", "FAILURE"),
            ("BlockchainConfirmed", "BlockchainConfirmed"), ("MoreInformationRequired", "MoreInformationRequired"),
            ("Unknown", "Unknown")]


@pytest.mark.parametrize(("venue", "ours"), STATUSES)
async def test_each_status_reads_as_binances_word_where_it_means_the_same(venue: str, ours: str) -> None:
    """docs/v5/enum.mdx withdrawStatus onto Binance's words; one Binance has no word for keeps Bybit's."""
    conn, _ = connect(asset_withdraw_query_record=[answer({"rows": [row("7", venue)], "nextPageCursor": ""})])
    async with conn as ex:
        [found] = await ex.get_withdrawals()
    assert found.status == ours


async def test_the_docs_example_decodes_exactly() -> None:
    """The docs' answer: exact amounts, chain as network, txID as tx_id, no client_id."""
    conn, _ = connect(asset_withdraw_query_record=[Response(status=200, body=payload("withdraw_record.json")),
                                                   answer({"rows": [], "nextPageCursor": ""})])
    async with conn as ex:
        first, second = await ex.get_withdrawals()
    assert (first.withdrawal_id, first.asset, first.amount, first.network, first.status, first.client_id) == (
        "131629076", "USDC", Decimal("41.43008"), "ETH", "COMPLETED", None)
    assert (second.amount, second.address, second.tx_id is not None) == (
        Decimal(951), "DhTEGye1vq2PPr8DPWit4HTDprnvnDiqpVHnHSY1Y82p", True)


async def test_a_failed_withdrawals_empty_tx_id_is_none() -> None:
    """txID "returns "" when withdrawal failed, withdrawal cancelled": None, as Binance's empty txId."""
    conn, _ = connect(asset_withdraw_query_record=[answer({"rows": [row("9", "Fail")], "nextPageCursor": ""})])
    async with conn as ex:
        [found] = await ex.get_withdrawals()
    assert found.tx_id is None


def test_the_record_endpoint_is_a_safe_read_with_its_own_pool_in_both_categories() -> None:
    """300 req/min per UID (docs/v5/rate-limit/rate-limit.mdx "Asset"), halved for a fixed window; SAFE to resend."""
    assert ep.WITHDRAW_RECORD.idempotency is Idempotency.SAFE
    for category in ep.CATEGORIES:
        assert ep.WITHDRAW_RECORD in ep.ENDPOINTS[category]
        [pool] = [p for p in ep.LIMITS[category] if p.name == ep.WITHDRAW_RECORD.name]
        assert (pool.limit, pool.per_seconds, pool.per_account) == (150, 60, True)



async def test_the_sim_pages_its_records_by_cursor(bybit: Bybit) -> None:
    """limit 1: the newest record and a cursor, then the older one and no cursor, as the docs' nextPageCursor."""
    older, newer = await bybit.withdraw(USDT), await bybit.withdraw(USDT)
    first = await bybit.rest.get(RECORD_PATH, {"limit": 1}, endpoint=ep.WITHDRAW_RECORD)
    second = await bybit.rest.get(RECORD_PATH, {"limit": 1, "cursor": first["result"]["nextPageCursor"]},
                                  endpoint=ep.WITHDRAW_RECORD)
    assert [row["withdrawId"] for row in first["result"]["rows"] + second["result"]["rows"]] == [newer, older]
    assert second["result"]["nextPageCursor"] == ""
