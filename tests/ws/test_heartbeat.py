"""Liveness: when a ping is due and when a connection is dead."""

from lotusx.ws.heartbeat import Heartbeat, Liveness


class TestLiveness:
    def test_ping_due_after_interval(self) -> None:
        """A ping is due once interval seconds passed since the last one."""
        live = Liveness(Heartbeat(interval=20, idle_timeout=60), now=0)
        assert not live.ping_due(19.9)
        assert live.ping_due(20)

    def test_no_ping_while_one_is_outstanding(self) -> None:
        """A second ping is not sent while the first awaits its pong."""
        live = Liveness(Heartbeat(interval=20), now=0)
        live.pinged(20)
        assert not live.ping_due(45)

    def test_missed_pong_is_death(self) -> None:
        """No pong within pong_timeout of a ping: the verdict is pong_timeout."""
        live = Liveness(Heartbeat(interval=20, pong_timeout=10, idle_timeout=600), now=0)
        live.pinged(20)
        assert live.verdict(29) is None
        assert live.verdict(30) == "pong_timeout"

    def test_pong_clears_the_deadline(self) -> None:
        """A pong in time keeps the connection alive."""
        live = Liveness(Heartbeat(interval=20, pong_timeout=10, idle_timeout=600), now=0)
        live.pinged(20)
        live.ponged()
        assert live.verdict(100) is None

    def test_a_refused_ping_awaits_no_pong_and_the_next_is_an_interval_later(self) -> None:
        """A ping that never left has no pong deadline; the next ping is due an interval after the refusal."""
        live = Liveness(Heartbeat(interval=20, pong_timeout=10, idle_timeout=600), now=0)
        live.pinged(20)
        live.refused(21)
        assert live.verdict(100) is None
        assert not live.ping_due(40.9)
        assert live.ping_due(41)

    def test_idle_is_death(self) -> None:
        """No inbound data for idle_timeout: the verdict is idle."""
        live = Liveness(Heartbeat(interval=None, idle_timeout=30), now=0)
        live.last_rx = 10
        assert live.verdict(39) is None
        assert live.verdict(40) == "idle"

    def test_next_check_is_the_nearest_deadline(self) -> None:
        """The watch sleeps exactly until the next ping, pong deadline or idle deadline."""
        live = Liveness(Heartbeat(interval=20, pong_timeout=5, idle_timeout=60), now=0)
        assert live.next_check(0) == 20
        live.pinged(20)
        assert live.next_check(20) == 5
        assert Liveness(Heartbeat(interval=None, idle_timeout=60), now=0).next_check(70) == 0

    def test_a_held_reader_is_looked_at_again_within_pong_timeout(self) -> None:
        """While back-pressure holds the reader, the watch looks again pong_timeout later, not idle_timeout."""
        live = Liveness(Heartbeat(interval=20, pong_timeout=10, idle_timeout=60), now=0)
        live.hold()
        assert live.next_check(5) == 10
