"""The interleaved single-text comparison: call order and summary (the server part runs in the
bench smoke test)."""

from __future__ import annotations

import pytest

from benchmarks.paired import call_order, summarize


def test_calls_rotate_so_every_side_runs_first_equally_often():
    assert call_order(2, 0, 0) == [0, 1] and call_order(2, 0, 1) == [1, 0]
    assert call_order(2, 1, 0) == [1, 0]  # the next round swaps the order of each text
    firsts = [call_order(3, r, i)[0] for r in range(2) for i in range(6)]
    assert sorted(firsts) == [0] * 4 + [1] * 4 + [2] * 4
    assert all(sorted(call_order(3, 1, i)) == [0, 1, 2] for i in range(3))


def test_summary_compares_percentiles_and_per_text_differences():
    served = [10.0, 12.0, 30.0, 11.0]
    limit = [9.0, 9.5, 27.0, 8.0]
    record = summarize(served, limit)
    assert record["calls"] == 4
    assert record["excess_p50_ms"] == pytest.approx(record["served_p50_ms"] - record["limit_p50_ms"])
    assert record["difference_p50_ms"] == pytest.approx(2.75)  # median of 1, 2.5, 3, 3
    with pytest.raises(ValueError, match="shorter"):
        summarize([1.0], [])
