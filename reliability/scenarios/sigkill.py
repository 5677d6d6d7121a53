"""SIGKILL of one of two replicas under load: the client's retries carry every call.

The victim's whole process group (``tritonserver`` and its Python stubs) is killed at once, as
a node failure or an OOM kill would: no drain, connections reset mid-request. A client with
both endpoints and the library's retries keeps calling throughout; not one call may fail and
the survivor must take the whole load.
"""

from __future__ import annotations

import asyncio

from clinserve import AsyncClinServeClient
from lab.driver import Outcome
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, REPLICA_RETRIES, Context
from reliability.load import Workload, client_driver, in_flight_at, started_after
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import PRIMARY_MODEL, Fleet, sigkill_group, step_statistics

NAME = "sigkill"


async def run(context: Context) -> ScenarioResult:
    """Kill one of two replicas with SIGKILL while a client with retries drives load."""
    profile = context.profile
    result = ScenarioResult(NAME)
    with Fleet(context.repository, context.log_dir) as fleet:
        victim, survivor = fleet.start([f"{NAME}-victim", f"{NAME}-survivor"])
        async with AsyncClinServeClient(
            [victim.grpc_url, survivor.grpc_url], options=CALL_OPTIONS, retry=REPLICA_RETRIES
        ) as client:
            await client.wait_until_ready(timeout_s=30)
            workload = await Workload.prepare(client, PRIMARY_MODEL)
            driver = client_driver(client, workload, deadline_s=CALL_DEADLINE_S)
            load = asyncio.ensure_future(
                driver.closed_loop(
                    profile.concurrency,
                    duration_s=profile.fault_before_s + profile.fault_after_s,
                    max_calls=profile.max_calls,
                )
            )
            await asyncio.sleep(profile.fault_before_s)
            served_by_victim = step_statistics(victim, fleet.admin_key)[PRIMARY_MODEL]["success"]
            killed = driver.now()
            await asyncio.to_thread(sigkill_group, victim)
            calls = await load
            served_by_survivor = step_statistics(survivor, fleet.admin_key)[PRIMARY_MODEL]["success"]

    tally = Tally.of(calls)
    result.rows = [Row(f"{NAME}: 2 replicas, retries", tally)]
    in_flight = in_flight_at(calls, killed)
    after = started_after(calls, killed)
    result.facts = {
        "served_by_victim_before_kill": served_by_victim,
        "served_by_survivor": served_by_survivor,
        "in_flight_at_kill": len(in_flight),
        "in_flight_answered": sum(c.outcome is Outcome.ANSWERED for c in in_flight),
        "sent_after_kill": len(after),
        "answered_after_kill_p99_ms": round(Tally.of(after).p99_ms or 0.0),
    }
    result.check_nothing_lost()
    result.check(
        "both replicas took traffic before the kill",
        served_by_victim > 0,
        f"{served_by_victim} by the victim",
    )
    result.check(
        "no call fails",
        tally.failed == 0 and bool(in_flight) and bool(after),
        f"{tally.failed} of {tally.sent} failed; {len(in_flight)} in flight at the kill, {len(after)} after",
    )
    return result
