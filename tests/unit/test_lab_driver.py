"""The shared load driver (lab/driver.py): which texts each request carries, outcomes, bounds.

In-process sessions stand in for the transports; the benchmark's and the reliability suite's
own transports run against real servers in tests/integration/test_bench_smoke.py and
test_reliability_short.py. The reliability adapter's outcomes are in test_reliability_load.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from benchmarks.loadgen import level_record, run_level
from lab.driver import Call, Driver, Outcome, any_error_failed


class Echo:
    """Answers each text with itself; fails on texts named in ``failing``."""

    def __init__(self, log: list[list[str]], failing: frozenset[str] = frozenset()) -> None:
        self.log, self.failing, self.closed = log, failing, False

    async def send(self, texts: Sequence[str]) -> Sequence[str]:
        self.log.append(list(texts))
        await asyncio.sleep(0)
        if self.failing & set(texts):
            raise ConnectionError(f"refused {sorted(self.failing & set(texts))}")
        return list(texts)

    async def close(self) -> None:
        self.closed = True


class EchoTarget:
    """A benchmark ``Target`` of in-process :class:`Echo` sessions."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.sessions: list[Echo] = []
        self.log: list[list[str]] = []
        self.failing = failing

    async def session(self) -> Echo:
        self.sessions.append(Echo(self.log, self.failing))
        return self.sessions[-1]

    async def statistics(self) -> None:
        return None

    async def close(self) -> None:
        return None


TEXTS = tuple(f"t{i}" for i in range(8))


def test_each_caller_walks_the_texts_from_its_own_evenly_spaced_offset():
    target = EchoTarget()
    driver = Driver(target.session, TEXTS, texts_per_request=2)
    calls = asyncio.run(driver.closed_loop(2, max_calls=4))
    assert 4 <= len(calls) <= 5 and all(c.texts == 2 for c in calls)  # bounds checked before a call
    first_of_caller = {tuple(sent) for sent in target.log[:2]}
    assert first_of_caller == {("t0", "t1"), ("t4", "t5")}
    assert ["t2", "t3"] in target.log and ["t6", "t7"] in target.log
    assert len(target.sessions) == 2 and all(s.closed for s in target.sessions)


def test_single_calls_and_the_open_loop_share_one_session_and_move_on_by_a_request():
    target = EchoTarget()
    driver = Driver(target.session, TEXTS[:3], texts_per_request=2)
    asyncio.run(driver.call())
    asyncio.run(driver.call())
    assert target.log == [["t0", "t1"], ["t2", "t0"]]
    assert len(target.sessions) == 1
    asyncio.run(driver.close())
    assert target.sessions[0].closed


def test_errors_are_classified_and_without_a_judge_every_return_is_answered():
    target = EchoTarget(failing=frozenset({"t1"}))
    driver = Driver(target.session, TEXTS[:2])
    answered, failed = asyncio.run(driver.call()), asyncio.run(driver.call())
    assert answered.ok and answered.outcome is Outcome.ANSWERED and answered.detail == ""
    assert failed.outcome is Outcome.FAILED and failed.detail == "ConnectionError: refused ['t1']"
    assert any_error_failed(ValueError("x" * 400))[1] == ("ValueError: " + "x" * 400)[:300]


def test_a_judge_decides_the_outcome_of_a_returned_call():
    def judge(indices: Sequence[int], results: Sequence[object]) -> tuple[Outcome, str]:
        return (Outcome.WRONG, f"text {indices[0]}") if indices[0] == 1 else (Outcome.ANSWERED, "")

    driver = Driver(EchoTarget().session, TEXTS[:2], judge=judge)
    assert asyncio.run(driver.call()).outcome is Outcome.ANSWERED
    wrong = asyncio.run(driver.call())
    assert wrong.outcome is Outcome.WRONG and wrong.detail == "text 1" and not wrong.ok


def test_a_closed_loop_reports_each_call_and_stops_on_its_event():
    seen: list[tuple[int, Call]] = []

    async def scenario() -> list[Call]:
        stop = asyncio.Event()

        def on_call(caller: int, call: Call) -> None:
            seen.append((caller, call))
            if len(seen) == 10:
                stop.set()

        return await Driver(EchoTarget().session, TEXTS).closed_loop(3, stop=stop, on_call=on_call)

    calls = asyncio.run(scenario())
    assert 10 <= len(calls) <= 12 and [call for _, call in seen] == calls
    assert {caller for caller, _ in seen} == {0, 1, 2}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"texts": ()}, "at least one text"), ({"texts": TEXTS, "texts_per_request": 0}, "texts per request")],
)
def test_a_driver_without_texts_to_send_raises_error_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Driver(EchoTarget().session, **kwargs)


def test_a_benchmark_level_measures_inside_its_window_and_keeps_error_samples():
    target = EchoTarget(failing=frozenset({"t3"}))
    level = asyncio.run(run_level(target, TEXTS, 4, warmup_s=0.05, duration_s=0.3))
    begin, end = level.window
    assert end - begin == pytest.approx(0.3)
    assert begin >= 0.05
    assert any(r.ok for r in level.requests) and any(not r.ok for r in level.requests)
    assert level.errors and set(level.errors) == {"ConnectionError: refused ['t3']"}
    assert len(target.sessions) == 4 and all(s.closed for s in target.sessions)
    record = level_record(level)
    assert record["summary"]["concurrency"] == 4 and record["summary"]["errors"] >= 1
    assert all(latency >= 0 for latency in record["latencies_ms"])
