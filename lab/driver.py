"""The programmatic load driver: closed- and open-loop load, an outcome for every request.

Used by the benchmark's load generator (``benchmarks/loadgen.py``: raw gRPC to Triton, HTTP to
the peers, per-request timing inside a measurement window) and by the reliability scenarios
(``reliability/load.py``: the client library, answers checked against reference answers).
What differs between them is passed in, the loops are shared:

- the transport: a :class:`Session` sends one request's texts and returns its results or
  raises; ``open_session`` makes one per caller (a keep-alive HTTP connection each) or hands
  out a shared one (a gRPC channel multiplexes);
- the outcome: ``classify`` turns an exception into an :class:`Outcome` and a detail, ``judge``
  checks the results against what the texts should get (the benchmark's sessions check the
  answers' shape themselves and need no judge);
- the shape: :meth:`Driver.closed_loop` keeps ``concurrency`` requests in flight (capacity,
  steady load around a fault, the benchmark's levels); :meth:`Driver.open_loop` sends at a fixed
  rate whatever happens to earlier requests (overload: the server cannot slow the sender down).

Texts: each caller of a closed loop walks the texts from its own evenly spaced offset,
``texts_per_request`` texts per request, so a length mix is interleaved across callers; an open
loop and single calls walk one shared position the same way. Locust keeps its own users
(``load_tests/``); it draws from the same corpus (``lab.corpus``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "Call",
    "Driver",
    "Outcome",
    "Session",
    "any_error_failed",
]


class Outcome(StrEnum):
    """How one request ended (``reliability/outcomes.py`` says what each must mean there)."""

    ANSWERED = "answered"
    FAILED = "failed"
    LOST = "lost"
    WRONG = "wrong"


@dataclass(frozen=True)
class Call:
    """One request: when it started and ended (seconds from the driver's origin) and how.

    Attributes:
        started: Send time.
        ended: Time the answer or the error came back (or the guard gave up).
        outcome: See :class:`Outcome`.
        detail: Why, for anything but ``answered`` (the classifier's or the judge's words).
        endpoint: Which server or client the call went through (a label the caller picks).
        texts: Texts the request carried.
    """

    started: float
    ended: float
    outcome: Outcome
    detail: str = ""
    endpoint: str = ""
    texts: int = 1

    @property
    def latency_s(self) -> float:
        """Seconds from send to answer (or error)."""
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        """Whether the request was answered (and, with a judge, answered right)."""
        return self.outcome is Outcome.ANSWERED


class Session(Protocol):
    """What one caller uses to send a request."""

    async def send(self, texts: Sequence[str]) -> Sequence[Any]:
        """Send one request of ``texts``; its results, or raise on any failure."""

    async def close(self) -> None:
        """Release the caller's resources."""


#: An exception to the outcome and detail of its call.
Classify = Callable[[Exception], tuple[Outcome, str]]
#: The texts' indices and the results to an outcome and detail (``answered`` and "" when right).
Judge = Callable[[Sequence[int], Sequence[Any]], tuple[Outcome, str]]


def any_error_failed(error: Exception) -> tuple[Outcome, str]:
    """Every exception is a failure; the detail is its type and message (300 characters)."""
    return Outcome.FAILED, f"{type(error).__name__}: {error}"[:300]


class Driver:
    """Sends requests of consecutive texts through sessions and records a :class:`Call` for each.

    Args:
        open_session: A new (or the shared) session; called once per closed-loop caller and
            once for the open loop and single calls.
        texts: The texts requests carry, walked in order (wrapping around).
        texts_per_request: Texts one request carries.
        classify: Outcome of a call that raised.
        judge: Outcome of a call that returned; without one, every return is ``answered``.
        guard_s: Seconds after which a call is abandoned and counted ``lost`` (``None``: the
            session bounds its own calls).
        origin: Monotonic time the run's clock starts at (calls record times relative to it).
        clock: Monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        open_session: Callable[[], Awaitable[Session]],
        texts: Sequence[str],
        *,
        texts_per_request: int = 1,
        classify: Classify = any_error_failed,
        judge: Judge | None = None,
        guard_s: float | None = None,
        origin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not texts:
            raise ValueError("the driver needs at least one text to send")
        if texts_per_request < 1:
            raise ValueError(f"texts per request must be >= 1, got {texts_per_request}")
        self._open_session = open_session
        self.texts = tuple(texts)
        self.texts_per_request = texts_per_request
        self._classify = classify
        self._judge = judge
        self.guard_s = guard_s
        self._clock = clock
        self.origin = clock() if origin is None else origin
        self._shared: Session | None = None
        self._position = 0

    def now(self) -> float:
        """Seconds since the run's origin."""
        return self._clock() - self.origin

    def _indices(self, position: int) -> list[int]:
        return [(position + k) % len(self.texts) for k in range(self.texts_per_request)]

    async def _shared_session(self) -> Session:
        if self._shared is None:
            self._shared = await self._open_session()
        return self._shared

    async def close(self) -> None:
        """Close the session of the open loop and single calls (if one was opened)."""
        if self._shared is not None:
            await self._shared.close()
            self._shared = None

    def _next_indices(self) -> list[int]:
        indices = self._indices(self._position)
        self._position += self.texts_per_request
        return indices

    async def call(self) -> Call:
        """One request of the next texts, on the shared session; never raises."""
        return await self.send(await self._shared_session(), self._next_indices())

    async def send(self, session: Session, indices: Sequence[int]) -> Call:
        """One request of the texts at ``indices``, end to end; raises nothing but a cancellation."""
        texts = [self.texts[i] for i in indices]
        started = self.now()
        try:
            if self.guard_s is None:
                results = await session.send(texts)
            else:
                try:
                    results = await asyncio.wait_for(session.send(texts), self.guard_s)
                except TimeoutError:  # the guard: the session did not end the call in time
                    detail = "no answer and no error past the deadline"
                    return Call(started, self.now(), Outcome.LOST, detail, texts=len(texts))
        except Exception as error:
            outcome, detail = self._classify(error)
            return Call(started, self.now(), outcome, detail, texts=len(texts))
        ended = self.now()
        outcome, detail = (Outcome.ANSWERED, "") if self._judge is None else self._judge(indices, results)
        return Call(started, ended, outcome, detail, texts=len(texts))

    async def closed_loop(
        self,
        concurrency: int,
        *,
        duration_s: float = math.inf,
        max_calls: int | None = None,
        stop: asyncio.Event | None = None,
        pause_after_error_s: float = 0.0,
        on_call: Callable[[int, Call], None] | None = None,
    ) -> list[Call]:
        """``concurrency`` callers back to back until ``duration_s``, ``max_calls`` or ``stop``.

        Each caller checks the bounds before its next request (so up to ``concurrency - 1``
        calls past ``max_calls`` may be in flight when it is reached). ``pause_after_error_s``
        makes a caller wait after anything but an answer, as a real client would (without it, a
        server that refuses at once turns the loop into a flood of refusals). ``on_call`` sees
        each call as it ends, with its caller's index.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        calls: list[Call] = []
        end = self.now() + duration_s

        def going() -> bool:
            return (
                self.now() < end
                and (max_calls is None or len(calls) < max_calls)
                and not (stop is not None and stop.is_set())
            )

        async def caller(index: int) -> None:
            session = await self._open_session()
            position = index * len(self.texts) // concurrency
            try:
                while going():
                    call = await self.send(session, self._indices(position))
                    position += self.texts_per_request
                    calls.append(call)
                    if on_call is not None:
                        on_call(index, call)
                    if not call.ok and pause_after_error_s > 0:
                        await asyncio.sleep(pause_after_error_s)
            finally:
                await session.close()

        await asyncio.gather(*(caller(i) for i in range(concurrency)))
        return calls

    async def open_loop(self, rate: float, *, duration_s: float, max_calls: int) -> list[Call]:
        """Requests sent at ``rate`` per second for ``duration_s`` (at most ``max_calls``)."""
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        session = await self._shared_session()
        start = self.now()
        tasks: list[asyncio.Task[Call]] = []
        for i in range(max_calls):
            due = start + i / rate
            if due - start >= duration_s:
                break
            delay = due - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.send(session, self._next_indices())))
        return list(await asyncio.gather(*tasks))
