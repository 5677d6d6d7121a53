"""A soak: minutes of steady load on two models while the server's memory is sampled.

Memory is the resident set of ``tritonserver`` plus every Python stub under it (read from
``/proc``), sampled every ``soak_sample_s`` after a warm-up. What must hold: memory stays flat
(growth within a small limit, no upward slope once warm), nothing is lost or wrong, and the
only refusals, if any, are overload refusals (a stall on a shared machine can push a request
past a queue's timeout).
"""

from __future__ import annotations

import asyncio

from clinserve import AsyncClinServeClient
from clinserve_runtime.processes import descendants, python_stubs, rss_kib, rss_mib
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, NO_RETRIES, Context
from reliability.load import Workload, client_driver
from reliability.memory import Sample, trend
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import MODELS, Fleet, pid_of

NAME = "soak"
#: Memory may grow this much over the soak (MiB or percent of the start, whichever is larger).
MAX_GROWTH_MIB = 25.0
MAX_GROWTH_PCT = 3.0
#: Steady growth once warm that would be a leak: MiB per minute.
MAX_SLOPE_MIB_PER_MIN = 2.0
#: Share of calls that may be refused (overload only) during a soak on a shared machine.
MAX_REFUSED_SHARE = 0.01
CALLERS_PER_MODEL = 2


def _breakdown(server_pid: int) -> dict[str, float]:
    """MiB per process: ``tritonserver`` and each stub by instance name."""
    names = {s.pid: s.instance for s in python_stubs(server_pid)}
    return {
        names.get(pid, "tritonserver" if pid == server_pid else str(pid)): round(rss_kib(pid) / 1024, 1)
        for pid in descendants(server_pid)
    }


async def run(context: Context) -> ScenarioResult:
    """Steady load on every model of the repository, memory sampled throughout."""
    profile = context.profile
    result = ScenarioResult(NAME)
    with Fleet(context.repository, context.log_dir) as fleet:
        [server] = fleet.start([NAME])
        server_pid = pid_of(server)
        async with AsyncClinServeClient(server.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as client:
            workloads = [await Workload.prepare(client, model) for model in MODELS]
            first = client_driver(client, workloads[0], deadline_s=CALL_DEADLINE_S)
            drivers = [first] + [
                client_driver(client, w, deadline_s=CALL_DEADLINE_S, origin=first.origin)
                for w in workloads[1:]
            ]
            duration = profile.soak_warmup_s + profile.soak_s
            load = asyncio.gather(
                *(
                    d.closed_loop(CALLERS_PER_MODEL, duration_s=duration, max_calls=profile.max_calls)
                    for d in drivers
                )
            )
            await asyncio.sleep(profile.soak_warmup_s)
            samples: list[Sample] = []
            start_breakdown = _breakdown(server_pid)
            sampled_from = first.now()
            while first.now() < sampled_from + profile.soak_s:
                samples.append(Sample(first.now() - sampled_from, rss_mib(server_pid)))
                await asyncio.sleep(profile.soak_sample_s)
            samples.append(Sample(first.now() - sampled_from, rss_mib(server_pid)))
            end_breakdown = _breakdown(server_pid)
            per_model = await load

    calls = [call for part in per_model for call in part]
    tally = Tally.of(calls)
    result.rows = [Row(f"{NAME}: {profile.soak_s / 60:g} min, {len(MODELS)} models", tally)]
    memory = trend(samples)
    result.facts = {
        "rss_start_mib": round(memory.first_mib, 1),
        "rss_end_mib": round(memory.last_mib, 1),
        "rss_peak_mib": round(memory.peak_mib, 1),
        "growth_mib": round(memory.growth_mib, 1),
        "growth_pct": round(memory.growth_pct, 2),
        "slope_second_half_mib_per_min": round(memory.slope_mib_per_min, 2),
        "samples": len(samples),
        "requests_per_s": round(tally.sent / duration, 1),
        "per_process_start_mib": start_breakdown,
        "per_process_end_mib": end_breakdown,
    }
    result.check_nothing_lost()
    limit = max(MAX_GROWTH_MIB, memory.first_mib * MAX_GROWTH_PCT / 100)
    result.check(
        "memory stays flat",
        memory.growth_mib <= limit,
        f"{memory.first_mib:.0f} -> {memory.last_mib:.0f} MiB ({memory.growth_mib:+.1f} MiB,"
        f" limit {limit:.0f})",
    )
    result.check(
        "no upward slope once warm",
        memory.slope_mib_per_min <= MAX_SLOPE_MIB_PER_MIN,
        f"{memory.slope_mib_per_min:+.2f} MiB/min over the second half (limit {MAX_SLOPE_MIB_PER_MIN})",
    )
    foreign = [k for k in tally.kinds if not k.startswith("failed: OverloadedError")]
    result.check(
        "refusals are rare overload refusals only",
        tally.failed <= MAX_REFUSED_SHARE * tally.sent and not foreign,
        f"{tally.failed} of {tally.sent} refused; other kinds: {foreign}",
    )
    return result
