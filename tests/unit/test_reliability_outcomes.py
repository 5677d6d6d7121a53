"""How the reliability suite classifies each request, and the summary of a run (no server)."""

from __future__ import annotations

import pytest

from benchmarks.stats import percentile
from clinserve.errors import (
    ClinServeError,
    DeadlineExceededError,
    ModelNotFoundError,
    OverloadedError,
    ResultFormatError,
    ServerError,
    UnavailableError,
    error_from_status,
)
from lab.driver import Call, Outcome
from reliability.outcomes import (
    Tally,
    classify_error,
    error_kind,
    normalize_message,
    same_answer,
)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (OverloadedError("Exceeds maximum queue size", status="UNAVAILABLE"), Outcome.FAILED),
        (UnavailableError("Server is stopping", status="UNAVAILABLE"), Outcome.FAILED),
        (ServerError("Stub process 'x_0_0' is not healthy.", status="INTERNAL"), Outcome.FAILED),
        (DeadlineExceededError("Deadline Exceeded", status="DEADLINE_EXCEEDED"), Outcome.LOST),
        (ClinServeError("connection dropped"), Outcome.LOST),  # no status: nobody said why
        (ServerError("   ", status="INTERNAL"), Outcome.LOST),  # a status without a message
        (ResultFormatError("RESULT is not JSON"), Outcome.WRONG),
        (RuntimeError("boom"), Outcome.LOST),
    ],
)
def test_an_error_is_a_clear_refusal_only_with_a_status_and_a_message(error, outcome):
    assert classify_error(error) is outcome


def test_triton_queue_refusals_are_overload_errors_the_client_retries():
    # Both come back as UNAVAILABLE; the server itself is up, so they must not be read as "down".
    for message in (
        "in ensemble 'treatment_changes', [request id: <id_unknown>] Exceeds maximum queue size",
        "in ensemble 'treatment_changes', Request timeout expired",
    ):
        error = error_from_status("StatusCode.UNAVAILABLE", message)
        assert isinstance(error, OverloadedError) and error.retryable


def test_a_model_unloading_on_a_stopping_server_is_unavailable_not_unknown():
    stopping = error_from_status(
        "StatusCode.NOT_FOUND", "Request for unknown model: 'treatment_changes' has no available versions"
    )
    unknown = error_from_status("StatusCode.NOT_FOUND", "Request for unknown model: 'nope' is not found")
    assert isinstance(stopping, UnavailableError) and stopping.retryable
    assert isinstance(unknown, ModelNotFoundError) and not unknown.retryable


def test_error_kinds_drop_what_changes_per_request():
    a = normalize_message("in ensemble 'm', [request id: 17] Exceeds maximum queue size")
    b = normalize_message("in ensemble 'm', [request id: <id_unknown>] Exceeds maximum queue size")
    assert a == b == "Exceeds maximum queue size"
    assert (
        normalize_message("failed to connect to ipv4:127.0.0.1:41231")
        == "failed to connect to ipv4:127.0.0.1:N"
    )
    assert error_kind(OverloadedError("Request timeout expired", status="UNAVAILABLE")) == (
        "OverloadedError: Request timeout expired"
    )


def test_answers_compare_floats_within_the_tolerance_and_everything_else_exactly():
    expected = {
        "label": "positive",
        "score": 0.7,
        "scores": [{"label": "negative", "score": 0.3}],
        "untrained": True,
    }
    close = {
        "label": "positive",
        "score": 0.70001,
        "scores": [{"label": "negative", "score": 0.29999}],
        "untrained": True,
    }
    assert same_answer(expected, close)
    assert not same_answer(expected, {**close, "label": "negative"})
    assert not same_answer(expected, {**close, "score": 0.71})
    assert not same_answer(expected, {**close, "untrained": 1})  # a bool is not an int
    assert not same_answer(expected, {**close, "extra": None})
    assert not same_answer(expected, {**close, "scores": []})
    assert not same_answer({"score": 0.5}, {"score": "0.5"})


def test_percentile_matches_linear_interpolation():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == 99
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="must lie in"):
        percentile([1], 101)


def test_a_tally_counts_every_outcome_and_times_only_answers():
    calls = [
        Call(0.0, 0.010, Outcome.ANSWERED),
        Call(0.0, 0.030, Outcome.ANSWERED),
        Call(0.0, 0.002, Outcome.FAILED, "OverloadedError: Exceeds maximum queue size"),
        Call(0.0, 0.004, Outcome.FAILED, "OverloadedError: Exceeds maximum queue size"),
        Call(0.0, 15.0, Outcome.LOST, "no answer and no error past the deadline"),
        Call(0.0, 0.020, Outcome.WRONG, "answer differs from the reference for text 3"),
    ]
    tally = Tally.of(calls)
    assert (tally.sent, tally.answered, tally.failed, tally.lost, tally.wrong) == (6, 2, 2, 1, 1)
    assert tally.p50_ms == pytest.approx(20.0)
    assert tally.max_ms == pytest.approx(30.0)
    assert tally.failed_p99_ms == pytest.approx(3.98)
    assert tally.kinds["failed: OverloadedError: Exceeds maximum queue size"] == 2
    assert next(iter(tally.kinds)).startswith("failed:")  # most common first


def test_a_tally_of_no_answers_has_no_latency():
    tally = Tally.of([Call(0.0, 1.0, Outcome.FAILED, "x")])
    assert tally.p50_ms is None and tally.p99_ms is None and tally.failed_p99_ms == pytest.approx(1000.0)
    assert Tally.of([]).sent == 0
