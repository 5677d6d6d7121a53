"""Percentiles and window summaries of the benchmark harness."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.stats import PERCENTILES, Request, percentile, ratio, summarize


def _percentile_before_numpy(values: list[float], q: float) -> float:
    """The hand-written percentile every report before issue 19 used (linear between closest ranks)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200),
    st.floats(min_value=0, max_value=100),
)
def test_percentile_gives_the_figures_of_the_hand_written_one_it_replaced(values, q):
    # Equal up to float rounding (numpy interpolates from the upper neighbour past the midpoint).
    assert percentile(values, q) == pytest.approx(_percentile_before_numpy(values, q), rel=1e-12, abs=1e-9)


def test_percentile_of_latencies_at_the_reported_ranks_is_unchanged():
    latencies = list(np.random.default_rng(19).lognormal(mean=3.0, sigma=0.6, size=997))
    for q in PERCENTILES:
        assert percentile(latencies, q) == pytest.approx(_percentile_before_numpy(latencies, q), rel=1e-15)


def test_percentile_of_known_values():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == 25.0
    assert percentile(values, 100) == 40.0
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_a_rank_outside_0_to_100(q):
    with pytest.raises(ValueError, match="percentile must lie in"):
        percentile([1.0], q)


def test_percentile_of_nothing_raises_error():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summary_counts_completions_in_window_but_latency_only_of_requests_inside_it():
    requests = [
        Request(start=0.5, end=1.5),  # started in warm-up: throughput yes, latency no
        Request(start=1.0, end=1.1),
        Request(start=1.2, end=1.4),
        Request(start=1.5, end=1.9, ok=False),  # a failure: counted as error
        Request(start=1.9, end=2.5),  # ends after the window: neither
    ]
    summary = summarize(requests, concurrency=2, window=(1.0, 2.0))
    assert summary.requests == 2
    assert summary.errors == 1
    assert summary.throughput == pytest.approx(3.0)  # 3 successes completed in 1 s
    assert summary.p50_ms == pytest.approx(150.0)
    assert summary.mean_ms == pytest.approx(150.0)
    assert summary.duration_s == pytest.approx(1.0)


def test_summary_without_a_successful_request_inside_the_window_raises_error_naming_the_fix():
    with pytest.raises(ValueError, match="lengthen the window"):
        summarize([Request(0.0, 5.0)], concurrency=1, window=(1.0, 2.0))


def test_summary_rejects_an_empty_window():
    with pytest.raises(ValueError, match="empty measurement window"):
        summarize([Request(1.0, 1.1)], concurrency=1, window=(2.0, 2.0))


def test_ratio_of_a_missing_measurement_is_nan():
    assert ratio(4.0, 2.0) == 2.0
    assert math.isnan(ratio(4.0, 0.0))
