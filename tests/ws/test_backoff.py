"""Back-off: capped, exponential, fully jittered."""

from lotusx.ws.backoff import Backoff


class TestBackoff:
    def test_doubles_up_to_the_cap(self) -> None:
        """With jitter pinned at its maximum the ceilings double and then stay at the cap."""
        backoff = Backoff(base=0.5, cap=8.0, random=lambda: 1.0)
        assert [backoff.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]

    def test_full_jitter_scales_the_ceiling(self) -> None:
        """The delay is random() times the ceiling."""
        assert Backoff(base=1.0, cap=100.0, random=lambda: 0.25).delay(3) == 1.0

    def test_huge_failure_counts_stay_capped(self) -> None:
        """Thousands of failures neither overflow nor exceed the cap."""
        assert Backoff(cap=30.0, random=lambda: 1.0).delay(10_000) == 30.0

    def test_repr_shows_config(self) -> None:
        """repr shows the numbers that matter."""
        assert repr(Backoff()) == "Backoff(base=0.5, cap=30.0, healthy_after=60.0)"
