"""Placing streams on connections under a per-connection cap."""

from lotusx.ws.shard import place


class TestPlace:
    def test_no_cap_means_one_connection(self) -> None:
        """Without a cap everything goes on shard 0."""
        assert place(["a", "b", "c"], [5], None) == {0: ["a", "b", "c"]}

    def test_fills_then_opens_new_shards(self) -> None:
        """Shards fill up to the cap in order; further streams open new shards."""
        assert place(["a", "b", "c", "d", "e"], [1], 2) == {0: ["a"], 1: ["b", "c"], 2: ["d", "e"]}

    def test_reuses_room_on_earlier_shards(self) -> None:
        """A shard that lost streams takes new ones before a later shard does."""
        assert place(["x"], [1, 2], 2) == {0: ["x"]}

    def test_no_shards_yet(self) -> None:
        """With no shard running, placing starts at shard 0."""
        assert place(["a"], [], 1) == {0: ["a"]}
