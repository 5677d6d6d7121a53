"""The load driver's bookkeeping: outcomes, the guard past the deadline, bounds (no server).

The driver is exercised here against a small stand-in for the client library, to pin down
its own logic (what counts as lost or wrong, when loops stop); the real client and real
servers run in tests/integration/test_reliability_short.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from clinserve.errors import DeadlineExceededError, OverloadedError
from lab.driver import Call, Outcome
from reliability import load
from reliability.load import Workload, client_driver, in_flight_at, started_after


@dataclass
class Answer:
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.payload


class ScriptedClient:
    """Answers each text with its scripted reply: a dict, an exception, or "hang"."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls = 0

    async def predict(self, model: str, texts: list[str], *, timeout_s: float) -> list[Answer]:
        self.calls += 1
        reply = self.replies[texts[0]]
        if reply == "hang":
            await asyncio.sleep(3600)
        if isinstance(reply, BaseException):
            raise reply
        return [Answer(reply)]


WORKLOAD = Workload(model="m", texts=("a", "b"), reference=({"label": "x"}, {"label": "y"}))


def run(coroutine):
    return asyncio.run(coroutine)


def test_right_answers_are_answered_and_others_wrong():
    client = ScriptedClient({"a": {"label": "x"}, "b": {"label": "x"}})
    driver = client_driver(client, WORKLOAD, deadline_s=1.0)  # type: ignore[arg-type]
    first, second = run(driver.call()), run(driver.call())
    assert first.outcome is Outcome.ANSWERED and first.detail == ""
    assert second.outcome is Outcome.WRONG and "text 1" in second.detail


def test_refusals_fail_and_passed_deadlines_are_lost():
    client = ScriptedClient(
        {
            "a": OverloadedError("Exceeds maximum queue size", status="UNAVAILABLE"),
            "b": DeadlineExceededError("Deadline Exceeded", status="DEADLINE_EXCEEDED"),
        }
    )
    driver = client_driver(client, WORKLOAD, deadline_s=1.0)  # type: ignore[arg-type]
    refused, expired = run(driver.call()), run(driver.call())
    assert (
        refused.outcome is Outcome.FAILED and refused.detail == "OverloadedError: Exceeds maximum queue size"
    )
    assert expired.outcome is Outcome.LOST


def test_a_call_that_hangs_past_its_deadline_is_stopped_by_the_guard_and_lost(monkeypatch):
    monkeypatch.setattr(load, "GUARD_GRACE_S", 0.05)
    driver = client_driver(ScriptedClient({"a": "hang"}), WORKLOAD, deadline_s=0.05)  # type: ignore[arg-type]
    call = run(driver.call())
    assert call.outcome is Outcome.LOST and "past the deadline" in call.detail
    assert 0.09 <= call.latency_s < 1.0


def test_loops_stop_at_their_bounds():
    client = ScriptedClient({"a": {"label": "x"}, "b": {"label": "y"}})
    driver = client_driver(client, WORKLOAD, deadline_s=1.0)  # type: ignore[arg-type]
    calls = run(driver.closed_loop(3, duration_s=60.0, max_calls=10))
    assert 10 <= len(calls) <= 12  # each caller checks the bound before its next call
    assert all(c.outcome is Outcome.ANSWERED for c in calls)
    sent = run(driver.open_loop(200.0, duration_s=0.1, max_calls=1000))
    assert 15 <= len(sent) <= 21
    with pytest.raises(ValueError, match="positive"):
        run(driver.open_loop(0, duration_s=1, max_calls=1))


def test_closed_loop_pauses_after_a_refusal():
    client = ScriptedClient(
        {
            "a": OverloadedError("full", status="UNAVAILABLE"),
            "b": OverloadedError("full", status="UNAVAILABLE"),
        }
    )
    driver = client_driver(client, WORKLOAD, deadline_s=1.0)  # type: ignore[arg-type]
    calls = run(driver.closed_loop(1, duration_s=0.25, max_calls=1000, pause_after_error_s=0.1))
    assert 2 <= len(calls) <= 4


def test_calls_in_flight_at_a_moment_and_after_it():
    calls = [Call(0.0, 1.0, Outcome.ANSWERED), Call(0.5, 2.0, Outcome.FAILED), Call(2.0, 2.1, Outcome.FAILED)]
    assert in_flight_at(calls, 0.9) == calls[:2]
    assert started_after(calls, 1.5) == calls[2:]
