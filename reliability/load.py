"""Drive requests at a server through the client library and record how each one ended.

Two shapes of load, both bounded in count and in time:

- closed loop: ``concurrency`` callers, each sending its next request when the last one ends
  (measures capacity; keeps a fixed number in flight around a fault);
- open loop: requests sent at a fixed rate whatever happens to earlier ones (overload: the
  server cannot slow the sender down).

Every call has a deadline (the client library's) and, on top, a guard a few seconds later: a
call the guard has to stop is recorded as lost. Answers are checked against the reference
answer each text got from a healthy server before the scenario started.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clinserve import AsyncClinServeClient, ClinServeError
from reliability.outcomes import Call, Outcome, classify_error, error_kind, same_answer

#: Seconds past a call's deadline after which the guard gives up on it (and counts it lost).
GUARD_GRACE_S = 5.0

# Short clinical notes, one per request; each gets its reference answer before a scenario.
TEXTS: dict[str, tuple[str, ...]] = {
    "treatment_changes": (
        "Patient switched from metformin to insulin after HbA1c rose to 9.1%.",
        "I stopped taking ambien because it made me dizzy.",
        "Lisinopril was increased to 20 mg daily; blood pressure is now controlled.",
        "No change to the current regimen of atorvastatin 40 mg.",
        "She took sertraline instead of her thyroid pill this morning.",
        "Warfarin held for three days before the procedure, then restarted.",
        "Dose of prednisone tapered from 40 mg to 10 mg over two weeks.",
        "He refuses chemotherapy and prefers palliative care.",
    ),
    "drug_development_trials": (
        "In June 2003, the median overall survival was 4.0 months with topotecan.",
        "Patients received 200 mg of pembrolizumab every three weeks in the phase II trial.",
        "The complete response rate was 45% and grade 3 neutropenia occurred in 12 patients.",
        "Median progression-free survival was 11.2 months in the erlotinib arm.",
    ),
}


@dataclass(frozen=True)
class Workload:
    """The texts a scenario sends to one model and the right answer to each.

    Attributes:
        model: Public model (ensemble) name.
        texts: The texts, sent in turn.
        reference: ``Result.to_dict()`` of each text from a healthy server.
        texts_per_request: Texts one request carries (a window over ``texts``, moving on by
            one each request).
    """

    model: str
    texts: tuple[str, ...]
    reference: tuple[dict[str, Any], ...]
    texts_per_request: int = 1

    def window(self, start: int) -> list[int]:
        """Indices of the texts of the request that starts at text ``start``."""
        return [(start + i) % len(self.texts) for i in range(self.texts_per_request)]

    @classmethod
    async def prepare(
        cls,
        client: AsyncClinServeClient,
        model: str,
        *,
        texts_per_request: int = 1,
        texts: Sequence[str] | None = None,
    ) -> Workload:
        """Ask a healthy server for the reference answer of every text (one text per request)."""
        chosen = tuple(texts if texts is not None else TEXTS[model])
        answers = []
        for text in chosen:
            [result] = await client.predict(model, [text])
            answers.append(result.to_dict())
        return cls(model=model, texts=chosen, reference=tuple(answers), texts_per_request=texts_per_request)


class Driver:
    """Sends a workload's requests through one client and records a :class:`Call` for each.

    Args:
        client: The client (one endpoint or several, with or without retries).
        workload: What to send and the right answers.
        deadline_s: Deadline of each call (the client library enforces it, retries included).
        origin: Monotonic time the run's clock starts at (calls record times relative to it).
        clock: Monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        client: AsyncClinServeClient,
        workload: Workload,
        *,
        deadline_s: float,
        origin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.workload = workload
        self.deadline_s = deadline_s
        self._clock = clock
        self.origin = clock() if origin is None else origin
        self._counter = itertools.count()

    def now(self) -> float:
        """Seconds since the run's origin."""
        return self._clock() - self.origin

    async def call(self) -> Call:
        """One request, end to end; never raises."""
        indices = self.workload.window(next(self._counter))
        texts = [self.workload.texts[i] for i in indices]
        started = self.now()
        try:
            results = await asyncio.wait_for(
                self.client.predict(self.workload.model, texts, timeout_s=self.deadline_s),
                self.deadline_s + GUARD_GRACE_S,
            )
        except ClinServeError as error:
            return Call(started, self.now(), classify_error(error), error_kind(error))
        except TimeoutError:  # the guard: the client library did not end the call by its deadline
            return Call(started, self.now(), Outcome.LOST, "no answer and no error past the deadline")
        except Exception as error:  # anything else is by definition not a clear refusal
            return Call(started, self.now(), Outcome.LOST, error_kind(error))
        ended = self.now()
        if len(results) != len(indices):
            return Call(started, ended, Outcome.WRONG, f"{len(results)} results for {len(indices)} texts")
        for index, result in zip(indices, results, strict=True):
            if not same_answer(self.workload.reference[index], result.to_dict()):
                return Call(
                    started, ended, Outcome.WRONG, f"answer differs from the reference for text {index}"
                )
        return Call(started, ended, Outcome.ANSWERED)

    async def closed_loop(
        self,
        concurrency: int,
        *,
        duration_s: float,
        max_calls: int,
        stop: asyncio.Event | None = None,
        pause_after_error_s: float = 0.0,
    ) -> list[Call]:
        """``concurrency`` callers back to back until ``duration_s``, ``max_calls`` or ``stop``.

        ``pause_after_error_s`` makes a caller wait after a refusal, as a real client would
        (without it, a server that refuses at once turns the loop into a flood of refusals).
        """
        calls: list[Call] = []
        end = self.now() + duration_s

        async def caller() -> None:
            while self.now() < end and len(calls) < max_calls and not (stop is not None and stop.is_set()):
                call = await self.call()
                calls.append(call)
                if call.outcome is not Outcome.ANSWERED and pause_after_error_s > 0:
                    await asyncio.sleep(pause_after_error_s)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return calls

    async def open_loop(self, rate: float, *, duration_s: float, max_calls: int) -> list[Call]:
        """Requests sent at ``rate`` per second for ``duration_s`` (at most ``max_calls``)."""
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        start = self.now()
        tasks: list[asyncio.Task[Call]] = []
        for i in range(max_calls):
            due = start + i / rate
            if due - start >= duration_s:
                break
            delay = due - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.call()))
        return list(await asyncio.gather(*tasks))


def in_flight_at(calls: Sequence[Call], moment: float) -> list[Call]:
    """Calls sent before ``moment`` that had not ended by then."""
    return [call for call in calls if call.started < moment < call.ended]


def started_after(calls: Sequence[Call], moment: float) -> list[Call]:
    """Calls sent at or after ``moment``."""
    return [call for call in calls if call.started >= moment]
