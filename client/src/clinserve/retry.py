"""The retry loop (sync and asyncio), bounded by the call's deadline.

The decision of whether and how long to wait is one pure function, :func:`next_wait`, shared by
both loops and unit-tested with fake clocks and callables.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable
from typing import Callable, TypeVar

from clinserve.errors import ClinServeError, DeadlineExceededError
from clinserve.options import RetryPolicy

__all__ = ["Deadline", "call_with_retry", "call_with_retry_async", "next_wait"]

T = TypeVar("T")
#: Says whether another endpoint can take the next attempt at once (no backoff needed).
FailOver = Callable[[ClinServeError], bool]


class Deadline:
    """A point in time a call must finish by."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._at = clock() + timeout_s

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._at - self._clock()

    def expired_error(self, last: ClinServeError | None, attempts: int) -> DeadlineExceededError:
        """The error for a deadline that passed between attempts."""
        cause = f"; last error: {last}" if last is not None else ""
        error = DeadlineExceededError(
            f"deadline of {self.timeout_s:g}s passed after {attempts} attempt(s){cause}"
        )
        error.attempts = attempts
        return error


def next_wait(
    error: ClinServeError,
    attempts: int,
    policy: RetryPolicy,
    remaining_s: float,
    *,
    fail_over: FailOver | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """How long to wait before the next attempt, or ``None`` to give up and raise ``error``.

    Args:
        error: What the last attempt raised.
        attempts: Attempts made so far (1 after the first).
        policy: The retry policy.
        remaining_s: Time left before the call's deadline.
        fail_over: When it returns True, another endpoint takes the next attempt at once.
        rng: Source of jitter (tests pass a seeded one).
    """
    if not error.retryable or attempts >= policy.max_attempts:
        return None
    wait = 0.0 if fail_over is not None and fail_over(error) else policy.backoff(attempts, rng)
    if wait >= remaining_s:
        return None
    return wait


def call_with_retry(
    attempt: Callable[[float], T],
    policy: RetryPolicy,
    deadline: Deadline,
    *,
    fail_over: FailOver | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``attempt(remaining_seconds)`` until it succeeds or the policy gives up.

    Raises:
        ClinServeError: The last attempt's error (``attempts`` set), or
            :class:`DeadlineExceededError` when the deadline passes between attempts.
    """
    attempts = 0
    last: ClinServeError | None = None
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.expired_error(last, attempts) from last
        attempts += 1
        try:
            return attempt(remaining)
        except ClinServeError as error:
            error.attempts = attempts
            wait = next_wait(error, attempts, policy, deadline.remaining(), fail_over=fail_over, rng=rng)
            if wait is None:
                raise
            last = error
        sleep(wait)


async def call_with_retry_async(
    attempt: Callable[[float], Awaitable[T]],
    policy: RetryPolicy,
    deadline: Deadline,
    *,
    fail_over: FailOver | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Asyncio twin of :func:`call_with_retry`."""
    attempts = 0
    last: ClinServeError | None = None
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.expired_error(last, attempts) from last
        attempts += 1
        try:
            return await attempt(remaining)
        except ClinServeError as error:
            error.attempts = attempts
            wait = next_wait(error, attempts, policy, deadline.remaining(), fail_over=fail_over, rng=rng)
            if wait is None:
                raise
            last = error
        await sleep(wait)
