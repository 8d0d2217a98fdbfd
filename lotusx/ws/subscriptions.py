"""The registry of active subscriptions: reference counts, states, acks by request id.

Two subscribers to one stream share one venue subscription; it is unsubscribed only when
the last leaves. Each stream lives on one shard (connection) and is ``PENDING`` until the
venue acknowledges it, ``CONFIRMED`` after. A reconnect puts a shard's streams back to
``PENDING`` so they are sent again. A venue refuses a whole request for one bad stream in it,
so a refused request of several streams is :meth:`~Registry.split`: its halves are asked for
again, until a refused request holds one stream. That rejection removes the stream and fails
its waiters with :class:`~lotusx.SubscriptionRejected`, a subscribe that could not be sent removes it and
fails them with the send's error; an unsubscribe before the ack, or the end of its shard
(closed, or a fatal error), fails them with a :class:`~lotusx.StreamError`.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from lotusx.kernel.errors import LotusXError, StreamError, SubscriptionRejected


class State(enum.Enum):
    """Where one subscription stands with the venue."""

    PENDING = "pending"
    CONFIRMED = "confirmed"


def _observe(future: asyncio.Future[None]) -> None:
    # A rejection nobody awaits (a resubscription) is logged by the connection, not by asyncio.
    if not future.cancelled():
        future.exception()


def _future() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.add_done_callback(_observe)
    return future


@dataclass
class Subscription:
    """One venue stream and who holds it."""

    stream: str
    refs: int = 1
    shard: int = -1
    state: State = State.PENDING
    sent: bool = False
    acked: bool = False  # confirmed on some connection: a rejection now is a resubscription's
    # The request that last sent it on its current connection (0: none): only that request's
    # answer speaks for it, not a late one for an earlier send or an earlier holder's.
    request: int = 0
    ready: asyncio.Future[None] = field(default_factory=_future, repr=False)


class Registry:
    """Active subscriptions by stream name; see the module docstring."""

    def __init__(self) -> None:
        self._subs: dict[str, Subscription] = {}
        self._requests: dict[int, list[str]] = {}
        self._ids = itertools.count(1)

    def __contains__(self, stream: object) -> bool:
        return stream in self._subs

    def __len__(self) -> int:
        return len(self._subs)

    def get(self, stream: str) -> Subscription | None:
        """The subscription of ``stream``, if any."""
        return self._subs.get(stream)

    def acquire(self, streams: Iterable[str]) -> list[str]:
        """Add a reference to each stream; return those that are new (need subscribing)."""
        new = []
        for stream in dict.fromkeys(streams):
            sub = self._subs.get(stream)
            if sub is None:
                self._subs[stream] = Subscription(stream)
                new.append(stream)
            else:
                sub.refs += 1
        return new

    def holds(self, streams: Iterable[str]) -> list[Subscription]:
        """The subscriptions of ``streams`` now, each once: what a caller's ``let_go`` releases."""
        return [sub for stream in dict.fromkeys(streams) if (sub := self._subs.get(stream)) is not None]

    def release(self, streams: Iterable[str]) -> list[Subscription]:
        """Drop a reference to each stream; return those nobody holds any more (removed)."""
        return self.let_go(self.holds(streams))

    def let_go(self, subs: Iterable[Subscription]) -> list[Subscription]:
        """``release`` of these very subscriptions; return those nobody holds any more (removed).

        One removed since (rejected, dropped, unsubscribed) is skipped, even if the same stream
        was subscribed again: that new subscription is someone else's hold.
        """
        gone = []
        for sub in subs:
            stream = sub.stream
            if self._subs.get(stream) is not sub:
                continue
            sub.refs -= 1
            if sub.refs <= 0:
                gone.append(self._subs.pop(stream))
                self._forget(sub.request)
                if not sub.ready.done():
                    # Not cancel(): a CancelledError in a subscriber nobody cancelled reads as
                    # its own cancellation to TaskGroups and timeouts.
                    sub.ready.set_exception(StreamError(f"{stream!r} was unsubscribed before the venue confirmed it"))
        return gone

    def on_shard(self, shard: int) -> list[str]:
        """Streams placed on ``shard``."""
        return [s.stream for s in self._subs.values() if s.shard == shard]

    def unsent(self, shard: int) -> list[str]:
        """Streams on ``shard`` not yet sent on its current connection."""
        return [s.stream for s in self._subs.values() if s.shard == shard and not s.sent]

    def reset(self, shard: int) -> None:
        """``shard`` lost its connection: its streams must be subscribed again."""
        for sub in self._subs.values():
            if sub.shard == shard:
                sub.state, sub.sent, sub.request = State.PENDING, False, 0
                if sub.ready.done():
                    sub.ready = _future()
        # What a lost connection never answered can confirm nothing any more (its streams'
        # requests were just cleared): forget it, or every reconnect would leave ids behind.
        self._requests = {rid: streams for rid, streams in self._requests.items()
                          if any(self._owns(rid, stream) for stream in streams)}

    def _forget(self, request_id: int) -> None:
        """Drop ``request_id`` once no subscription waits for its answer any more.

        A subscribe the venue never answered, then released, would otherwise stay until its
        connection ends: never, on a venue whose connections have no lifetime (Bybit).
        """
        streams = self._requests.get(request_id)
        if streams is not None and not any(self._owns(request_id, stream) for stream in streams):
            del self._requests[request_id]

    def _owns(self, request_id: int, stream: str) -> bool:
        """Whether ``request_id`` is the live request of ``stream``'s subscription."""
        sub = self._subs.get(stream)
        return sub is not None and sub.request == request_id

    def fail(self, streams: Iterable[str], error: LotusXError) -> None:
        """Fail the waiters of ``streams`` with ``error``: nothing will confirm them any more."""
        for stream in streams:
            sub = self._subs.get(stream)
            if sub is not None and not sub.ready.done():
                sub.ready.set_exception(error)

    def drop(self, streams: Iterable[str], error: Exception) -> None:
        """Remove ``streams`` whoever holds them and fail their waiters with ``error``: nothing will send them."""
        for stream in streams:
            sub = self._subs.pop(stream, None)
            if sub is None:
                continue
            self._forget(sub.request)
            if not sub.ready.done():
                sub.ready.set_exception(error)

    def new_id(self) -> int:
        """A request id for a message whose ack nobody waits for (an unsubscribe)."""
        return next(self._ids)

    def request(self, streams: list[str]) -> int:
        """A new request id for subscribing ``streams``; marks them sent."""
        request_id = next(self._ids)
        self._requests[request_id] = streams
        for stream in streams:
            sub = self._subs.get(stream)
            if sub is not None:
                sub.sent, sub.request = True, request_id
        return request_id

    def unsend(self, request_id: int) -> None:
        """The subscribe of ``request_id`` never left: its streams are for the next send."""
        for stream in self._requests.pop(request_id, ()):
            sub = self._subs.get(stream)
            if sub is not None and sub.request == request_id:  # not if sent again since
                sub.sent, sub.request = False, 0

    def split(self, request_id: int) -> list[str]:
        """The streams of refused ``request_id`` when it carried several: unsent again, to be asked for in halves.

        The venue refuses a request for any one stream in it (Binance: "invalid stream", Bybit:
        "handler not found"), which says nothing of the others. Halving finds the bad ones in a
        few requests each and subscribes the rest. A request of one stream is not split: its
        refusal is that stream's (see :meth:`resolve`), but one left of several (the others
        unsubscribed since) is asked for again: the refusal may have been for one of them.
        """
        sent = self._requests.get(request_id, [])
        streams = [stream for stream in sent if self._owns(request_id, stream)]
        if len(sent) < 2 or not streams:
            return []
        del self._requests[request_id]
        for stream in streams:
            self._subs[stream].sent, self._subs[stream].request = False, 0
        return streams

    def renewals(self, request_id: int) -> set[str]:
        """The streams ``request_id`` asks for again: confirmed on an earlier connection (a resubscription)."""
        return {stream for stream in self._requests.get(request_id, ())
                if self._owns(request_id, stream) and self._subs[stream].acked}

    def resolve(self, request_id: int, ok: bool, error: str | None = None) -> list[str]:
        """Apply the venue's ack of ``request_id``; return the streams it rejected."""
        rejected = []
        for stream in self._requests.pop(request_id, ()):
            sub = self._subs.get(stream)
            if sub is None or sub.request != request_id:  # gone, resubscribed, or sent again since
                continue
            if ok:
                sub.state, sub.acked = State.CONFIRMED, True
                if not sub.ready.done():
                    sub.ready.set_result(None)
            else:
                del self._subs[stream]
                rejected.append(stream)
                if not sub.ready.done():
                    sub.ready.set_exception(SubscriptionRejected(
                        f"subscription to {stream!r} rejected", venue_message=error))
        return rejected

    def waiters(self, streams: Iterable[str]) -> list[asyncio.Future[None]]:
        """Futures that complete when each of ``streams`` is confirmed (or fail if rejected)."""
        return [sub.ready for stream in streams if (sub := self._subs.get(stream)) is not None]

    def __repr__(self) -> str:
        confirmed = sum(1 for s in self._subs.values() if s.state is State.CONFIRMED)
        return f"Registry({len(self._subs)} streams, {confirmed} confirmed)"
