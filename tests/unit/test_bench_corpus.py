"""The benchmark corpus: exact length mix, seeded, clinical-style lengths per class."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.corpus import (
    CHAR_RANGES,
    DEFAULT_MIX,
    class_counts,
    generate_corpus,
    load_corpus,
    long_document,
    save_corpus,
)


@given(st.integers(min_value=0, max_value=5000))
def test_class_counts_sum_to_the_size_and_stay_within_one_of_the_exact_share(size):
    counts = class_counts(size)
    assert sum(counts.values()) == size
    for kind, share in DEFAULT_MIX.items():
        assert abs(counts[kind] - size * share) < 1


def test_default_mix_is_forty_forty_twenty():
    assert class_counts(200) == {"tweet": 80, "sentence": 80, "abstract": 40}


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"tweet": 0.5, "sentence": 0.4}, "sum to 1"),
        ({"tweet": 0.5, "sentence": 0.6, "abstract": -0.1}, "must be >= 0"),
        ({"tweet": 0.5, "novel": 0.5}, "unknown length class"),
    ],
)
def test_a_bad_mix_raises_error_naming_the_problem(mix, message):
    with pytest.raises(ValueError, match=message):
        class_counts(10, mix)


def test_corpus_has_the_mix_and_every_text_lies_in_its_class_length_range():
    corpus = generate_corpus(150, seed=3)
    assert len(corpus) == 150
    assert {k: sum(t.kind == k for t in corpus) for k in DEFAULT_MIX} == class_counts(150)
    for item in corpus:
        low, high = CHAR_RANGES[item.kind]
        assert low <= len(item.text) <= high, (item.kind, len(item.text))
        assert item.text == item.text.strip()


def test_corpus_is_interleaved_not_grouped_by_class():
    kinds = [t.kind for t in generate_corpus(100, seed=0)]
    changes = sum(a != b for a, b in itertools.pairwise(kinds))
    assert changes > 30


def test_same_seed_gives_the_same_corpus_and_another_seed_another():
    assert generate_corpus(40, seed=7) == generate_corpus(40, seed=7)
    assert generate_corpus(40, seed=7) != generate_corpus(40, seed=8)


@pytest.mark.parametrize("chars", [1, 999, 1000, 10_000, 100_000])
def test_long_document_has_exactly_the_requested_length(chars):
    document = long_document(chars, seed=1)
    assert len(document) == chars


def test_long_document_of_no_characters_raises_error():
    with pytest.raises(ValueError, match="at least one character"):
        long_document(0)


def test_corpus_round_trips_through_json_lines(tmp_path):
    corpus = generate_corpus(12, seed=2)
    path = tmp_path / "corpus.jsonl"
    save_corpus(corpus, path)
    assert load_corpus(path) == corpus


def test_loading_a_corpus_line_without_a_known_class_raises_error_with_the_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"kind": "tweet", "text": "ok"}\n{"kind": "poem", "text": "no"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"corpus.jsonl:2"):
        load_corpus(path)
