"""Frame stage composition: order, fan-out, drops, nesting, repr."""

from typing import Any

import pytest

from lotusx.ws.frames import Drop, Frames, Many, frames


def upper(text: str) -> str:
    return text.upper()


def split(text: str) -> Many:
    return Many(text.split(","))


def nest(text: str) -> Many:
    return Many([split(text)])  # one message that is itself a Many: a last stage's output, kept whole


def drop_empty(text: str) -> str:
    if not text:
        raise Drop
    return text


class TestFrames:
    def test_stages_run_in_listed_order(self) -> None:
        """The first listed stage sees the input first."""
        assert frames(lambda s: s + "a", lambda s: s + "b")("") == ["ab"]

    def test_no_stages_is_identity(self) -> None:
        """An empty pipeline passes the item through as a one-element list."""
        assert frames()("x") == ["x"]

    def test_many_fans_out_through_later_stages(self) -> None:
        """Each element of a Many continues through the remaining stages."""
        assert frames(split, upper)("a,b,c") == ["A", "B", "C"]

    def test_drop_emits_nothing(self) -> None:
        """A stage raising Drop consumes the item."""
        assert frames(drop_empty, upper)("") == []

    def test_drop_inside_fan_out_skips_only_that_part(self) -> None:
        """Dropping one fanned-out part keeps its siblings."""
        assert frames(split, drop_empty, upper)("a,,b") == ["A", "B"]

    def test_nested_fan_out(self) -> None:
        """A fan-out after a fan-out multiplies the outputs."""
        def twice(text: str) -> Many:
            return Many((text, text))

        assert frames(split, twice)("a,b") == ["a", "a", "b", "b"]

    @pytest.mark.parametrize(("item", "expected"), [("a", ["A"]), ("", []), ("a,b", ["a", "b"])])
    def test_a_single_stage_passes_drops_and_fans_out(self, item: str, expected: list[str]) -> None:
        """One stage alone (the composed fast path) keeps the same contract: item, Drop, Many."""
        def only(text: str) -> Any:
            return split(text) if "," in text else upper(drop_empty(text))

        assert frames(only)(item) == expected

    def test_pipelines_nest_flat_and_skip_none(self) -> None:
        """A pipeline inside frames() contributes its stages; None entries vanish."""
        inner = frames(upper)
        outer = frames(None, inner, split)
        assert outer.stages == (upper, split)
        assert outer("a,b") == ["A", "B"]

    @pytest.mark.parametrize(("stages", "item", "expected"), [
        ((upper,), "a", ["A"]), ((drop_empty,), "", []), ((split,), "a,b", ["a", "b"]),
        ((split, upper), "a,b", ["A", "B"]), ((split, upper), "a", ["A"]), ((split, drop_empty), ",", []),
        ((split, drop_empty, upper), "a,,b", ["A", "B"]), ((upper, split), "a,b", ["A", "B"]), ((), "x", ["x"]),
        ((upper, nest), "a,b", [("A", "B")]), ((upper, upper, nest), "a,b", [("A", "B")]),
    ])
    def test_step_and_call_emit_the_same_messages(self, stages: tuple[Any, ...], item: str,
                                                  expected: list[Any]) -> None:
        """step (the reader's per-frame call: output, Many or Drop) emits exactly the messages a call lists."""
        pipeline = Frames(stages)
        try:
            out = pipeline.step(item)
        except Drop:
            emitted = []
        else:
            emitted = list(out) if type(out) is Many else [out]
        assert emitted == expected
        assert pipeline(item) == expected

    def test_a_stage_object_is_called_through_its_bound_call(self) -> None:
        """A stage object with a Python __call__ is run through that method, bound once; stages keep the object."""
        class Suffix:
            def __call__(self, text: str) -> str:
                return text + "!"

        stage = Suffix()
        pipeline = frames(stage)
        assert getattr(pipeline.step, "__self__", None) is stage
        assert pipeline.stages == (stage,)
        assert (pipeline.step("a"), pipeline("a")) == ("a!", ["a!"])

    def test_a_stage_object_with_a_static_call_still_works(self) -> None:
        """A stage whose class makes __call__ a staticmethod is called as Python calls it, without self."""
        class Shout:
            @staticmethod
            def __call__(text: str) -> str:
                return text.upper()

        assert (frames(Shout()).step("a"), frames(Shout(), upper)("a")) == ("A", ["A"])

    def test_repr_lists_stages(self) -> None:
        """repr shows the stages in order."""
        assert repr(frames(upper, split)).startswith("frames(<function upper")

    def test_drop_is_not_an_exception(self) -> None:
        """Drop is a control signal that `except Exception` does not swallow."""
        assert not issubclass(Drop, Exception)

    def test_errors_propagate(self) -> None:
        """An ordinary exception in a stage reaches the caller."""
        def boom(_: Any) -> Any:
            raise ValueError("bad")

        with pytest.raises(ValueError, match="bad"):
            Frames((boom,))("x")
