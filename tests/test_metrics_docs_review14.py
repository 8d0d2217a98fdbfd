"""The metric set lotusx/metrics.py's docstring and README.md describe is the one Metrics registers."""

from __future__ import annotations

import re
from pathlib import Path

import lotusx.metrics
from lotusx.metrics import Metrics

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
DOC = lotusx.metrics.__doc__ or ""


def registered() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every metric a fresh Metrics exposes: its exposed name (``_total`` for counters) -> (type, labels)."""
    metrics = Metrics()
    # The scrape-time families only show their labels once they have a sample.
    metrics.rest_tally("x", "e", "2xx").observe(0.1)
    tally = metrics.ws_tally("x")
    tally.messages[int] = 1
    tally.last_rx = tally.clock.monotonic()
    found = {}
    for family in metrics.registry.collect():
        name = family.name.removeprefix("lotusx_") + ("_total" if family.type == "counter" else "")
        found[name] = (family.type, _labels(metrics, family.name))
    return found


def _labels(metrics: Metrics, exposed: str) -> tuple[str, ...]:
    """The label names of the metric exposed as ``exposed`` (from its samples or its declaration)."""
    for family in metrics.registry.collect():
        if family.name == exposed and family.samples:
            return tuple(label for label in family.samples[0].labels if label != "le")
    for value in vars(metrics).values():
        if getattr(value, "_name", None) in (exposed, f"{exposed}_total"):
            return tuple(value._labelnames)
    raise AssertionError(exposed)


def documented() -> dict[str, tuple[str, ...] | None]:
    """Each ``name{labels}`` / ``name`` the docstring lists (labels None where it gives none)."""
    found: dict[str, tuple[str, ...] | None] = {}
    for name, labels in re.findall(r"``([a-z][a-z_]+)(?:\{([a-z_,]+)\})?``", DOC):
        if name.endswith(("_total", "_seconds", "_ratio", "_depth")):
            found[name] = tuple(labels.split(",")) if labels else None
    return found


def test_every_registered_metric_is_in_the_docstring_and_every_documented_one_is_registered() -> None:
    """The docstring names exactly the metrics Metrics registers."""
    assert set(documented()) == set(registered())


def test_the_docstring_gives_every_metric_its_exact_labels() -> None:
    """Each metric's labels in the docstring are the ones it is registered with."""
    real = registered()
    wrong = {name: (labels, real[name][1]) for name, labels in documented().items()
             if name in real and labels is not None and set(labels) != set(real[name][1])}
    assert not wrong
    unlabelled = {name for name, labels in documented().items() if labels is None}
    assert not unlabelled, f"documented without their labels: {sorted(unlabelled)}"


def test_the_readme_names_every_registered_metric() -> None:
    """README's Metrics paragraph names every metric (the WebSocket ones under ``lotusx_ws_*``)."""
    missing = {name for name in registered()
               if f"lotusx_{name}" not in README and not name.startswith("ws_")}
    assert not missing
    assert "`lotusx_ws_*`" in README


def test_no_metric_takes_an_unbounded_label() -> None:
    """No label holds an order id, a path, a key or a client id: only bounded dimensions."""
    allowed = {"exchange", "endpoint", "status_class", "reason", "outcome", "cause", "pool", "source",
               "stream", "symbol"}
    for name, (_, labels) in registered().items():
        assert set(labels) <= allowed, name
