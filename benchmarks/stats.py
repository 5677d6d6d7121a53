"""Percentiles and the summary of one measurement window (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

PERCENTILES = (50, 95, 99)
#: Linear interpolation between the closest ranks (numpy's default), the method of every report so far.
PERCENTILE_METHOD: Final = "linear"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``: ``numpy.percentile`` with :data:`PERCENTILE_METHOD`.

    Raises:
        ValueError: On no values or ``q`` outside [0, 100].
    """
    if not len(values):
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must lie in [0, 100], got {q}")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q, method=PERCENTILE_METHOD))


@dataclass(frozen=True)
class Request:
    """One request of a load run: when it started and ended (seconds, monotonic), if it failed,
    and how many texts it carried."""

    start: float
    end: float
    ok: bool = True
    texts: int = 1


@dataclass(frozen=True)
class Summary:
    """Throughput and latency of one target at one concurrency.

    Attributes:
        concurrency: Requests kept in flight.
        requests: Successful requests that started and ended inside the window.
        errors: Failed requests inside the window.
        duration_s: Length of the measurement window.
        throughput: Successful completions per second inside the window (texts/s).
        p50_ms, p95_ms, p99_ms, mean_ms: Latency of the counted requests.
    """

    concurrency: int
    requests: int
    errors: int
    duration_s: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def summarize(requests: Sequence[Request], *, concurrency: int, window: tuple[float, float]) -> Summary:
    """Summarize the requests of a closed-loop run inside ``window`` (start, end).

    Throughput counts completions inside the window (a request that started during warm-up and
    ended inside still did work there); latencies use only requests that both started and ended
    inside it, so warm-up and drain do not bias them.

    Raises:
        ValueError: When the window is empty or nothing succeeded inside it.
    """
    begin, end = window
    if end <= begin:
        raise ValueError(f"empty measurement window {window}")
    completed = [r for r in requests if begin <= r.end <= end]
    inside = [r for r in completed if r.start >= begin]
    latencies = [(r.end - r.start) * 1000 for r in inside if r.ok]
    if not latencies:
        raise ValueError(
            f"no successful request started and ended inside the {end - begin:.1f}s window at"
            f" concurrency {concurrency}: lengthen the window"
        )
    ok_completed = sum(r.texts for r in completed if r.ok)
    values = {q: percentile(latencies, q) for q in PERCENTILES}
    return Summary(
        concurrency=concurrency,
        requests=len(latencies),
        errors=sum(1 for r in completed if not r.ok),
        duration_s=end - begin,
        throughput=ok_completed / (end - begin),
        p50_ms=values[50],
        p95_ms=values[95],
        p99_ms=values[99],
        mean_ms=sum(latencies) / len(latencies),
    )


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is 0 (a missing measurement)."""
    return numerator / denominator if denominator else math.nan
