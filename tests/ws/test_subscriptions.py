"""Registry: reference counts, pending/confirmed states and acks by request id."""

import pytest

from lotusx.kernel.errors import RateLimited, SubscriptionRejected
from lotusx.ws.subscriptions import Registry, State


class TestRegistry:
    async def test_second_subscriber_shares_the_subscription(self) -> None:
        """Only the first acquire of a stream needs a subscribe message."""
        registry = Registry()
        assert registry.acquire(["a", "b"]) == ["a", "b"]
        assert registry.acquire(["a"]) == []

    async def test_last_release_removes(self) -> None:
        """A stream is gone only when its last holder releases it."""
        registry = Registry()
        registry.acquire(["a"])
        registry.acquire(["a"])
        assert registry.release(["a"]) == []
        assert [sub.stream for sub in registry.release(["a"])] == ["a"]
        assert "a" not in registry
        assert registry.release(["a"]) == []

    async def test_ack_confirms(self) -> None:
        """An accepted ack confirms the request's streams and completes their waiters."""
        registry = Registry()
        registry.acquire(["a"])
        request_id = registry.request(["a"])
        assert registry.resolve(request_id, True) == []
        sub = registry.get("a")
        assert sub is not None
        assert sub.state is State.CONFIRMED
        await registry.waiters(["a"])[0]

    async def test_rejection_removes_and_fails_waiters(self) -> None:
        """A rejected ack removes the stream and fails its waiters with SubscriptionRejected."""
        registry = Registry()
        registry.acquire(["bad"])
        waiter = registry.waiters(["bad"])[0]
        assert registry.resolve(registry.request(["bad"]), False, "Invalid symbol") == ["bad"]
        assert "bad" not in registry
        with pytest.raises(SubscriptionRejected, match="Invalid symbol"):
            await waiter

    async def test_reset_makes_streams_pending_and_unsent(self) -> None:
        """After a reconnect a shard's streams are pending and must be sent again."""
        registry = Registry()
        registry.acquire(["a", "b"])
        for stream in ("a", "b"):
            sub = registry.get(stream)
            assert sub is not None
            sub.shard = 0 if stream == "a" else 1
        registry.resolve(registry.request(["a"]), True)
        assert registry.unsent(0) == []
        registry.reset(0)
        assert registry.unsent(0) == ["a"]
        sub = registry.get("a")
        assert sub is not None
        assert sub.state is State.PENDING
        assert not sub.ready.done()
        assert registry.on_shard(1) == ["b"]

    async def test_ids_are_unique(self) -> None:
        """Every request gets a fresh id."""
        registry = Registry()
        assert len({registry.request([]), registry.request([]), registry.new_id()}) == 3
        assert repr(registry) == "Registry(0 streams, 0 confirmed)"

    async def test_drop_removes_every_hold_and_fails_waiters_with_the_error(self) -> None:
        """A dropped stream is gone however many hold it, and its waiters fail with the given error."""
        registry = Registry()
        registry.acquire(["a"])
        registry.acquire(["a"])
        waiter = registry.waiters(["a"])[0]
        registry.drop(["a"], RateLimited("exhausted"))
        assert "a" not in registry
        with pytest.raises(RateLimited):
            await waiter

    async def test_let_go_skips_a_subscription_replaced_since(self) -> None:
        """Letting go of a hold whose stream was dropped and subscribed again leaves the new hold alone."""
        registry = Registry()
        registry.acquire(["a"])
        held = registry.holds(["a"])
        registry.drop(["a"], RateLimited("exhausted"))
        registry.acquire(["a"])
        assert registry.let_go(held) == []
        assert "a" in registry

    async def test_requests_a_lost_connection_never_answered_are_forgotten(self) -> None:
        """A reset drops the shard's unanswered requests: pending ids do not pile up over reconnects."""
        registry = Registry()
        registry.acquire(["a"])
        registry.get("a").shard = 0  # type: ignore[union-attr]
        for _ in range(3):
            registry.request(["a"])
            registry.reset(0)
        assert registry._requests == {}
