"""Memory trend of a soak (no server)."""

from __future__ import annotations

import pytest

from reliability.memory import Sample, slope_per_s, trend


def samples(values: list[float], every_s: float = 10.0) -> list[Sample]:
    return [Sample(i * every_s, v) for i, v in enumerate(values)]


def test_flat_memory_has_no_growth_and_no_slope():
    t = trend(samples([400.0] * 10))
    assert t.growth_mib == 0 and t.growth_pct == 0 and t.slope_mib_per_min == 0


def test_a_steady_leak_shows_as_growth_and_slope():
    # 1 MiB every 10 s = 6 MiB per minute.
    t = trend(samples([400.0 + i for i in range(30)]))
    assert t.growth_mib == pytest.approx(29.0)
    assert t.growth_pct == pytest.approx(29.0 / 400 * 100)
    assert t.slope_mib_per_min == pytest.approx(6.0)
    assert t.peak_mib == 429.0


def test_warm_up_growth_that_settles_has_no_slope_in_the_second_half():
    t = trend(samples([380.0, 395.0, 400.0, 400.0, 400.0, 400.0, 400.0, 400.0]))
    assert t.growth_mib == pytest.approx(20.0)
    assert t.slope_mib_per_min == pytest.approx(0.0)


def test_slope_of_too_few_samples_is_zero_and_no_samples_is_an_error():
    assert slope_per_s([Sample(0.0, 1.0)]) == 0.0
    assert slope_per_s([Sample(5.0, 1.0), Sample(5.0, 2.0)]) == 0.0
    with pytest.raises(ValueError, match="no memory samples"):
        trend([])
