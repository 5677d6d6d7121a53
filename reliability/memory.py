"""Memory samples of a server's process tree over a soak, and their trend (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """Resident memory of the whole tree (server and stubs) at one moment."""

    at_s: float
    rss_mib: float


@dataclass(frozen=True)
class MemoryTrend:
    """How memory moved over a soak.

    Attributes:
        first_mib, last_mib, peak_mib: First, last and highest sample.
        growth_mib: Last minus first.
        growth_pct: ``growth_mib`` as a share of the first sample, in percent.
        slope_mib_per_min: Least-squares slope over the second half of the samples (a leak
            keeps a positive slope once the allocators have settled; noise averages out).
    """

    first_mib: float
    last_mib: float
    peak_mib: float
    growth_mib: float
    growth_pct: float
    slope_mib_per_min: float


def slope_per_s(samples: Sequence[Sample]) -> float:
    """Least-squares slope of ``rss_mib`` over ``at_s`` (0 for fewer than two samples)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(s.at_s for s in samples) / n
    mean_m = sum(s.rss_mib for s in samples) / n
    variance = sum((s.at_s - mean_t) ** 2 for s in samples)
    if variance == 0:
        return 0.0
    return sum((s.at_s - mean_t) * (s.rss_mib - mean_m) for s in samples) / variance


def trend(samples: Sequence[Sample]) -> MemoryTrend:
    """The trend of a soak's samples (in time order).

    Raises:
        ValueError: With no samples.
    """
    if not samples:
        raise ValueError("no memory samples")
    first, last = samples[0].rss_mib, samples[-1].rss_mib
    second_half = samples[len(samples) // 2 :]
    return MemoryTrend(
        first_mib=first,
        last_mib=last,
        peak_mib=max(s.rss_mib for s in samples),
        growth_mib=last - first,
        growth_pct=(last - first) / first * 100 if first else 0.0,
        slope_mib_per_min=slope_per_s(second_half) * 60,
    )
