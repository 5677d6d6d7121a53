"""What the scenarios send through the client library, and how each request's end is judged.

The loops are the shared load driver's (``lab.driver``): closed loop (``concurrency`` callers
back to back: capacity, a fixed number in flight around a fault) and open loop (a fixed rate
whatever happens to earlier requests: overload); every scenario bounds them in count and in
time. This module supplies what is particular to reliability: the client library as the
transport, its errors classified into outcomes (``reliability.outcomes``), and every answer
checked against the reference answer its text got from a healthy server before the scenario
started. Every call has a deadline (the client library's) and, on top, the driver's guard a few
seconds later: a call the guard has to stop is recorded as lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clinserve import AsyncClinServeClient, ClinServeError
from lab.corpus import REFERENCE_NOTES
from lab.driver import Call, Driver, Outcome
from reliability.outcomes import classify_error, error_kind, same_answer

#: Seconds past a call's deadline after which the guard gives up on it (and counts it lost).
GUARD_GRACE_S = 5.0


@dataclass(frozen=True)
class Workload:
    """The texts a scenario sends to one model and the right answer to each.

    Attributes:
        model: Public model (ensemble) name.
        texts: The texts, sent in turn.
        reference: ``Result.to_dict()`` of each text from a healthy server.
        texts_per_request: Texts one request carries (consecutive texts; each caller walks
            ``texts`` from its own offset, see ``lab.driver``).
    """

    model: str
    texts: tuple[str, ...]
    reference: tuple[dict[str, Any], ...]
    texts_per_request: int = 1

    def judge(self, indices: Sequence[int], results: Sequence[Any]) -> tuple[Outcome, str]:
        """``answered`` when each text got its reference answer, else ``wrong`` and why."""
        if len(results) != len(indices):
            return Outcome.WRONG, f"{len(results)} results for {len(indices)} texts"
        for index, result in zip(indices, results, strict=True):
            if not same_answer(self.reference[index], result.to_dict()):
                return Outcome.WRONG, f"answer differs from the reference for text {index}"
        return Outcome.ANSWERED, ""

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
        chosen = tuple(texts if texts is not None else REFERENCE_NOTES[model])
        answers = []
        for text in chosen:
            [result] = await client.predict(model, [text])
            answers.append(result.to_dict())
        return cls(model=model, texts=chosen, reference=tuple(answers), texts_per_request=texts_per_request)


class ClientSession:
    """One model through the client library: every call with the scenario's deadline."""

    def __init__(self, client: AsyncClinServeClient, model: str, deadline_s: float) -> None:
        self.client, self.model, self.deadline_s = client, model, deadline_s

    async def send(self, texts: Sequence[str]) -> Sequence[Any]:
        """The client's results for ``texts`` (it raises :class:`ClinServeError` on a refusal)."""
        return await self.client.predict(self.model, list(texts), timeout_s=self.deadline_s)

    async def close(self) -> None:
        """Nothing: the scenario owns the client."""


def classify(error: Exception) -> tuple[Outcome, str]:
    """A client-library error by :func:`classify_error`; anything else is not a clear refusal."""
    if isinstance(error, ClinServeError):
        return classify_error(error), error_kind(error)
    return Outcome.LOST, error_kind(error)


def client_driver(
    client: AsyncClinServeClient,
    workload: Workload,
    *,
    deadline_s: float,
    origin: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Driver:
    """The load driver (``lab.driver``) sending ``workload`` through ``client``, every answer judged.

    Args:
        client: The client (one endpoint or several, with or without retries); all callers
            share it.
        workload: What to send and the right answers.
        deadline_s: Deadline of each call (the client library enforces it, retries included);
            the driver's guard gives up ``GUARD_GRACE_S`` later and counts the call lost.
        origin: Monotonic time the run's clock starts at (calls record times relative to it).
        clock: Monotonic clock (tests pass a fake one).
    """
    session = ClientSession(client, workload.model, deadline_s)

    async def shared() -> ClientSession:
        return session

    return Driver(
        shared,
        workload.texts,
        texts_per_request=workload.texts_per_request,
        classify=classify,
        judge=workload.judge,
        guard_s=deadline_s + GUARD_GRACE_S,
        origin=origin,
        clock=clock,
    )


def in_flight_at(calls: Sequence[Call], moment: float) -> list[Call]:
    """Calls sent before ``moment`` that had not ended by then."""
    return [call for call in calls if call.started < moment < call.ended]


def started_after(calls: Sequence[Call], moment: float) -> list[Call]:
    """Calls sent at or after ``moment``."""
    return [call for call in calls if call.started >= moment]
