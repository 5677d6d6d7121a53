"""What became of each request, and the summary of a run (pure functions, no server).

Every request a scenario sends ends in exactly one of four outcomes:

- ``answered``: a result came back and it is the right one (equal to the reference answer the
  same text got from a healthy server, scores within a tolerance);
- ``failed``: the server (or the client library, for a server it cannot reach) refused it with
  a clear error: a gRPC status and a message that says why (queue full, timeout in a queue,
  server stopping, stub unhealthy, connection refused);
- ``lost``: neither: the call's deadline passed with no answer and no refusal, the call hung
  past its deadline, or it ended with an error that carries no status;
- ``wrong``: an answer came back and it is not the right one.

``lost`` and ``wrong`` must be 0 in every scenario. :class:`Outcome` and :class:`Call` themselves
live with the load driver (``lab.driver``) that records them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import percentile
from clinserve.errors import ClinServeError, DeadlineExceededError, ResultFormatError
from lab.driver import Call, Outcome

#: Absolute tolerance on scores: a batch of another size may change the last float bits.
SCORE_TOLERANCE = 1e-4
_ENSEMBLE_PREFIX = re.compile(r"^in ensemble '[^']*', ")
_REQUEST_ID = re.compile(r"\[request id: [^\]]*\]\s*")
_PORT = re.compile(r"(?<=:)\d{2,5}(?![\d.])")
_PID = re.compile(r"\bpid \d+\b")


def normalize_message(message: str) -> str:
    """A server message with the parts that change per request (ids, ports) blanked."""
    text = _ENSEMBLE_PREFIX.sub("", message.strip())
    text = _REQUEST_ID.sub("", text)
    text = _PORT.sub("N", text)
    text = _PID.sub("pid N", text)
    return text.splitlines()[0][:120] if text else ""


def error_kind(error: BaseException) -> str:
    """Short, stable label of an error: its type and its normalized message."""
    if isinstance(error, ClinServeError):
        return f"{type(error).__name__}: {normalize_message(error.message)}"
    return f"{type(error).__name__}: {normalize_message(str(error))}"


def classify_error(error: BaseException) -> Outcome:
    """``failed`` for a clear refusal, ``wrong`` for an unreadable answer, ``lost`` for the rest.

    A clear refusal is a :class:`ClinServeError` with a gRPC status and a message, other than a
    passed deadline: a deadline that passes means the server neither answered nor refused in
    time, which is what this suite calls a lost request.
    """
    if isinstance(error, ResultFormatError):
        return Outcome.WRONG  # an answer came back, but not one a client can read
    if isinstance(error, DeadlineExceededError):
        return Outcome.LOST
    if isinstance(error, ClinServeError) and error.status and error.message.strip():
        return Outcome.FAILED
    return Outcome.LOST


def same_answer(expected: Any, actual: Any, tolerance: float = SCORE_TOLERANCE) -> bool:
    """True when two JSON-like results are equal, floats within ``tolerance``.

    Booleans and integers must match exactly; a float may differ by ``tolerance`` (absolute).
    """
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(expected, int | float) or not isinstance(actual, int | float):
            return False
        return math.isclose(float(expected), float(actual), rel_tol=0.0, abs_tol=tolerance)
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and expected.keys() == actual.keys()
            and all(same_answer(expected[k], actual[k], tolerance) for k in expected)
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(same_answer(e, a, tolerance) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


@dataclass(frozen=True)
class Tally:
    """Counts and latency of a set of calls.

    Attributes:
        sent: Requests sent.
        answered, failed, lost, wrong: Requests per outcome (they add up to ``sent``).
        p50_ms, p99_ms, max_ms: Latency of the answered requests (``None`` when none was).
        failed_p50_ms, failed_p99_ms: How fast refusals came back (``None`` when none failed).
        kinds: Error kinds of failed, lost and wrong calls, with counts.
    """

    sent: int
    answered: int
    failed: int
    lost: int
    wrong: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    failed_p50_ms: float | None
    failed_p99_ms: float | None
    kinds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, calls: Sequence[Call]) -> Tally:
        """Summarize ``calls``."""
        counts = Counter(call.outcome for call in calls)
        answered = [call.latency_s * 1000 for call in calls if call.outcome is Outcome.ANSWERED]
        refused = [call.latency_s * 1000 for call in calls if call.outcome is Outcome.FAILED]
        kinds = Counter(
            f"{call.outcome.value}: {call.detail}" for call in calls if call.outcome is not Outcome.ANSWERED
        )
        return cls(
            sent=len(calls),
            answered=counts[Outcome.ANSWERED],
            failed=counts[Outcome.FAILED],
            lost=counts[Outcome.LOST],
            wrong=counts[Outcome.WRONG],
            p50_ms=percentile(answered, 50) if answered else None,
            p99_ms=percentile(answered, 99) if answered else None,
            max_ms=max(answered) if answered else None,
            failed_p50_ms=percentile(refused, 50) if refused else None,
            failed_p99_ms=percentile(refused, 99) if refused else None,
            kinds=dict(kinds.most_common()),
        )
