"""Account streams that stay complete across stream gaps: ``follow_orders``, ``follow_balances``, ``follow_positions``,
``follow_fills``; and the public trades of one symbol, ``follow_trades``.

No venue replays the updates a private stream missed while it was down. So after a
:class:`~lotusx.ws.Gap`, once the stream delivers again (normally its
:class:`~lotusx.ws.Resumed`, when the venue re-acked the subscription), the followers ask the
venue by REST what changed meanwhile.

Orders: the orders open now; every order the venue lists as changed since the gap began (so
an order placed *and* filled or cancelled while the stream was down is reported too); and
the current state of each order last seen open that neither query answered for. An order's
update is yielded only if it tells something new (status, fill, quantity or price changed)
and is not older than what was yielded for it before, so nothing already reported comes
again, and updates the stream queued while the queries ran never move an order back in time.
A query that fails for a passing reason is asked again after a short wait (see
:data:`RECONCILE_WAITS`); one that still fails, or fails otherwise, ends the iteration.

Balances: the whole account, with every asset seen before and absent now reported as zero.
An asset's balance older (by the venue's time) than the one last yielded for it is dropped.

Positions: every open position, with every one seen open before and absent now reported flat.

Fills: every execution since the gap began, those not yielded yet, oldest first.

Public trades: the venue's recent trades from the last one yielded, those not yielded yet, oldest first.

A :class:`Backfill` in the messages is a gap that starts at a venue time given in ms: the next
message reconciles from that time itself, by the same queries. An account watch's ``since=``
puts one (and a ``Resumed``) once its stream is live (:meth:`lotusx.ws.ReconnectWs.live`).

Also here, for the connectors' ``cancel_order``: :func:`cancel_once`, which makes a cancel
retried after a lost answer report the order it cancelled, not "unknown order"; and for their
``place_order``: :func:`placement`, which reads a placement's answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import msgspec

from lotusx.kernel.errors import (
    AmbiguousOrderState,
    AmbiguousWithdrawal,
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    IpBanned,
    LotusXError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.layers.retry import may_have_executed
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.models import Balance, Fill, NewOrder, Order, Position, Trade
from lotusx.ws.delivery import Gap, Lost

TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
"""Statuses after which an order never changes again."""

_REMEMBERED = 10_000  # finished orders whose last yielded state is kept (least recently updated go first)

GAP_SLACK = 10.0
"""Seconds asked for before a gap besides the silent-link allowance: clock offset error, venue latency."""

RECONCILE_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds waited before each retry of a reconcile's query that failed for a passing reason.

One budget per reconcile, shared by all its queries: a reconcile waits at most their sum, and
the failure that finds them used up ends the iteration. Bybit's order lists "may delay" behind
its engine (docs v5/order/order-list), so an order the stream just showed can be unknown to
them for a moment; a transport error, a 5xx or a throttle has outlasted ``Retry`` by then.
"""

Key = tuple[str, str]  # (symbol, order id)
T = TypeVar("T")
_log = get_logger("lotusx.account")


class Backfill(msgspec.Struct, frozen=True):
    """Reconcile from venue time ``since`` (ms) at the next message, as after a gap that began then.

    What an account watch's ``since=`` puts in the stream it follows (then a ``Resumed``), once
    the stream is live: the changes since then not missed but made before it listened. Unlike a
    :class:`~lotusx.ws.Gap`'s, its start is exact (:func:`gap_start_ms`): nothing older is asked.
    A ``Gap`` after it and before the next message leaves it as it is: that gap began later.
    """

    since: int


GapStart = float | Backfill
"""Where a reconcile starts: a :class:`~lotusx.ws.Gap`'s local time (the earliest pending), or a :class:`Backfill`."""

OrdersSince = Callable[[GapStart, frozenset[str]], Awaitable[list[Order]]]
"""``orders_since(gap_time, symbols)``: the orders that changed since a gap began (see :func:`follow_orders`)."""


def gap_start_ms(gap_time: GapStart, offset: float, silent: float) -> int:
    """The venue time (ms) from which a stream gap marked at ``gap_time`` may have hidden changes.

    A :class:`~lotusx.ws.Gap` is marked (on the local clock) when the link is found dead, and a
    link that died silently is found only after its heartbeat's idle timeout, ``silent`` seconds;
    ``offset`` (venue minus local, :attr:`lotusx.layers.clock.ServerClock.offset`) moves the time
    onto the venue's clock, which is the clock its order times and query windows use. A
    :class:`Backfill` starts at its own venue time: the caller named it, nothing died silently.
    """
    if isinstance(gap_time, Backfill):
        return gap_time.since
    return int((gap_time + offset - silent - GAP_SLACK) * 1000)


def venue_ms(name: str, value: object) -> None:
    """A ``ConfigError`` unless ``value`` (called ``name``) is a venue time in ms: an int, not negative."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} is a venue time in ms (an int, e.g. get_server_time()), got {value!r}")
    if value < 0:
        raise ConfigError(f"{name} is a venue time in ms, got the negative {value}")


def checked_since(watch: str, since: int | None, now: float) -> int | None:
    """An account watch's ``since`` (venue ms), checked against ``now`` (the venue's time, seconds).

    Later than now, give or take :data:`GAP_SLACK` (the venue's clock is known to within its
    offset's error), or negative, no reconcile could start there: a ``ConfigError``.
    """
    if since is None:
        return None
    venue_ms(f"{watch} since", since)
    if since > (now + GAP_SLACK) * 1000:
        raise ConfigError(f"{watch} since={since} is in the future (the venue's time is about {int(now * 1000)} ms)")
    return since


def _pending(gap: GapStart | None, marker: Gap | Backfill) -> GapStart:
    """Where the next reconcile starts, after ``marker``: the earliest gap, and a Backfill over any gap."""
    if isinstance(marker, Backfill):
        return marker
    if gap is None:
        return marker.time
    return gap if isinstance(gap, Backfill) else min(gap, marker.time)


# A history walk asks one request a window: past this many, ``since`` is in seconds (1970 as ms) or
# a span no rate limit carries (Binance: 1000 days of 24-hour windows, 20 weight each).
MAX_WINDOWS = 1000


def windows(since: int, until: int, span: int) -> list[tuple[int, int]]:
    """The consecutive ``(start, end)`` ms windows, inclusive and at most ``span`` long, covering ``[since, until]``.

    Venues cap how far apart an order history query's startTime and endTime may be. A ``since``
    that is no int, negative, or more than :data:`MAX_WINDOWS` windows back is a ``ConfigError``.
    """
    venue_ms("since", since)
    venue_ms("until", until)
    count = (until - since) // span + 1
    if count > MAX_WINDOWS:
        raise ConfigError(f"since={since} is {count} requests back from {until} (the venue lists at most {span} ms "
                          f"a request; {MAX_WINDOWS} at most here): since is a venue time in ms, not seconds "
                          "(multiply by 1000); for a longer span, ask part by part")
    return [(start, min(start + span - 1, until)) for start in range(since, until + 1, span)]


def placement(request: Request, response: Response, type: type[T], metrics: Metrics, exchange: str) -> T:
    """``response``, the successful answer to the placement ``request``, decoded into ``type``.

    An answer that does not decode is ``AmbiguousOrderState``, never a ``DecodeError``: the venue
    said yes (an error status or code is raised as its typed error before this), so the order
    most likely exists, but its id and state are lost. A ``DecodeError`` would read as one more
    refusal, and a caller placing again under a new client id would place it twice.
    """
    try:
        return response.decode(type)
    except DecodeError as exc:
        client_order_id = str(request.ext["client_order_id"])
        metrics.ambiguous_orders.labels(exchange, request.endpoint.name, "unreadable_answer").inc()
        raise AmbiguousOrderState(f"{request.method} {request.path}: order state unknown, the venue accepted it "
                                  f"but its answer is unreadable ({exc.message})",
                                  client_order_id=client_order_id, response=response) from exc


async def withdrawal_answer(send: Awaitable[Response], client_id: str | None) -> Response:
    """The venue's answer to a withdrawal ``send`` sends; one with no answer to tell is ``AmbiguousWithdrawal``.

    A timeout, a connection lost after the request left, a 5xx, or a venue code that is no
    documented refusal (a server failure, "busy", one the docs do not list: the venues' errors
    modules make it a ``ServerError``) may have moved the funds: raised as they are, they read as
    "not done", and a caller asking again would move them twice. A failure that proves nothing
    left (no connection) or a venue's refusal is raised as it is. The venue's code and message,
    if any, stay on the error.
    """
    try:
        return await send
    except LotusXError as exc:
        if isinstance(exc, AmbiguousWithdrawal) or not may_have_executed(exc):
            raise
        told = f"{type(exc).__name__}: {exc.message}" if exc.message else type(exc).__name__
        raise AmbiguousWithdrawal(f"withdrawal state unknown, no answer to tell ({told})", client_id=client_id,
                                  code=exc.code, venue_message=exc.venue_message, status=exc.status,
                                  response=exc.response) from exc


def withdrawn(response: Response, type: type[T], client_id: str | None) -> T:
    """``response``, the successful answer to a withdrawal, decoded into ``type``.

    An answer that does not decode is ``AmbiguousWithdrawal``, never a ``DecodeError``, for the
    reason :func:`placement` gives: the venue said yes, and a caller asking again would move the
    funds twice.
    """
    try:
        return response.decode(type)
    except DecodeError as exc:
        raise AmbiguousWithdrawal(f"withdrawal state unknown, the venue accepted it but its answer is unreadable "
                                  f"({exc.message})", client_id=client_id, response=response) from exc


async def cancel_once(cancel: Awaitable[Order], get_order: Callable[[], Awaitable[Order]]) -> Order:
    """The order ``cancel`` cancelled; on ``NotFound``, the order if it is already cancelled.

    Retry re-sends a cancel whose answer was lost (cancelling is safe to repeat); when the
    first attempt went through, the venue answers the second with "unknown order". An order
    ``get_order()`` finds CANCELED is the outcome the caller asked for; anything else (filled,
    or truly unknown) keeps the venue's ``NotFound``.

    So does a cancel whose retries ran out on an outcome that may have executed (a 5xx, a
    timeout, a lost answer): its order is read once, and found CANCELED it is the answer, where
    the error would leave the caller unsure whether the order still rests. Found otherwise, or
    unreadable, the cancel's own error stands. A definite refusal, or a cancel that never left,
    is raised as it came: the order was not touched.
    """
    try:
        return await cancel
    except NotFound as missing:
        try:
            order = await get_order()
        except NotFound:
            raise missing from None
        if order.status != "CANCELED":
            raise
        return order
    except LotusXError as failed:
        if not may_have_executed(failed):
            raise
        found = await _read_back(get_order)
        if found is None or found.status != "CANCELED":
            raise  # the cancel's own error, its cause kept (the lookup's never chained onto it)
        return found


async def _read_back(get_order: Callable[[], Awaitable[Order]]) -> Order | None:
    """The order as ``get_order()`` reads it, or ``None`` if that fails too."""
    try:
        return await get_order()
    except LotusXError:
        return None


def as_asked(asked: NewOrder, got: Order, *, quote: Decimal | None = None, reusable: bool = False,
             earlier: bool = False, metrics: Metrics | None = None, exchange: str = "", endpoint: str = "") -> Order:
    """``got``, the order the venue holds under the client id ``asked`` was placed with, if it is ``asked``.

    A placement retried after a lost answer comes back as the order its first attempt placed
    (reconciled by client id, ``lotusx.layers.retry``), and a placement sent again under the
    same id returns the order already there. But an id reused for a different order (another
    symbol or side, a limit order's other price or size, a MARKET order sized otherwise) names
    someone else's order: that is a ``DuplicateClientOrderId``, never that order handed back as
    if this one were placed. ``quote`` is the quote amount the venue reports ``got`` was sized
    by: 0 for an order sized by quantity, ``None`` when the venue does not say.
    On a venue that takes a closed order's id again (``reusable``: Binance spot), a closed order
    found under it that is another order, or ``earlier`` (created before this placement began,
    even one asked alike), proves nothing about ``asked``, which may be placed (or still land):
    ``AmbiguousOrderState``, never a refusal that would invite a second order, counted in
    ``metrics``' ``ambiguous_orders_total{exchange,endpoint,cause="closed_order"}``.
    """
    other = (got.symbol.upper() != asked.symbol.upper() or got.side != asked.side
             or _sized_otherwise(asked, got, quote))
    if reusable and got.status in TERMINAL and (other or earlier):
        which = "an earlier, closed order" if earlier else "a closed order"
        if metrics is not None:
            metrics.ambiguous_orders.labels(exchange, endpoint, "closed_order").inc()
        raise AmbiguousOrderState(
            f"client order id {got.client_order_id!r} names {which} ({got.side} {got.quantity} {got.symbol} at "
            f"{got.price}, {got.status}), not the one asked for, which may exist", client_order_id=got.client_order_id)
    if other:
        raise DuplicateClientOrderId(
            f"client order id {got.client_order_id!r} is taken by another order ({got.side} {got.quantity} "
            f"{got.symbol} at {got.price}, {got.status})")
    return got


def _sized_otherwise(asked: NewOrder, got: Order, quote: Decimal | None) -> bool:
    """Whether the venue's report of ``got`` shows a price or size other than ``asked``'s.

    Only what the venue echoes exactly is compared. A MARKET order's price is none, and its
    quantity, when it was sized by a quote amount, is what the venue made of it (Binance
    reports the base quantity it computed): so a quote-sized one is compared by its quote
    amount, and only when the venue says how the order was sized.
    """
    if asked.type != "MARKET":
        return ((asked.price is not None and got.price != asked.price)
                or (asked.quantity is not None and got.quantity != asked.quantity))
    if asked.quote_quantity is not None:
        return quote is not None and quote != asked.quote_quantity
    # Sized by quantity: reported as asked (Binance origQty, Bybit qty), with no quote amount.
    return bool(quote) or got.quantity != asked.quantity


async def follow_orders(messages: AsyncIterator[Any], *, orders: Callable[[Any], Iterable[Order]],
                        open_orders: Callable[[], Awaitable[list[Order]]], orders_since: OrdersSince,
                        get_order: Callable[[Order], Awaitable[Order]], clock: Clock = SYSTEM_CLOCK,
                        metrics: Metrics | None = None, exchange: str = "") -> AsyncGenerator[Order, None]:
    """Yield the order updates in ``messages``, reconciled by REST after every gap.

    ``orders(message)`` reads the order updates a stream message carries (none for others);
    ``open_orders()`` lists every open order of the account; ``orders_since(gap_time, symbols)``
    lists the orders, closed ones included, that changed since the gap marked at ``gap_time``
    (the earliest :attr:`Gap.time <lotusx.ws.Gap.time>` since the last reconcile) began, or since
    a :class:`Backfill`'s time (``gap_time`` is then that Backfill), where
    ``symbols`` are those of every order remembered or open now (for a venue that is asked one
    symbol at a time); ``get_order(last)`` fetches the current state of an order last seen as
    ``last``.

    A query that fails for a passing reason (a ``TransportError`` other than ``ProtocolError``, a
    ``ServerError``, ``RateLimited`` short of ``IpBanned``, or ``get_order``'s ``NotFound``: the
    venue's lists lag its engine) is asked again after the next of :data:`RECONCILE_WAITS` on
    ``clock``, counted in ``metrics``' ``reconcile_retries_total{exchange,stream="orders",reason}``.
    Any other failure, or one that
    finds the waits used up, ends the iteration with its error: an order whose state cannot be
    read is never dropped or guessed, which would leave the caller's view silently incomplete.
    The stream's updates wait meanwhile.

    A :class:`~lotusx.ws.Lost` (the venue refused to resubscribe a stream after a reconnect: a
    revoked permission) ends the iteration with its :class:`~lotusx.SubscriptionRejected`: the
    updates may have come on that stream, and an order stream missing them is silently wrong.
    """
    seen = _Seen()
    async for since, message in _after_gaps(messages):
        if since is not None:  # the stream delivers again: from here on nothing more is missed
            patient = _Patience(clock, metrics, exchange, "orders")
            for update in await _reconcile(seen, since, patient, open_orders, orders_since, get_order):
                if _remember(seen, update):
                    yield update
        for update in orders(message):
            if _remember(seen, update):
                yield update


async def _reconcile(seen: _Seen, since: GapStart, patient: _Patience,
                     open_orders: Callable[[], Awaitable[list[Order]]],
                     orders_since: OrdersSince, get_order: Callable[[Order], Awaitable[Order]]) -> list[Order]:
    now_open = await patient(open_orders)
    symbols = frozenset({symbol for symbol, _ in (*seen.open, *seen.done)} | {o.symbol for o in now_open})
    changed = await patient(lambda: orders_since(since, symbols))
    answered = {(o.symbol, o.order_id) for o in (*now_open, *changed)}
    closed = [last for key, last in seen.open.items() if key not in answered]
    # Seen open a moment ago: a NotFound is the venue's lists lagging, not the order gone.
    return [*now_open, *changed, *[await patient(partial(get_order, last), lags=True) for last in closed]]


class _Patience:
    """One reconcile's budget of waits (:data:`RECONCILE_WAITS`) for queries failing for a passing reason."""

    def __init__(self, clock: Clock, metrics: Metrics | None, exchange: str, stream: str) -> None:
        self.clock, self.metrics, self.exchange, self.stream = clock, metrics, exchange, stream
        self.waits = iter(RECONCILE_WAITS)

    async def __call__(self, query: Callable[[], Awaitable[T]], *, lags: bool = False) -> T:
        """``query()``'s answer, asked again after a passing failure (``NotFound`` too when it ``lags``)."""
        while True:
            try:
                return await query()
            except LotusXError as exc:
                # Malformed traffic (ProtocolError: the connectors' own paging limits among it) is
                # no passing fault: asked again, a walk of up to 100 pages would end the same way.
                passing = isinstance(exc, TransportError | ServerError | RateLimited) and not isinstance(
                    exc, IpBanned | ProtocolError)
                wait = next(self.waits, None) if passing or (lags and isinstance(exc, NotFound)) else None
                if wait is None:
                    raise
                if self.metrics is not None:
                    self.metrics.reconcile_retries.labels(self.exchange, self.stream, type(exc).__name__).inc()
                await self.clock.sleep(wait)


class _Seen:
    """The last state yielded of every order still open, and of the ``_REMEMBERED`` most recently finished.

    An open order is never forgotten, however many others finish after it: the reconcile after
    a gap must look it up, or a fill it got meanwhile would be lost. The venues cap open orders.
    """

    def __init__(self) -> None:
        self.open: dict[Key, Order] = {}
        self.done: OrderedDict[Key, Order] = OrderedDict()


def _remember(seen: _Seen, update: Order) -> bool:
    """Record ``update`` if it is news about its order; whether it is."""
    key = (update.symbol, update.order_id)
    last = seen.open.get(key) or seen.done.get(key)
    if last is not None and not _news(last, update):
        return False
    if update.status not in TERMINAL:
        seen.open[key] = update
        return True
    seen.open.pop(key, None)
    seen.done[key] = update
    seen.done.move_to_end(key)
    if len(seen.done) > _REMEMBERED:
        seen.done.popitem(last=False)
    return True


def _news(last: Order, update: Order) -> bool:
    if (update.status, update.filled_quantity, update.quantity, update.price) == (
            last.status, last.filled_quantity, last.quantity, last.price):
        return False  # the same state again (a REST answer repeating what the stream said)
    if last.status in TERMINAL:
        return False  # a final state stays final
    if update.filled_quantity != last.filled_quantity:
        return update.filled_quantity > last.filled_quantity  # fills only grow
    if update.status in TERMINAL:
        return True
    # Same fill, both open: a status, price or quantity change. Only here do the venue's times
    # decide, because a stream event's time (when it was sent) can be later than the REST
    # update time of the change that followed it.
    return update.timestamp is None or last.timestamp is None or update.timestamp >= last.timestamp


Stamped = tuple[int | None, dict[str, Balance]]
"""Balances and the venue's time (ms) of the account state they show, ``None`` when the venue gives none."""


async def follow_balances(messages: AsyncIterator[Any], *, balances: Callable[[Any], Stamped | None],
                          fetch: Callable[[], Awaitable[Stamped]], clock: Clock = SYSTEM_CLOCK,
                          metrics: Metrics | None = None, exchange: str = ""
                          ) -> AsyncGenerator[dict[str, Balance], None]:
    """Yield the balance changes in ``messages``, and the whole account after every gap.

    ``balances(message)`` reads the changed balances a message carries (``None`` for others);
    ``fetch()`` returns every non-zero balance of the account. Each also gives the venue's time
    of the account state it shows, or ``None``.

    A stream balance older than the one last yielded for its asset is dropped. While a
    rotation's two connections overlap, an event that reaches us only on the old one, after a
    newer one came on the new one, would otherwise put the older balance back until the asset's
    next change. Every balance here is an asset's whole balance (a snapshot), so the newest is
    the truth and an older one can be skipped. A delta (Binance ``balanceUpdate``) could not be
    ordered so: skipped, its change would be lost; applied, it would count twice in a snapshot
    that already holds it. The venues send every change as a snapshot too, so no delta is read.
    A balance with no time, or of the same time (two states within one millisecond cannot be
    told apart), is yielded.

    The account fetched after a gap is always yielded (it is the recovery; a venue's account
    time is not trusted to suppress it), and its time, when given, drops stream events older
    than it that queued while it was fetched. A fetch that fails for a passing reason is asked
    again as :func:`follow_orders` asks its queries (``stream="balances"`` in the metric); any
    other failure, or one that finds the waits used up, ends the iteration with its error, as
    a :class:`~lotusx.ws.Lost` does with its :class:`~lotusx.SubscriptionRejected` (see :func:`follow_orders`).
    """
    times: dict[str, int] = {}  # asset -> venue time of the newest stream balance yielded for it
    fetched = -1  # venue time of the newest account fetched (-1: none, or none given)
    seen: set[str] = set()
    async for since, message in _after_gaps(messages):
        if since is not None:
            time, now = await _Patience(clock, metrics, exchange, "balances")(fetch)
            zero = Decimal(0)
            # An asset emptied while the stream was down is absent from the answer: say so.
            yield {**{asset: Balance(asset=asset, free=zero, locked=zero) for asset in seen - now.keys()}, **now}
            seen |= now.keys()
            fetched = max(fetched, time if time is not None else -1)
        read = balances(message)
        if read is None:
            continue
        time, changed = read
        if time is not None:
            changed = {asset: b for asset, b in changed.items() if max(times.get(asset, -1), fetched) <= time}
            times.update(dict.fromkeys(changed, time))
        if changed:
            seen |= changed.keys()
            yield changed


async def _after_gaps(messages: AsyncIterator[Any]) -> AsyncGenerator[tuple[GapStart | None, Any], None]:
    """Each message the stream delivers, with where the reconcile it calls for starts: ``None`` when
    no :class:`Gap` or :class:`Backfill` came before it, else the earliest gap's time or the
    Backfill (see :func:`_pending`). A :class:`Lost` ends the iteration with its ``SubscriptionRejected``:
    the venue refused the stream again, and nothing would come on it."""
    pending: GapStart | None = None
    async for message in messages:
        if isinstance(message, Gap | Backfill):
            pending = _pending(pending, message)
        elif isinstance(message, Lost):
            raise message.rejected()
        else:
            yield pending, message
            pending = None


K = TypeVar("K")


async def follow_positions(messages: AsyncIterator[Any], *, positions: Callable[[Any], list[tuple[K, Position]]],
                           fetch: Callable[[], Awaitable[dict[K, Position]]], flat: Callable[[K, Position], Position],
                           clock: Clock = SYSTEM_CLOCK, metrics: Metrics | None = None, exchange: str = ""
                           ) -> AsyncGenerator[Position, None]:
    """Yield the position changes in ``messages``, and every open position after each gap.

    ``positions(message)`` reads the positions a message carries, each whole, with its key (a
    symbol and leg); ``fetch()`` returns every open position of the account by key; ``flat(key,
    last)`` is the flat position of a key last seen as ``last``. As :func:`follow_balances`: the
    fetch after a gap is always yielded, a position seen open before and absent from it (closed
    while the stream was down) comes flat, a failing fetch is asked again for a passing reason
    (``stream="positions"``), and a stream position older (by its ``timestamp``) than the one last
    yielded for its key is dropped.
    """
    times: dict[K, int] = {}
    opened: dict[K, Position] = {}  # key -> the last position yielded, while open
    async for since, message in _after_gaps(messages):
        if since is not None:
            now = await _Patience(clock, metrics, exchange, "positions")(fetch)
            for key, last in list(opened.items()):
                if key not in now:
                    del opened[key]
                    yield flat(key, last)
            for key, position in now.items():
                opened[key] = position
                if position.timestamp is not None:
                    times[key] = max(times.get(key, -1), position.timestamp)
                yield position
        for key, position in positions(message):
            if position.timestamp is not None:
                if position.timestamp < times.get(key, -1):
                    continue
                times[key] = position.timestamp
            if position.size:
                opened[key] = position
            else:
                opened.pop(key, None)
            yield position


_FILLS_REMEMBERED = 10_000
"""Fills whose identity ``follow_fills`` keeps (the least recently yielded go first).

A reconcile asks for the fills from the gap's start less the silent-link allowance and
:data:`GAP_SLACK` (about 70 s before the gap on either venue): a fill yielded before the gap comes
again only when more than this many fills came between it and the gap.
"""

FillsSince = Callable[[GapStart, frozenset[str]], Awaitable[list[Fill]]]
"""``fetch(gap_time, symbols)``: the account's fills since a gap began (see :func:`follow_fills`)."""


async def follow_fills(messages: AsyncIterator[Any], *, fills: Callable[[Any], Iterable[Fill]], fetch: FillsSince,
                       clock: Clock = SYSTEM_CLOCK, metrics: Metrics | None = None, exchange: str = ""
                       ) -> AsyncGenerator[Fill, None]:
    """Yield every execution in ``messages`` once, and after every gap the ones it hid.

    ``fills(message)`` reads the executions a stream message carries (none for others);
    ``fetch(gap_time, symbols)`` lists the account's fills since the gap marked at ``gap_time``
    (the earliest :attr:`Gap.time <lotusx.ws.Gap.time>` since the last reconcile) began, or since
    a :class:`Backfill`'s time (``gap_time`` is then that Backfill), where
    ``symbols`` are those of every fill yielded so far (for a venue asked one symbol at a time).
    The fetched fills not yielded yet come first, oldest first, then the stream again.

    A fill is known by its symbol, trade id and order id: a self-trade is two fills of one
    trade id (the buyer's order and the seller's), both yielded. The stream waits while the
    fetch runs, so a fill made meanwhile is in its answer and then on the stream: yielded once.
    The last :data:`_FILLS_REMEMBERED` keys are kept.

    A fetch that fails for a passing reason is asked again as :func:`follow_orders` asks its
    queries (``stream="fills"`` in ``reconcile_retries_total``); any other failure, or one that
    finds the waits used up, ends the iteration with its error: a fill is never silently left
    out. A :class:`~lotusx.ws.Lost` ends it with its :class:`~lotusx.SubscriptionRejected`.
    """
    seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
    symbols: set[str] = set()  # of every fill yielded: a venue's few, kept for every reconcile

    def fresh(fill: Fill) -> bool:
        key = (fill.symbol, fill.trade_id, fill.order_id)
        if key in seen:
            return False
        seen[key] = None
        if len(seen) > _FILLS_REMEMBERED:
            seen.popitem(last=False)
        symbols.add(fill.symbol)
        return True

    async for since, message in _after_gaps(messages):
        if since is not None:  # the stream delivers again: from here on nothing more is missed
            found = await _Patience(clock, metrics, exchange, "fills")(partial(fetch, since, frozenset(symbols)))
            for fill in sorted(found, key=lambda fill: fill.timestamp):  # stable: a venue's order within a ms
                if fresh(fill):
                    yield fill
        for fill in fills(message):
            if fresh(fill):
                yield fill


_TRADES_REMEMBERED = 10_000
"""Public trade ids ``follow_trades`` keeps: more than a venue's longest recent-trades page (1000)."""


async def follow_trades(messages: AsyncIterator[Any], *, trades: Callable[[Any], Iterable[Trade]],
                        fetch: Callable[[], Awaitable[list[Trade]]], page: int,
                        unread: Callable[[Any], bool] = lambda message: False,
                        fetch_after: Callable[[Trade], Awaitable[list[Trade]]] | None = None,
                        skipped: Callable[[Trade, Trade], int] | None = None, pages: int = 10,
                        clock: Clock = SYSTEM_CLOCK, metrics: Metrics | None = None, exchange: str = ""
                        ) -> AsyncGenerator[Trade, None]:
    """Yield every public trade of one symbol in ``messages`` once, and after every gap the ones it hid.

    ``trades(message)`` reads the trades a message carries (none for others). A message for which
    ``unread(message)`` holds (the symbol's push, failing its schema or cut short) is a gap too.
    Before the first trade yielded there is nothing to continue from, and nothing is fetched.

    A venue whose trade ids are consecutive (Binance) gives ``skipped(prev, later)``, the trades
    between two (0: consecutive, below 0: ``later`` is not later), and ``fetch_after(last)``, up to
    ``page`` trades from the one after ``last``, in id order. Then the trades after the last one
    yielded are walked page by page, once the stream delivers again and whenever its ids jump
    (a push lost without any gap marker), until they reach the stream's, or a short page says
    there is nothing newer: each trade once, in id order. A trade not later than the last yielded
    is dropped. A walk gives up after ``pages`` pages, or when the venue lists nothing more short of
    the stream's trade (its list lags the stream): the rest is lost.

    Otherwise ``fetch()`` lists the symbol's recent trades, oldest first, at most ``page`` of them:
    the fetched trades from the last one yielded on that were not yielded come first, then the
    stream; a trade is known by its id. No such venue serves public trades since a time, so a gap
    that hid more than ``page`` trades loses the older ones.

    A loss is logged and counted (``ws_dropped{reason="trades_past_backfill"}``). A fetch failing
    for a passing reason is asked again as :func:`follow_fills` asks (``stream="trades"``);
    otherwise its error ends the iteration.
    """
    seen: OrderedDict[str, None] = OrderedDict()
    last: int | None = None  # the venue time of the last trade yielded
    latest: Trade | None = None  # the last trade yielded
    gave_up = False  # a walk to the present stopped at its cap: the stream's next jump is that loss, not a hole

    def lost(**where: object) -> None:
        if metrics is not None:
            metrics.ws_dropped.labels(exchange, "trades_past_backfill").inc()
        _log.warning("trades lost in a stream gap", exchange=exchange, page=page, **where)

    def fresh(trade: Trade) -> bool:
        nonlocal last, latest
        if trade.trade_id in seen or (skipped is not None and latest is not None and skipped(latest, trade) < 0):
            return False
        seen[trade.trade_id] = None
        if len(seen) > _TRADES_REMEMBERED:
            seen.popitem(last=False)
        last = trade.timestamp if last is None else max(last, trade.timestamp)
        latest = trade
        return True

    async def walk(to: Trade | None) -> AsyncGenerator[Trade, None]:
        """The trades after ``latest`` up to the one before ``to`` (the stream's), or up to the present."""
        nonlocal gave_up
        patience = _Patience(clock, metrics, exchange, "trades")
        for _ in range(pages):
            assert latest is not None and fetch_after is not None and skipped is not None
            found = await patience(partial(fetch_after, latest))
            for trade in found:
                if to is not None and skipped(trade, to) < 0:  # the stream's own trades from here on
                    return
                if fresh(trade):
                    yield trade
            if to is not None and skipped(latest, to) <= 0:
                return
            if len(found) < page:  # nothing newer: up to ``to``, the venue's list lags its stream
                if to is not None:
                    lost(last=latest.trade_id, missing=skipped(latest, to))
                return
        gave_up = to is None
        lost(pages=pages, last=latest.trade_id if latest is not None else None)

    hole = False  # a push of the symbol that could not be read: its trades are to be fetched
    async for since, message in _after_gaps(messages):
        if unread(message):
            hole = True
            continue
        arriving = list(trades(message))
        if (since is not None or hole) and latest is not None:  # the stream delivers again: fill in what it missed
            hole = False
            if skipped is not None:
                if not arriving:  # a jump in the stream's next trade would walk: walk now, it may be long
                    async for trade in walk(None):
                        yield trade
            else:
                found = await _Patience(clock, metrics, exchange, "trades")(fetch)
                after = last
                assert after is not None
                if len(found) >= page and all(trade.timestamp > after for trade in found):
                    lost(last=after)
                for trade in sorted(found, key=lambda trade: trade.timestamp):  # stable: the venue's order in a ms
                    if trade.timestamp >= after and fresh(trade):
                        yield trade
        for trade in arriving:
            if skipped is not None and latest is not None and skipped(latest, trade) > 0 and not gave_up:
                async for missed in walk(trade):
                    yield missed
            if fresh(trade):
                gave_up = False
                yield trade
