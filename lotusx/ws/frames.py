"""Frame stages and their composition: ``frames(Inflate(), Dechunk(), Parse(Event), to_model)``.

A *stage* is a plain sync callable taking one item. It returns the next item, returns
:class:`Many` to fan out (one frame holding several messages), or raises :class:`Drop`
when it consumed the item and has nothing to emit (a buffered partial, a bad frame it
already counted). ``frames(*stages)`` composes them once into one function, so a frame
costs a few plain calls and no coroutine (structlog's processor chain, DropEvent included).

A stage holding state of its connection (:class:`~lotusx.ws.dechunk.Dechunk`'s half-read
messages) defines ``fresh()``, a copy with none: each connection of a ``ReconnectWs`` runs
:meth:`Frames.fresh`, so a part left by a dead socket is never joined to a new socket's,
nor one shard's to another's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import FunctionType, MethodType
from typing import Any, TypeAlias

Stage: TypeAlias = Callable[[Any], Any]


class Drop(BaseException):
    """Raised by a stage: the item was consumed and nothing is emitted."""


class Many(tuple[Any, ...]):
    """A stage's result that fans out: each element continues through the later stages."""

    __slots__ = ()


@dataclass(frozen=True, repr=False)
class Frames:
    """Stages composed once; calling it maps one inbound payload to a list of outputs."""

    stages: tuple[Stage, ...] = ()
    run: Callable[[Any], list[Any]] = field(init=False, compare=False)  # __call__ minus one call
    # Like one stage: the output, a Many, or Drop raised. With one stage it *is* that stage, so
    # a socket reader pays no wrapper call and no list per frame.
    step: Stage = field(init=False, compare=False)
    # The index of the stage whose exception the last failed call raised (see failed_stage).
    _blamed: list[int] = field(init=False, compare=False, default_factory=lambda: [0])

    def __post_init__(self) -> None:
        step = _compose(self.stages, self._blamed)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "run", _listed(step))

    def fresh(self) -> Frames:
        """These stages for one more connection: a fresh copy of each that defines ``fresh()``, the others shared."""
        if not any(hasattr(stage, "fresh") for stage in self.stages):
            return self
        return Frames(tuple(stage.fresh() if hasattr(stage, "fresh") else stage for stage in self.stages))

    def failed_stage(self) -> str:
        """The name of the stage that raised, asked right after a call raised an exception (not ``Drop``)."""
        return stage_name(self.stages[self._blamed[0]]) if self.stages else "frames()"

    def __call__(self, item: Any) -> list[Any]:
        return self.run(item)

    def __repr__(self) -> str:
        return f"frames({', '.join(map(repr, self.stages))})"


def frames(*stages: Stage | Frames | None) -> Frames:
    """Compose ``stages`` in order (first runs first); ``None`` is skipped, pipelines nest flat."""
    flat: list[Stage] = []
    for stage in stages:
        if isinstance(stage, Frames):
            flat.extend(stage.stages)
        elif stage is not None:
            flat.append(stage)
    return Frames(tuple(flat))


def stage_name(stage: Stage) -> str:
    """A stage's name for an error text: its function's or its class's, never its repr (config, state)."""
    name = getattr(stage, "__qualname__", None)
    return name if isinstance(name, str) else type(stage).__name__


def _direct(stage: Stage) -> Stage:
    """``stage``, or the bound ``__call__`` of a stage object whose class defines it in Python.

    CPython calls such an object through its type's call slot, ~50 ns more per call than
    through the bound method; stages are called for every frame.
    """
    # The attribute as the class stores it: a staticmethod's function must not be bound.
    call = next((vars(k)["__call__"] for k in type(stage).__mro__ if "__call__" in vars(k)), None)
    return MethodType(call, stage) if isinstance(call, FunctionType) else stage


def _listed(step: Stage) -> Callable[[Any], list[Any]]:
    """``step`` as a list of messages: ``[]`` for a drop, a fan-out's parts, else the one output."""

    def run(item: Any) -> list[Any]:
        try:
            out = step(item)
        except Drop:
            return []
        return list(out) if type(out) is Many else [out]

    return run


def _compose(stages: tuple[Stage, ...], blamed: list[int]) -> Stage:
    """One call for the whole pipeline: the output, a ``Many`` of outputs, or ``Drop`` raised.

    A stage's exception goes out as it is, its index left in ``blamed[0]`` (a try costs nothing
    until it catches, so the frames that pass pay nothing for it).
    """
    stages = tuple(map(_direct, stages))
    count = len(stages)

    def feed(item: Any, start: int, out: list[Any]) -> None:
        for index in range(start, count):
            try:
                item = stages[index](item)
            except Drop:
                return
            except Exception:
                blamed[0] = index
                raise
            if type(item) is Many:
                for part in item:
                    feed(part, index + 1, out)
                return
        out.append(item)

    def fan_out(parts: Many, done: int) -> Any:
        out: list[Any] = []
        for part in parts:
            feed(part, done, out)
        if len(out) == 1 and type(out[0]) is not Many:  # a Many message is one message: keep it wrapped
            return out[0]
        if not out:
            raise Drop
        return Many(out)

    if count == 1:  # one stage (a venue's whole decoder): the stage itself
        return stages[0]

    if count == 2:  # the usual pair (decompress, decode): no loop
        first, second = stages

        def step_two(item: Any) -> Any:
            try:
                item = first(item)
            except Exception:
                blamed[0] = 0
                raise
            if type(item) is Many:
                return fan_out(item, 1)
            try:
                item = second(item)
            except Exception:
                blamed[0] = 1
                raise
            return fan_out(item, 2) if type(item) is Many else item

        return step_two

    def step(item: Any) -> Any:
        for done, stage in enumerate(stages, 1):
            try:
                item = stage(item)
            except Exception:
                blamed[0] = done - 1
                raise
            if type(item) is Many:
                return fan_out(item, done)
        return item

    return step
