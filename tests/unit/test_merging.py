"""How one tokenizer execution groups its requests: passes by size, shared lengths by cost."""

from __future__ import annotations

import pytest

from clinserve_preprocess.merging import passes, shared_lengths

BUCKETS = (8, 16, 24, 32, 64, 128)


def test_passes_go_smallest_first_within_the_budget():
    sizes = [50, 10, 300, 20, 40]
    assert passes(sizes, lambda s: s, 64) == [[10, 20], [40], [50], [300]]


def test_a_request_larger_than_the_budget_gets_a_pass_of_its_own():
    assert passes([5, 1000, 5], lambda s: s, 100) == [[5, 5], [1000]]
    assert passes([], lambda s: s, 100) == []


def test_a_ratio_of_one_shares_lengths_only_between_equal_buckets():
    shapes = [(1, 16), (1, 24), (2, 16)]
    assert shared_lengths(shapes, 1.0, 128, BUCKETS) == [16, 24, 16]


def test_requests_share_a_length_while_the_extra_padding_stays_within_the_ratio():
    # Alone: 1x16 + 1x24 = 40 positions; merged at 24: 48 = 1.2 x alone.
    assert shared_lengths([(1, 16), (1, 24)], 1.25, 128, BUCKETS) == [24, 24]
    assert shared_lengths([(1, 16), (1, 24)], 1.15, 128, BUCKETS) == [16, 24]


def test_a_long_request_does_not_drag_many_short_ones_to_its_length():
    shapes = [(1, 16)] * 6 + [(1, 128)]
    lengths = shared_lengths(shapes, 1.5, 128, BUCKETS)
    assert lengths[:6] == [16] * 6 and lengths[6] == 128


@pytest.mark.parametrize("ratio", [1.0, 1.5, 100.0])
def test_a_length_is_never_shorter_than_the_request_needs(ratio):
    shapes = [(3, 24), (1, 8), (2, 64), (1, 32)]
    for (_, own), length in zip(shapes, shared_lengths(shapes, ratio, 128, BUCKETS), strict=True):
        assert length >= own and length in BUCKETS
