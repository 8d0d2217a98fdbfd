"""Connectors that report into one registry share one Metrics; a second Metrics on it is a typed mistake."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from lotusx import ConfigError
from lotusx.metrics import Metrics


def test_a_second_metrics_on_one_registry_is_a_config_error_saying_to_share_it() -> None:
    """Metrics(registry) twice (a connector each) raises ConfigError naming the fix, not prometheus' ValueError."""
    registry = CollectorRegistry()
    Metrics(registry)
    with pytest.raises(ConfigError, match="pass that one Metrics to every connector"):
        Metrics(registry)


def test_the_same_names_under_another_namespace_fit_in_one_registry() -> None:
    """A second Metrics with its own namespace registers beside the first."""
    registry = CollectorRegistry()
    Metrics(registry)
    Metrics(registry, namespace="other")
    assert registry.get_sample_value("other_ws_queue_depth", {"exchange": "x"}) is None
