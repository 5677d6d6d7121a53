"""The interleaved single-text comparison: call order and summary (the server part runs in the
bench smoke test)."""

from __future__ import annotations

import pytest

from benchmarks.paired import served_first, summarize


def test_calls_alternate_abba_so_neither_side_always_runs_first():
    first = [[served_first(r, i) for i in range(4)] for r in range(2)]
    assert first == [[True, False, True, False], [False, True, False, True]]
    # Over two rounds every text has been first once on each side.
    assert all(first[0][i] != first[1][i] for i in range(4))


def test_summary_compares_percentiles_and_per_text_differences():
    served = [10.0, 12.0, 30.0, 11.0]
    limit = [9.0, 9.5, 27.0, 8.0]
    record = summarize(served, limit)
    assert record["calls"] == 4
    assert record["excess_p50_ms"] == pytest.approx(record["served_p50_ms"] - record["limit_p50_ms"])
    assert record["difference_p50_ms"] == pytest.approx(2.75)  # median of 1, 2.5, 3, 3
    with pytest.raises(ValueError, match="shorter"):
        summarize([1.0], [])
