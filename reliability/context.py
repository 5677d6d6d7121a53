"""What every scenario gets: the time budget (profile), the repository, where logs go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinserve import ChannelOptions, RetryPolicy
from clinserve_runtime.configs import ServingSettings

#: Deadline of each call. Far above any latency the queue policy allows, so a call that
#: reaches it was neither answered nor refused in time: it is counted lost.
CALL_DEADLINE_S = 10.0
#: One attempt per call: what the server does, not what retries hide.
NO_RETRIES = RetryPolicy(max_attempts=1)
#: Retries that ride over a replica going away (about 2 s of backoff in all, within the deadline).
REPLICA_RETRIES = RetryPolicy(max_attempts=8, initial_backoff_s=0.05, max_backoff_s=0.5)
CALL_OPTIONS = ChannelOptions(timeout_s=CALL_DEADLINE_S)


@dataclass(frozen=True)
class Profile:
    """How long each scenario runs (``full`` for ``make reliability``, ``short`` inside ``make test``).

    Attributes:
        name: ``full`` or ``short``.
        capacity_s: Closed-loop run that measures capacity before the overload.
        overload_s: Open-loop run at ``overload_factor`` times the measured capacity.
        overload_factor: Offered load over capacity.
        fault_before_s: Load before a fault (signal, kill).
        fault_after_s: Load after it.
        soak_s: Length of the soak.
        soak_sample_s: Memory sampling interval of the soak.
        soak_warmup_s: Load before the soak's first memory sample: allocators settle, and
            Triton's latency summaries fill their sliding window (``SUMMARY_WINDOW_S``).
        concurrency: Callers of the closed-loop runs.
        max_calls: Upper bound on the requests of any one run (the duration usually ends it first).
    """

    name: str
    capacity_s: float
    overload_s: float
    fault_before_s: float
    fault_after_s: float
    soak_s: float
    soak_sample_s: float
    soak_warmup_s: float
    overload_factor: float = 2.0
    concurrency: int = 8
    max_calls: int = 200_000


#: Triton 2.51 keeps each latency summary (``--metrics-config=summary_latencies=true``, which
#: the server flags turn on) as prometheus-cpp's ``Summary`` with its default sliding window of
#: 60 s in 5 buckets (``Family::Add(labels, quantiles)`` in core's metric_model_reporter.cc).
#: The server's memory rises while the first window fills (measured: +4 to +8 MiB of
#: ``tritonserver`` in a 20 s soak, a slope of 10 MiB/min; flat without the summaries), so a
#: soak samples memory only after one window and a bucket of load.
SUMMARY_WINDOW_S = 60.0
SOAK_WARMUP_S = SUMMARY_WINDOW_S + 12.0

FULL = Profile(
    name="full",
    capacity_s=10.0,
    overload_s=20.0,
    fault_before_s=4.0,
    fault_after_s=8.0,
    soak_s=300.0,
    soak_sample_s=10.0,
    soak_warmup_s=SOAK_WARMUP_S,
)
SHORT = Profile(
    name="short",
    capacity_s=4.0,
    overload_s=6.0,
    fault_before_s=2.0,
    fault_after_s=4.0,
    soak_s=20.0,
    soak_sample_s=2.0,
    soak_warmup_s=SOAK_WARMUP_S,
)
PROFILES = {p.name: p for p in (FULL, SHORT)}


@dataclass(frozen=True)
class Context:
    """Shared by the scenarios of one run.

    Attributes:
        profile: Durations.
        repository: The model repository the servers serve.
        settings: The serving settings it was built with (queue limits and timeouts).
        log_dir: Where server logs go.
        workdir: Root of everything the run writes.
    """

    profile: Profile
    repository: Path
    settings: ServingSettings
    log_dir: Path
    workdir: Path
