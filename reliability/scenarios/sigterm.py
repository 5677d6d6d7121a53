"""SIGTERM under load: a graceful stop refuses cleanly, and replicas carry the calls.

Two replicas serve the same repository. Two clients drive load at the same time:

- ``direct``: one endpoint (the replica that gets SIGTERM), no retries: it shows what the
  server itself does. Requests sent after the signal must be refused with a clear error (never
  hang, never be dropped silently). Requests in flight at the signal must be answered or
  refused with an error the client library retries.
- ``replicas``: both endpoints, with the client library's retries: not one call may fail.

The stopped server must exit on its own, with status 0, within Triton's exit timeout.

Measured on Triton 2.51 (docs/reliability.md): SIGTERM stops every model's scheduler at once,
so an ensemble request between two steps when the signal lands is refused at its next step
("Server is stopping, scheduler for model has stopped accepting new inference requests",
UNAVAILABLE) rather than finished; only requests already in their last step complete. The
ensembles are unloaded first, so for the seconds the steps take to unload the server answers
NOT_FOUND ("has no available versions"), which the client library reads as unavailable.
"""

from __future__ import annotations

import asyncio

from clinserve import AsyncClinServeClient
from lab.driver import Call, Outcome
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, NO_RETRIES, REPLICA_RETRIES, Context
from reliability.load import Workload, client_driver, in_flight_at, started_after
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import PRIMARY_MODEL, Fleet, send_sigterm, wait_exit

NAME = "sigterm"
#: A client that was refused waits this long before its next call (as a real client would).
PAUSE_AFTER_ERROR_S = 0.1
#: Margin on top of Triton's exit timeout for the process to be gone.
EXIT_MARGIN_S = 10.0
#: Refusals the client library retries (on another replica when it has one).
RETRYABLE_KINDS = ("UnavailableError", "OverloadedError")


def _answered_or_retryable(call: Call) -> bool:
    return call.outcome is Outcome.ANSWERED or (
        call.outcome is Outcome.FAILED and call.detail.startswith(RETRYABLE_KINDS)
    )


async def run(context: Context) -> ScenarioResult:
    """Stop one of two replicas with SIGTERM while both clients drive load."""
    profile = context.profile
    result = ScenarioResult(NAME)
    with Fleet(context.repository, context.log_dir) as fleet:
        victim, survivor = fleet.start([f"{NAME}-victim", f"{NAME}-survivor"])
        async with (
            AsyncClinServeClient(victim.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as direct,
            AsyncClinServeClient(
                [victim.grpc_url, survivor.grpc_url], options=CALL_OPTIONS, retry=REPLICA_RETRIES
            ) as replicated,
        ):
            workload = await Workload.prepare(direct, PRIMARY_MODEL)
            await replicated.wait_until_ready(timeout_s=30)
            direct_driver = client_driver(direct, workload, deadline_s=CALL_DEADLINE_S)
            replica_driver = client_driver(
                replicated, workload, deadline_s=CALL_DEADLINE_S, origin=direct_driver.origin
            )
            # The load runs until fault_after_s past the server's exit (the duration is only a cap).
            cap = profile.fault_before_s + fleet.exit_timeout_s + EXIT_MARGIN_S + profile.fault_after_s
            stop = asyncio.Event()
            half = max(1, profile.concurrency // 2)
            load = asyncio.gather(
                direct_driver.closed_loop(
                    half,
                    duration_s=cap,
                    max_calls=profile.max_calls,
                    stop=stop,
                    pause_after_error_s=PAUSE_AFTER_ERROR_S,
                ),
                replica_driver.closed_loop(half, duration_s=cap, max_calls=profile.max_calls, stop=stop),
            )
            await asyncio.sleep(profile.fault_before_s)
            signalled = direct_driver.now()
            send_sigterm(victim)
            exit_code = await asyncio.to_thread(wait_exit, victim, fleet.exit_timeout_s + EXIT_MARGIN_S)
            exited = direct_driver.now()
            await asyncio.sleep(profile.fault_after_s)
            stop.set()
            direct_calls, replica_calls = await load

    result.rows = [
        Row(f"{NAME}: 1 server, no retries", Tally.of(direct_calls)),
        Row(f"{NAME}: 2 replicas, retries", Tally.of(replica_calls)),
    ]
    in_flight = in_flight_at(direct_calls, signalled)
    after = started_after(direct_calls, signalled)
    after_exit = started_after(direct_calls, exited)
    replica_after_exit = started_after(replica_calls, exited)
    result.facts = {
        "exit_code": exit_code,
        "drain_s": round(exited - signalled, 2),
        "exit_timeout_s": fleet.exit_timeout_s,
        "in_flight_at_signal": len(in_flight),
        "in_flight_answered": sum(c.outcome is Outcome.ANSWERED for c in in_flight),
        "in_flight_refusals": dict(Tally.of(in_flight).kinds),
        "sent_after_signal": len(after),
        "answered_after_signal": sum(c.outcome is Outcome.ANSWERED for c in after),
        "refusals_after_signal": dict(Tally.of(after).kinds),
    }
    result.check_nothing_lost()
    result.check(
        "the server exits on its own with status 0 within its exit timeout",
        exit_code == 0 and exited - signalled <= fleet.exit_timeout_s + EXIT_MARGIN_S,
        f"exit code {exit_code} after {exited - signalled:.1f} s",
    )
    result.check(
        "requests in flight at SIGTERM are answered or refused with a retryable error",
        bool(in_flight) and all(_answered_or_retryable(c) for c in in_flight),
        f"{sum(c.outcome is Outcome.ANSWERED for c in in_flight)} of {len(in_flight)} answered,"
        f" the rest: {dict(Tally.of(in_flight).kinds)}",
    )
    unclear = [k for k in Tally.of(after).kinds if not k.startswith("failed: UnavailableError")]
    # The signal is handled asynchronously: a request sent in the same instant may still be
    # answered. Past that, every request must be refused with a clear error.
    result.check(
        "requests sent after SIGTERM are refused cleanly",
        bool(after_exit)
        and all(c.outcome is Outcome.FAILED for c in after_exit)
        and all(c.outcome in (Outcome.ANSWERED, Outcome.FAILED) for c in after)
        and not unclear,
        f"{len(after)} sent after the signal ({len(after_exit)} after the exit,"
        f" {sum(c.outcome is Outcome.ANSWERED for c in after)} answered), other kinds: {unclear}",
    )
    replica_tally = Tally.of(replica_calls)
    result.check(
        "with a second replica and retries no call fails",
        replica_tally.failed == 0 and any(c.outcome is Outcome.ANSWERED for c in replica_after_exit),
        f"{replica_tally.failed} of {replica_tally.sent} failed;"
        f" {len(replica_after_exit)} sent after the exit",
    )
    return result
