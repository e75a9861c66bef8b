from __future__ import annotations

import numpy as np
import prometheus_client
import pytest

from gitops_ml.serving.prometheus import observe_all

BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def test_observing_all_values_at_once_exposes_what_observing_each_does() -> None:
    values = np.concatenate([np.random.default_rng(0).random(1_000), BUCKETS, [0.0, 0.05000001]])
    one_by_one, at_once = prometheus_client.CollectorRegistry(), prometheus_client.CollectorRegistry()
    each = prometheus_client.Histogram("p", "d", buckets=BUCKETS, registry=one_by_one)
    for value in values:
        each.observe(float(value))
    observe_all(prometheus_client.Histogram("p", "d", buckets=BUCKETS, registry=at_once), values)
    exposed = [exposition(registry) for registry in (at_once, one_by_one)]
    assert (
        exposed[0]["buckets"] == exposed[1]["buckets"] and len(exposed[0]["buckets"]) == len(BUCKETS) + 2
    )  # +Inf, count
    assert exposed[0]["sum"] == pytest.approx(exposed[1]["sum"], rel=1e-12)


def exposition(registry: prometheus_client.CollectorRegistry) -> dict[str, object]:
    """The histogram as /metrics shows it: the cumulative bucket lines and the sum."""
    lines = prometheus_client.generate_latest(registry).decode().splitlines()
    return {
        "buckets": [line for line in lines if line.startswith(("p_bucket", "p_count"))],
        "sum": float(next(line for line in lines if line.startswith("p_sum")).split()[1]),
    }
