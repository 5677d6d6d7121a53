"""Overload at about twice the measured capacity.

The scenario measures capacity first (closed loop, ``concurrency`` callers, no retries), then
offers ``overload_factor`` times that rate in an open loop for ``overload_s``: the sender does
not slow down when the server does. What must hold: the server refuses the excess with a clear
overload error (queue full, or queued past the timeout), every request it accepts is answered,
right, within a bounded latency, and nothing is lost.

The bound comes from the queue policy: each of the ensemble's three steps (tokenizer, ONNX
model, post-processor) holds a request at most ``queue_timeout_us`` in its queue, so an accepted
request waits at most three timeouts plus its execution (and the load generator's own delays:
it shares the machine's cores, see ``load_generator_cpu_cores``).

The baseline (``overload-unbounded``, opt-in) runs the same load against the settings this
project had before: one instance per step, a 512-request queue on the ONNX model only, no
timeouts; whichever step is slowest then queues without limit.
"""

from __future__ import annotations

import time
from pathlib import Path

from clinserve import AsyncClinServeClient
from clinserve_runtime.configs import ServingSettings
from lab.driver import Call
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, NO_RETRIES, Context
from reliability.load import Workload, client_driver
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import PRIMARY_MODEL, Fleet, build_repository, step_statistics

NAME = "overload"
BASELINE_NAME = "overload-unbounded"
#: Steps of an ensemble, each with its own queue.
QUEUED_STEPS = 3
WARMUP_S = 2.0
#: The sender must reach this multiple of capacity for the run to count as an overload.
MIN_OFFERED_RATIO = 1.5
#: Texts per request: a list, as services send; it also keeps the load generator's own work (it
#: shares the machine's cores with the server) small next to the server's.
TEXTS_PER_REQUEST = 8
#: Execution time and scheduling slack on top of the queues' timeouts.
BOUND_MARGIN_S = 1.0
#: The settings the baseline measures: before this suite, a 512-request ONNX queue, no timeouts.
UNBOUNDED_SETTINGS = ServingSettings(
    max_queue_size=512, queue_timeout_us=0, python_max_queue_size=0, onnx_instances=1, python_instances=1
)
#: The overload window is split in this many parts to show whether latency keeps growing.
WINDOW_PARTS = 3


def latency_bound_s(settings: ServingSettings) -> float | None:
    """Longest an accepted request may take under the queue policy (``None``: no bound)."""
    if not settings.queue_timeout_us or not settings.python_max_queue_size:
        return None
    return QUEUED_STEPS * settings.queue_timeout_us / 1e6 + BOUND_MARGIN_S


def p99_by_part(calls: list[Call], parts: int = WINDOW_PARTS) -> list[int | None]:
    """p99 (ms) of the answered calls sent in each successive part of the window."""
    if not calls:
        return []
    start = min(c.started for c in calls)
    width = (max(c.started for c in calls) - start) / parts or 1.0
    split: list[list[Call]] = [[] for _ in range(parts)]
    for call in calls:
        split[min(int((call.started - start) / width), parts - 1)].append(call)
    return [_rounded(Tally.of(part).p99_ms) for part in split]


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def offered_rate(calls: list[Call]) -> float:
    """Requests per second the sender actually achieved."""
    if len(calls) < 2:
        return 0.0
    window = max(c.started for c in calls) - min(c.started for c in calls)
    return (len(calls) - 1) / window if window > 0 else 0.0


async def run(context: Context) -> ScenarioResult:
    """The overload scenario with the shipped serving settings."""
    return await _measure(context, context.repository, context.settings, NAME)


async def run_baseline(context: Context) -> ScenarioResult:
    """The same load against the configs without queue policy on the Python steps."""
    repository = build_repository(context.workdir, UNBOUNDED_SETTINGS, name="repository-unbounded")
    result = await _measure(context, repository, UNBOUNDED_SETTINGS, BASELINE_NAME)
    result.baseline = True
    return result


async def _measure(
    context: Context, repository: Path, settings: ServingSettings, name: str
) -> ScenarioResult:
    profile = context.profile
    result = ScenarioResult(name)
    with Fleet(repository, context.log_dir) as fleet:
        [server] = fleet.start([name])
        async with AsyncClinServeClient(server.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as client:
            workload = await Workload.prepare(client, PRIMARY_MODEL, texts_per_request=TEXTS_PER_REQUEST)
            driver = client_driver(client, workload, deadline_s=CALL_DEADLINE_S)
            await driver.closed_loop(profile.concurrency, duration_s=WARMUP_S, max_calls=profile.max_calls)
            started = driver.now()
            measured = await driver.closed_loop(
                profile.concurrency, duration_s=profile.capacity_s, max_calls=profile.max_calls
            )
            capacity = Tally.of(measured).answered / (driver.now() - started)
            rate = profile.overload_factor * capacity
            started, cpu_started = driver.now(), time.process_time()
            overload = await driver.open_loop(
                rate, duration_s=profile.overload_s, max_calls=int(rate * profile.overload_s) + 1
            )
            window = driver.now() - started
            goodput = Tally.of(overload).answered / window
            generator_cpu = (time.process_time() - cpu_started) / window
        steps = step_statistics(server, fleet.admin_key)

    measured_tally, overload_tally = Tally.of(measured), Tally.of(overload)
    result.rows = [
        Row(f"{name}: capacity, {profile.concurrency} callers", measured_tally),
        Row(f"{name}: {profile.overload_factor:g}x capacity", overload_tally),
    ]
    offered = offered_rate(overload)
    bound = latency_bound_s(settings)
    result.facts = {
        "capacity_per_s": round(capacity, 1),
        "offered_per_s": round(offered, 1),
        "goodput_per_s": round(goodput, 1),
        "load_generator_cpu_cores": round(generator_cpu, 2),
        "answered_max_ms": _rounded(overload_tally.max_ms),
        "refused_p50_ms": _rounded(overload_tally.failed_p50_ms),
        "refused_p99_ms": _rounded(overload_tally.failed_p99_ms),
        "answered_p99_ms_by_third": p99_by_part(overload),
        "latency_bound_ms": _rounded(None if bound is None else bound * 1000),
        "queue_policy": {
            "python_max_queue_size": settings.python_max_queue_size,
            "onnx_max_queue_size": settings.max_queue_size,
            "queue_timeout_ms": settings.queue_timeout_us / 1000,
        },
        "steps": steps,
    }
    result.check_nothing_lost()
    if result.baseline or bound is None:
        return result
    result.check(
        "the sender offered an overload",
        offered >= MIN_OFFERED_RATIO * capacity,
        f"offered {offered:.0f}/s against a capacity of {capacity:.0f}/s",
    )
    result.check("the excess is refused", overload_tally.failed > 0, f"{overload_tally.failed} refused")
    foreign = [k for k in overload_tally.kinds if not k.startswith("failed: OverloadedError")]
    result.check("every refusal is a clear overload error", not foreign, f"other kinds: {foreign}")
    refused_ms = overload_tally.failed_p99_ms or 0.0
    result.check(
        "refusals are fast",
        refused_ms <= bound * 1000,
        f"p99 of refusals {refused_ms:.0f} ms (bound {bound * 1000:.0f} ms)",
    )
    answered_ms = overload_tally.p99_ms if overload_tally.p99_ms is not None else float("inf")
    result.check(
        "accepted requests are answered within the bound",
        answered_ms <= bound * 1000,
        f"p99 {answered_ms:.0f} ms (bound {bound * 1000:.0f} ms)",
    )
    return result
