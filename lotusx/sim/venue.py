"""The state of one simulated venue: engines and their ledger, keys, chaos, clock, limits and the event hub."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.sim.bybit_dcp import Dcp
from lotusx.sim.chaos import Chaos
from lotusx.sim.engine import RECENT_TRADES, Balance, Engine, Fees, Fill, Ledger, Market, Order
from lotusx.sim.positions import LEVERAGE, Positions

D = Decimal
USER = "user"
MAKER = "market-maker"
USER_FUNDS = {"USDT": D(1_000_000), "BTC": D(10), "ETH": D(100)}
MAKER_FUNDS = {"USDT": D(100_000_000), "BTC": D(10_000), "ETH": D(100_000)}
# A market maker's funds in a coin the defaults lack, in steps of its market: 10,000 times the largest
# level the driver seeds (lotusx.sim.driver: up to 10,000 steps a level), so its flow never runs dry.
MAKER_STEPS = 10**8
NO_FEE = D(0)
HISTORICAL_TRADES = 10_000
"""Public trades the Binance sim keeps per symbol: its historicalTrades lists older ones than the recent
1000, for a client catching up after an outage (rest-api.md "Old trade lookup")."""
MARKETS = (Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.00001"), D(50_000)),
           Market("ETHUSDT", "ETH", "USDT", D("0.01"), D("0.0001"), D(3_000)))


@dataclass(frozen=True)
class Limits:
    """Rate limits; the defaults are the venues' documented ones, tests shrink them."""

    request_weight: int = 6000
    """Binance REQUEST_WEIGHT per minute per IP."""
    orders_10s: int = 100
    """Binance ORDERS per 10 s per account."""
    orders_1d: int = 200_000
    """Binance ORDERS per day per account."""
    ban_after: int = 10
    """429 answers in one window after which the IP is banned (HTTP 418)."""
    ban_seconds: int = 120
    """First ban length; the docs say bans scale from 2 minutes to 3 days."""
    bybit_per_second: int = 20
    """Bybit requests per second per key and endpoint."""


@dataclass(frozen=True)
class SimConfig:
    """Timing and limits of a sim; every interval in seconds."""

    limits: Limits = Limits()
    ping_interval: float = 20.0
    """Binance sends a ping frame every 20 s (web-socket-streams.md)."""
    pong_timeout: float = 60.0
    """Binance closes a connection whose pong is a minute late."""
    ws_lifetime: float = 24 * 3600.0
    """Binance and Bybit connections are closed after 24 h."""
    idle_timeout: float = 600.0
    """Bybit closes a connection that sent no ping (or anything) for this long."""
    depth_interval: float = 0.1
    """How often book changes are published as depth events. Every depth stream uses this one
    cadence (Binance's @depth, @depth@100ms and @depth@1000ms alike; Bybit's orderbook topics)."""
    driver_rate: float = 20.0
    """Random market-maker orders per second per symbol (0 stops the driver)."""
    withdraw_delay: float = 1.0
    """Seconds from a withdrawal's apply to its completion."""
    ws_messages_per_second: int | None = 5
    """Binance: incoming messages a connection may send per second (JSON requests and PING frames,
    web-socket-streams.md "WebSocket Limits"); one more closes it. PONG frames, which the docs count
    too, are not: they answer the sim's own pings, whose interval tests shorten. None: no limit."""
    max_args: int = 10
    """Bybit spot: args per subscribe request (linear has no such limit)."""
    max_args_chars: int = 21_000
    """Bybit public: characters the ``args`` of one connection may hold, spot and linear alike; the sim
    measures them as the JSON array of every topic subscribed on it."""
    markets: tuple[Market, ...] = MARKETS
    """The symbols every category lists."""
    maker_fee: Decimal = NO_FEE
    taker_fee: Decimal = NO_FEE
    """Fee rates of every fill (0.001 is 0.1 %, Binance spot's base rate for both). None by default: the
    balances the tests and the demo check stay round. Charged in what the side receives (spot) or in
    the quote coin (linear), paid into the sim's ``fees`` account (lotusx.sim.engine.Fees)."""
    buyer_fee: Decimal = NO_FEE
    seller_fee: Decimal = NO_FEE
    """Binance only: the rates added to a buying or a selling fill's maker or taker rate (its commission
    rates' ``buyer`` and ``seller``, faqs/commission_faq.md "Notional value * (taker + seller)"),
    reported as its standard commission's. Bybit has no such add-on: its engines ignore them."""
    leverage: Decimal = LEVERAGE
    """The one leverage of every linear order and position: they lock ``price * quantity / leverage`` of
    the settle coin as initial margin (lotusx.sim.engine; the sim has no per-symbol leverage setting)."""


@dataclass(frozen=True)
class ApiKeys:
    """The keys a venue accepts (fake, generated from the seed; fine to print)."""

    hmac_key: str
    hmac_secret: str = field(repr=False)
    ed25519_key: str | None = None
    ed25519_private_key: str | None = field(default=None, repr=False)
    """Base64 of the 32-byte Ed25519 seed (what pynacl's SigningKey takes)."""
    ed25519_public_key: str | None = None
    """Base64 of the 32-byte Ed25519 public key."""


@dataclass(frozen=True)
class Key:
    """One accepted API key: an HMAC secret or an Ed25519 public key, and its account."""

    account: str
    secret: str | None = field(default=None, repr=False)
    ed25519_public: bytes | None = None


@dataclass(frozen=True)
class Event:
    """Something a stream may report. ``data`` is a DepthChange, a Fill or (reason, Order, fills)."""

    kind: str  # "depth" | "trade" | "order"
    category: str
    symbol: str
    data: Any
    account: str | None = None


class Hub:
    """Fan-out of venue events to the WS connections (each filters what it subscribed)."""

    def __init__(self) -> None:
        self._subscribers: set[Callable[[Event], None]] = set()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Deliver every event to ``callback`` until the returned function is called."""
        self._subscribers.add(callback)
        return lambda: self._subscribers.discard(callback)

    @property
    def listeners(self) -> int:
        """How many subscribers (one per open WebSocket connection) events go to right now."""
        return len(self._subscribers)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber."""
        for callback in list(self._subscribers):
            callback(event)


def random_key(rng: random.Random, length: int = 64) -> str:
    """A venue-looking random alphanumeric key."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


class Venue:
    """Everything one simulated venue knows; the dialect apps read and change it."""

    def __init__(self, name: str, categories: tuple[str, ...], *, seed: int, config: SimConfig,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.chaos = Chaos()
        self.rng = random.Random(f"{name}:{seed}")
        self.hub = Hub()
        self.keys: dict[str, Key] = {}
        # One ledger for all categories, funded once: a Bybit unified trading account has one wallet,
        # so coins a linear order locks are not free for a spot order. (Binance has spot only.)
        self.accounts: Ledger = {account: {asset: Balance(free=amount) for asset, amount in funds.items()}
                                 for account, funds in ((USER, USER_FUNDS), (MAKER, MAKER_FUNDS))}
        for market in config.markets:  # a configured market in other coins: the maker must quote it as well
            self.accounts[MAKER].setdefault(market.base, Balance(free=market.step * MAKER_STEPS))
            self.accounts[MAKER].setdefault(market.quote, Balance(free=market.mid * market.step * MAKER_STEPS))
        # linear's, one-way: Bybit's contracts hold positions on margin, spot holds coins
        self.positions = Positions(leverage=config.leverage)
        self.engines = {c: self._engine(c) for c in categories}
        self.dcp = Dcp(self)  # Bybit's Disconnection Protection (Binance has none: never armed there)
        self.ws_api_logons = 0  # Binance's accepted session.logon requests (what a test reads to count them)

    def __repr__(self) -> str:
        return f"Venue({self.name!r}, categories={list(self.engines)}, chaos={self.chaos!r})"

    def now_ms(self) -> int:
        """Server time in ms, skew included."""
        return int(self.clock.time() * 1000) + self.chaos.clock_skew_ms

    def add_hmac_key(self, key: str, secret: str, account: str = USER) -> None:
        """Accept ``key`` signed with HMAC ``secret``."""
        self.keys[key] = Key(account, secret=secret)

    def add_ed25519_key(self, key: str, public_key: bytes, account: str = USER) -> None:
        """Accept ``key`` signed with the Ed25519 private half of ``public_key``."""
        self.keys[key] = Key(account, ed25519_public=public_key)

    def _engine(self, category: str) -> Engine:
        # Binance numbers each symbol's trades and lists older ones than its recent 1000 (historicalTrades).
        binance = self.name == "binance"
        add_ons = (self.config.buyer_fee, self.config.seller_fee) if binance else (NO_FEE, NO_FEE)
        fees = Fees(self.config.maker_fee, self.config.taker_fee, *add_ons, in_quote=category == "linear")
        engine = Engine(list(self.config.markets), self.now_ms, self.accounts, fees,
                        positions=self.positions if category == "linear" else None,
                        ids_per_symbol=binance, trades_kept=HISTORICAL_TRADES if binance else RECENT_TRADES)
        engine.listeners.append(lambda reason, order, fills: self._on_order(category, reason, order, fills))
        return engine

    def _on_order(self, category: str, reason: str, order: Order, fills: list[Fill]) -> None:
        # A linear fill is already in its positions (the engine books them as it trades): a stream's is after it.
        if reason == "place":
            for fill in fills:
                self.hub.publish(Event("trade", category, order.symbol, fill))
        self.hub.publish(Event("order", category, order.symbol, (reason, order, fills), account=order.account))

    def publish_depth(self) -> None:
        """Publish every book's changes since the last call (applying a pending sequence gap)."""
        gap, self.chaos.sequence_gap = self.chaos.sequence_gap, 0
        only = self.chaos.sequence_gap_symbol
        for category, engine in self.engines.items():
            for symbol, book in engine.books.items():
                if gap and only in (None, symbol):
                    book.skip(gap)
                change = book.flush()
                if change is not None:
                    self.hub.publish(Event("depth", category, symbol, change))
