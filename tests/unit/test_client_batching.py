"""Splitting long lists into requests and putting the answers back (no server)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinserve.batching import CallResults, Chunk, plan_requests, resplit, split, validate_texts
from clinserve.errors import InvalidInputError, RequestTooLargeError, error_from_status


@pytest.mark.parametrize(
    ("count", "size", "expected_sizes"),
    [
        (0, 64, []),
        (1, 64, [1]),
        (64, 64, [64]),
        (65, 64, [64, 1]),
        (130, 64, [64, 64, 2]),
        (5, 1, [1, 1, 1, 1, 1]),
    ],
)
def test_split_cuts_a_list_into_chunks_no_larger_than_the_limit(count, size, expected_sizes):
    texts = [f"t{i}" for i in range(count)]
    chunks = split(texts, size)
    assert [len(c) for c in chunks] == expected_sizes
    assert [c.start for c in chunks] == [sum(expected_sizes[:i]) for i in range(len(expected_sizes))]


@given(st.lists(st.text(min_size=1), max_size=300), st.integers(min_value=1, max_value=80))
def test_split_keeps_every_text_once_in_order(texts, size):
    chunks = split(texts, size)
    assert [t for c in chunks for t in c.texts] == texts
    assert all(1 <= len(c) <= size for c in chunks)
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))


def test_split_rejects_a_chunk_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        split(["a"], 0)


@pytest.mark.parametrize(("count", "size"), [(0, 4), (1, 4), (10, 3), (64, 64), (200, 7)])
def test_call_results_restore_caller_order_whatever_order_chunks_complete_in(count, size):
    texts = [f"t{i}" for i in range(count)]
    parts = [(chunk, [t.upper() for t in chunk.texts]) for chunk in split(texts, size)]
    random.Random(count).shuffle(parts)
    results: CallResults[str] = CallResults(count)
    for chunk, answers in parts:
        results.fill(chunk, answers)
    assert results.done() == [t.upper() for t in texts]


def test_call_results_refuse_a_chunk_with_the_wrong_number_of_results():
    with pytest.raises(ValueError, match="1 results for 2 texts"):
        CallResults[str](2).fill(Chunk(0, ("a", "b")), ["A"])


def test_call_results_refuse_missing_texts():
    results: CallResults[str] = CallResults(3)
    results.fill(split(["a", "b", "c"], 2)[0], ["A", "B"])
    with pytest.raises(ValueError, match="1 of 3 texts got no result"):
        results.done()


def test_a_text_refused_alone_becomes_a_document_with_its_refusal():
    results: CallResults[str] = CallResults(4)
    refusal = RequestTooLargeError("needs too many sequences")
    results.fill(Chunk(0, ("a", "b")), ["A", refusal])
    results.fill(Chunk(3, ("d",)), ["D"])
    assert results.documents([2]) == [(1, refusal), (2, None)]
    results.set(1, "B")
    results.set(2, "C")
    assert results.done() == ["A", "B", "C", "D"]


def test_plan_requests_sets_long_texts_aside_and_keeps_the_rest_in_order():
    texts = ["a", "b", "x" * 50, "c", "d", "e", "y" * 50]
    plan = plan_requests(texts, 2, document_chars=10)
    assert [(c.start, c.texts) for c in plan.chunks] == [(0, ("a", "b")), (3, ("c", "d")), (5, ("e",))]
    assert plan.documents == [2, 6]
    assert plan_requests(texts, 64, document_chars=None).documents == []


def _too_large(needed: int, most: int, what: str = "model sequences") -> RequestTooLargeError:
    detail = " (96 model sequences of 128 tokens)" if what == "token positions" else ""
    error = error_from_status(
        "StatusCode.INVALID_ARGUMENT",
        f"in ensemble 'biomarker', in mode 'sentences' the request needs {needed:,} {what}{detail},"
        f" more than the {most:,} one request may use: send fewer or shorter texts"
        " (docs/long-documents.md)",
    )
    assert isinstance(error, RequestTooLargeError)
    return error


def test_resplit_scales_the_chunk_by_the_share_that_fits():
    chunk = Chunk(64, tuple(f"t{i}" for i in range(64)))
    parts = resplit(chunk, _too_large(1536, 512))  # 24 sequences per text -> 21 texts
    assert [len(p) for p in parts] == [21, 21, 21, 1]
    assert parts[0].start == 64
    assert [t for p in parts for t in p.texts] == list(chunk.texts)


def test_resplit_honours_the_token_position_limit_too():
    chunk = Chunk(0, tuple(f"t{i}" for i in range(64)))
    assert [len(p) for p in resplit(chunk, _too_large(32768, 16384, "token positions"))] == [32, 32]
    assert [len(p) for p in resplit(chunk, _too_large(65536, 16384, "token positions"))] == [16] * 4


def test_resplit_halves_at_least_so_it_always_makes_progress():
    chunk = Chunk(0, tuple(f"t{i}" for i in range(10)))
    assert [len(p) for p in resplit(chunk, _too_large(513, 512))] == [5, 5]
    unparsed = RequestTooLargeError("too large")
    assert unparsed.fit_fraction is None
    assert [len(p) for p in resplit(chunk, unparsed)] == [5, 5]


def test_resplit_of_a_single_text_raises_naming_that_text():
    with pytest.raises(RequestTooLargeError, match=r"texts\[7\] alone is too large"):
        resplit(Chunk(7, ("x",)), _too_large(600, 512))


def test_validate_texts_refuses_a_bare_string():
    with pytest.raises(InvalidInputError, match=r"not a single string: wrap it as \[text\]"):
        validate_texts("just one text")


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["ok", None], r"texts\[1\] is NoneType, not str"),
        (["ok", b"bytes"], r"texts\[1\] is bytes, not str"),
        (["ok", "", "x"], r"texts\[1\] is empty or whitespace only"),
        (["ok", " \n\t "], r"texts\[1\] is empty or whitespace only"),
        (["bad \ud800 surrogate"], r"texts\[0\] is not valid Unicode text: character 4 is a lone surrogate"),
        (
            [b"ok \xff".decode("utf-8", "surrogateescape")],
            r"texts\[0\] is not valid UTF-8: character 3 stands for the byte 0xff",
        ),
    ],
)
def test_validate_texts_names_the_bad_text_by_its_index(texts, message):
    with pytest.raises(InvalidInputError, match=message):
        validate_texts(texts)


def test_validate_texts_counts_indices_from_start():
    with pytest.raises(InvalidInputError, match=r"texts\[101\]"):
        validate_texts(["a", " "], start=100)


def test_validate_texts_accepts_any_sequence_and_returns_a_list():
    assert validate_texts(("a", "b")) == ["a", "b"]
    assert validate_texts([]) == []


def test_split_handles_a_random_large_list():
    rng = random.Random(3)
    texts = [str(rng.random()) for _ in range(1000)]
    chunks = split(texts, 64)
    assert len(chunks) == 16 and chunks[-1].end == 1000
