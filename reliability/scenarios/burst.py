"""A burst: many requests arrive at once on an idle server; all must be answered, quickly.

``BURST_SIZE`` requests (one text each, no retries) are sent at the same moment, a few times
over with a pause between. A burst well within the queues' limits must be served in about the
time its work takes: no refusal, no request left waiting for a wake-up.

This scenario found a Triton 2.51 behaviour that decides the instance counts: a queue policy
(``max_queue_size`` or a timeout) turns off the dynamic batcher's prefetching, and a step with a
single instance then picks up a queued request only when something else wakes its batcher
(a new arrival), so a burst waited seconds for work that takes a fraction of one, or ran into
the queue timeout. It happened with the ONNX model's 512-request queue this project had from
the start, and with a policy on a Python step. With two instances per step it does not happen
(``python -m reliability --only burst --onnx-instances 1 --python-instances 1`` shows it; the
figures are in docs/reliability.md, "Burst").
"""

from __future__ import annotations

import asyncio

from clinserve import AsyncClinServeClient
from lab.driver import Call
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, NO_RETRIES, Context
from reliability.load import Workload, client_driver
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import PRIMARY_MODEL, Fleet

NAME = "burst"
#: Requests per burst: well within every queue limit (and what tests/integration/test_batching sends).
BURST_SIZE = 96
ROUNDS = 5
PAUSE_S = 0.5
#: The whole burst must be answered within this, several times its work (docs/reliability.md).
BURST_BOUND_S = 2.0


async def run(context: Context) -> ScenarioResult:
    """Send a few bursts at an idle server and time them."""
    result = ScenarioResult(NAME)
    with Fleet(context.repository, context.log_dir) as fleet:
        [server] = fleet.start([NAME])
        async with AsyncClinServeClient(server.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as client:
            workload = await Workload.prepare(client, PRIMARY_MODEL)
            driver = client_driver(client, workload, deadline_s=CALL_DEADLINE_S)
            calls: list[Call] = []
            durations = []
            for _ in range(ROUNDS):
                await asyncio.sleep(PAUSE_S)
                started = driver.now()
                calls += await asyncio.gather(*(driver.call() for _ in range(BURST_SIZE)))
                durations.append(driver.now() - started)

    tally = Tally.of(calls)
    result.rows = [Row(f"{NAME}: {ROUNDS} x {BURST_SIZE} at once", tally)]
    result.facts = {
        "burst_seconds": [round(d, 2) for d in durations],
        "python_max_queue_size": context.settings.python_max_queue_size,
    }
    result.check_nothing_lost()
    result.check(
        "every request of a burst is answered", tally.answered == tally.sent, f"{tally.failed} refused"
    )
    result.check(
        "a burst is served in about the time its work takes",
        max(durations) <= BURST_BOUND_S,
        f"slowest burst {max(durations):.2f} s (bound {BURST_BOUND_S} s)",
    )
    return result
