"""Batching policies of the in-process limit (pure planning, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.limit import parse_policy, plan_batches, spread

LENGTHS = [30, 12, 128, 40, 20, 70, 128, 33]


def flatten(batches):
    return sorted(i for indices, _ in batches for i in indices)


@pytest.mark.parametrize("policy", ["sorted", "bucket", "fixed"])
def test_every_text_is_planned_exactly_once_and_fits_its_batch(policy):
    batches = plan_batches(LENGTHS, policy, 3, max_tokens=128, buckets=(16, 32, 64, 128))
    assert flatten(batches) == list(range(len(LENGTHS)))
    for indices, length in batches:
        assert 1 <= len(indices) <= 3
        assert all(LENGTHS[i] <= length for i in indices)


def test_sorted_batches_pad_to_their_longest_text_only():
    batches = plan_batches(LENGTHS, "sorted", 4, max_tokens=128, buckets=(16, 32, 64, 128))
    assert [(sorted(LENGTHS[i] for i in idx), length) for idx, length in batches] == [
        ([12, 20, 30, 33], 33),
        ([40, 70, 128, 128], 128),
    ]


def test_bucket_batches_hold_one_bucket_each_as_triton_merges_only_equal_shapes():
    batches = plan_batches(LENGTHS, "bucket", 8, max_tokens=128, buckets=(16, 32, 64, 128))
    assert [(sorted(LENGTHS[i] for i in idx), length) for idx, length in batches] == [
        ([12], 16),
        ([20, 30], 32),
        ([33, 40], 64),
        ([70, 128, 128], 128),
    ]


def test_fixed_batches_pad_everything_to_max_tokens():
    batches = plan_batches(LENGTHS, "fixed", 5, max_tokens=128, buckets=(16, 32))
    assert [length for _, length in batches] == [128, 128]


def padded(policy, size):
    batches = plan_batches(LENGTHS, policy, size, max_tokens=128, buckets=(16, 32, 64, 128))
    return sum(len(indices) * length for indices, length in batches)


def test_sorted_batches_of_one_pad_nothing_and_buckets_never_pad_beyond_fixed():
    assert padded("sorted", 1) == sum(LENGTHS)
    for size in (1, 2, 4, 8):
        assert sum(LENGTHS) <= padded("bucket", size) <= padded("fixed", size)
        assert padded("sorted", size) <= padded("fixed", size)


def test_unknown_policy_or_batch_size_raises_error():
    with pytest.raises(ValueError, match="unknown batching policy"):
        plan_batches(LENGTHS, "ragged", 4, max_tokens=128, buckets=(128,))
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        plan_batches(LENGTHS, "sorted", 0, max_tokens=128, buckets=(128,))


def test_policy_spec_parsing():
    assert parse_policy("sorted:32") == ("sorted", 32, 1)
    assert parse_policy("sorted:1x2") == ("sorted", 1, 2)
    for bad in ("sorted", "sorted:0", "greedy:8", "bucket:x", "sorted:8x0", "sorted:8x"):
        with pytest.raises(ValueError, match="NAME:BATCH"):
            parse_policy(bad)


def test_single_text_subset_spreads_over_the_corpus_and_is_the_same_every_time():
    texts = [f"t{i}" for i in range(160)]
    chosen = spread(texts, 48)
    assert len(chosen) == 48 == len(set(chosen))
    assert chosen[0] == "t0" and chosen[-1] == "t156"  # reaches the end, not only a prefix
    assert chosen == spread(texts, 48)
    assert spread(texts[:5], 48) == texts[:5]


def test_several_callers_run_every_batch_once_on_the_shared_session():
    import onnxruntime as ort

    from benchmarks.limit import run_policy
    from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier

    graph = build_bert_classifier("treatment_changes", 2, token_level=False, shape=DEMO_SIZES["tiny"])
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    sequences = [np.arange(1, n + 1, dtype=np.int64) for n in (5, 9, 3, 12, 7, 4, 8)]
    runs: list[int] = []
    original_run = session.run

    def counting_run(outputs, feeds):  # the real session, counted
        runs.append(feeds["input_ids"].shape[0])
        return original_run(outputs, feeds)

    session.run = counting_run
    one = run_policy(session, sequences, "sorted", 2, max_tokens=16, pad_id=0, buckets=(16,))
    total_one = sum(runs)
    runs.clear()
    three = run_policy(session, sequences, "sorted", 2, max_tokens=16, pad_id=0, buckets=(16,), callers=3)
    assert sum(runs) == total_one == len(sequences)  # every text once, whatever the callers
    assert len(runs) == 4
    assert (one.label, three.label) == ("sorted:2", "sorted:2x3")
    assert three.padded_tokens == one.padded_tokens and three.texts_per_s > 0
