"""Retry policy and loop: backoff with full jitter, retryable errors only, the deadline (no server).

The loop is driven by plain fake callables, clocks and sleeps: this is the client's own logic.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from clinserve.errors import (
    DeadlineExceededError,
    InvalidInputError,
    OverloadedError,
    UnavailableError,
)
from clinserve.options import RetryPolicy
from clinserve.retry import Deadline, call_with_retry, call_with_retry_async, next_wait


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class Flaky:
    """Fails with the given errors in turn, then returns "ok"; records the time left per attempt."""

    def __init__(self, *errors: Exception, clock: FakeClock | None = None, cost_s: float = 0.0) -> None:
        self.errors = list(errors)
        self.remaining_seen: list[float] = []
        self.clock = clock
        self.cost_s = cost_s

    def __call__(self, remaining_s: float) -> str:
        self.remaining_seen.append(remaining_s)
        if self.clock is not None:
            self.clock.now += self.cost_s
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_backoff_cap_grows_exponentially_up_to_the_maximum():
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=1.0, multiplier=2.0)
    assert [policy.backoff_cap(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_is_full_jitter_between_zero_and_the_cap():
    policy = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=0.5)
    rng = random.Random(7)
    waits = [policy.backoff(1, rng) for _ in range(2000)]
    assert all(0.0 <= w <= 0.5 for w in waits)
    assert min(waits) < 0.05 and max(waits) > 0.45  # spread over the whole range
    assert sum(waits) / len(waits) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"initial_backoff_s": -1.0}, "must not be negative"),
        ({"max_backoff_s": -0.1}, "must not be negative"),
        ({"multiplier": 0.5}, "multiplier must be at least 1"),
    ],
)
def test_retry_policy_refuses_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_unavailable_then_success_is_retried_with_jittered_backoff():
    clock = FakeClock()
    sleeps: list[float] = []
    attempt = Flaky(UnavailableError("down"), OverloadedError("queue full"), clock=clock)
    policy = RetryPolicy(max_attempts=5, initial_backoff_s=0.1, max_backoff_s=1.0)

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    result = call_with_retry(attempt, policy, Deadline(10, clock), sleep=sleep, rng=random.Random(1))
    assert result == "ok"
    assert len(attempt.remaining_seen) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_a_non_retryable_error_is_raised_at_once():
    attempt = Flaky(InvalidInputError("empty text"))
    with pytest.raises(InvalidInputError) as caught:
        call_with_retry(attempt, RetryPolicy(), Deadline(10), sleep=lambda s: None)
    assert caught.value.attempts == 1
    assert len(attempt.remaining_seen) == 1


def test_the_last_error_is_raised_when_attempts_run_out():
    attempt = Flaky(*(UnavailableError(f"down {i}") for i in range(10)))
    with pytest.raises(UnavailableError, match="down 2") as caught:
        call_with_retry(attempt, RetryPolicy(max_attempts=3), Deadline(10), sleep=lambda s: None)
    assert caught.value.attempts == 3


def test_attempts_get_the_time_left_and_no_retry_outlives_the_deadline():
    clock = FakeClock()
    attempt = Flaky(*(UnavailableError("down") for _ in range(100)), clock=clock, cost_s=0.4)
    policy = RetryPolicy(max_attempts=100, initial_backoff_s=0.2, max_backoff_s=0.2)
    with pytest.raises((UnavailableError, DeadlineExceededError)):
        call_with_retry(attempt, policy, Deadline(2.0, clock), sleep=clock.sleep, rng=random.Random(0))
    assert clock.now <= 2.0 + 0.4  # the last attempt may use its own remaining time, never more
    assert attempt.remaining_seen == sorted(attempt.remaining_seen, reverse=True)
    assert attempt.remaining_seen[0] == pytest.approx(2.0)
    assert 3 <= len(attempt.remaining_seen) <= 5


def test_next_wait_gives_up_when_the_wait_would_pass_the_deadline():
    policy = RetryPolicy(initial_backoff_s=1.0, max_backoff_s=1.0)

    class Always(random.Random):
        def random(self) -> float:
            return 0.9

    assert next_wait(UnavailableError("x"), 1, policy, remaining_s=0.5, rng=Always()) is None
    assert next_wait(UnavailableError("x"), 1, policy, remaining_s=5.0, rng=Always()) == pytest.approx(0.9)


def test_fail_over_to_another_endpoint_skips_the_backoff():
    policy = RetryPolicy(initial_backoff_s=1.0, max_backoff_s=1.0)
    assert next_wait(UnavailableError("x"), 1, policy, 5.0, fail_over=lambda e: True) == 0.0
    assert next_wait(InvalidInputError("x"), 1, policy, 5.0, fail_over=lambda e: True) is None


def test_async_twin_retries_the_same_way():
    attempts: list[float] = []

    async def attempt(remaining_s: float) -> int:
        attempts.append(remaining_s)
        if len(attempts) < 3:
            raise UnavailableError("down")
        return 42

    async def no_sleep(seconds: float) -> None:
        assert seconds >= 0

    result = asyncio.run(call_with_retry_async(attempt, RetryPolicy(), Deadline(10), sleep=no_sleep))
    assert result == 42 and len(attempts) == 3


def test_async_twin_raises_non_retryable_errors_at_once():
    async def attempt(remaining_s: float) -> int:
        raise InvalidInputError("bad")

    with pytest.raises(InvalidInputError):
        asyncio.run(call_with_retry_async(attempt, RetryPolicy(), Deadline(10)))


def test_an_expired_deadline_makes_no_attempt():
    clock = FakeClock()
    deadline = Deadline(1.0, clock)
    clock.now = 2.0
    attempt = Flaky()
    with pytest.raises(DeadlineExceededError, match="deadline of 1s passed after 0 attempt"):
        call_with_retry(attempt, RetryPolicy(), deadline)
    assert attempt.remaining_seen == []
