"""A Python-backend stub killed under load: how the fault shows, and what restores the service.

The tokenizer of the primary model runs in its own ``triton_python_backend_stub`` process; the
scenario finds it under the server in ``/proc`` and SIGKILLs it while a client (no retries)
keeps calling. It then records what a caller and an operator can see: the errors, the server's
and the models' readiness, whether Triton starts a new stub, and how the server stops. Last, it
restarts the server (what a supervisor or a failing liveness check does) and checks that the
service answers, right, again.

What Triton 2.51 does (docs/reliability.md has the measured run and its command): the stub
is not restarted (the Python backend's restart was removed in 24.06, see
triton-inference-server/server#7347) and stays behind as a zombie; every request routed to that
instance fails with INTERNAL "Stub process '<model>_0_0' is not healthy." (or, queued behind
one, with "Request timeout expired"), while a second instance, if any, keeps answering;
server and model readiness still answer 200 (server#7230, server#8604); nothing is logged at
the default level; SIGTERM then waits out the whole exit timeout, because the model with
the dead stub never unloads. Wrong answers: none.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal

from clinserve import AsyncClinServeClient
from clinserve_runtime.processes import python_stubs
from clinserve_runtime.procfs import dead_children
from clinserve_runtime.stub_check import main as stub_check
from clinserve_runtime.triton import HEALTH_LIVE_PATH, TritonServer
from reliability.context import CALL_DEADLINE_S, CALL_OPTIONS, NO_RETRIES, Context
from reliability.load import Workload, client_driver, started_after
from reliability.outcomes import Tally
from reliability.report import Row, ScenarioResult
from reliability.servers import (
    PRIMARY_MODEL,
    Fleet,
    http_status,
    pid_of,
    send_sigterm,
    wait_exit,
)

NAME = "stub-kill"
VICTIM_MODEL = f"{PRIMARY_MODEL}_tokenizer"
#: Triton's exit timeout for this scenario's server: a dead stub makes it run out (see above).
EXIT_TIMEOUT_S = 5
EXIT_MARGIN_S = 10.0
PROBE_INTERVAL_S = 1.0
PAUSE_AFTER_ERROR_S = 0.1
#: The restarted server is exercised this long.
AFTER_RESTART_S = 3.0
UNHEALTHY = "is not healthy"


def _probe(server: TritonServer) -> dict[str, int | str]:
    """What a readiness or liveness probe would see."""
    return {
        "server live": http_status(server, "/v2/health/live"),
        "server ready": http_status(server, "/v2/health/ready"),
        f"{PRIMARY_MODEL} ready": http_status(server, f"/v2/models/{PRIMARY_MODEL}/ready"),
        f"{VICTIM_MODEL} ready": http_status(server, f"/v2/models/{VICTIM_MODEL}/ready"),
    }


async def run(context: Context) -> ScenarioResult:
    """Kill the tokenizer's stub under load, watch, then restart the server."""
    profile = context.profile
    result = ScenarioResult(NAME)
    with Fleet(context.repository, context.log_dir, exit_timeout_s=EXIT_TIMEOUT_S) as fleet:
        [server] = fleet.start([NAME])
        async with AsyncClinServeClient(server.grpc_url, options=CALL_OPTIONS, retry=NO_RETRIES) as client:
            workload = await Workload.prepare(client, PRIMARY_MODEL)
            driver = client_driver(client, workload, deadline_s=CALL_DEADLINE_S)
            stop = asyncio.Event()
            load = asyncio.ensure_future(
                driver.closed_loop(
                    max(1, profile.concurrency // 2),
                    duration_s=profile.fault_before_s + profile.fault_after_s + CALL_DEADLINE_S,
                    max_calls=profile.max_calls,
                    stop=stop,
                    pause_after_error_s=PAUSE_AFTER_ERROR_S,
                )
            )
            await asyncio.sleep(profile.fault_before_s)
            before = {s.instance: s.pid for s in python_stubs(pid_of(server))}
            # The Deployment's liveness probe, as the kubelet runs it (deploy/k8s/base/deployment.yaml).
            probe_args = ["--pid", str(pid_of(server)), "--live-url", server.http_url + HEALTH_LIVE_PATH]
            liveness_before = stub_check(probe_args)
            victim = next(s for s in python_stubs(pid_of(server)) if s.model == VICTIM_MODEL)
            killed = driver.now()
            os.kill(victim.pid, signal.SIGKILL)
            probes: list[dict[str, int | str]] = []
            while driver.now() < killed + profile.fault_after_s:
                await asyncio.sleep(PROBE_INTERVAL_S)
                probes.append(await asyncio.to_thread(_probe, server))
            stubs_after = {s.instance: s.pid for s in python_stubs(pid_of(server))}
            zombies = dead_children(pid_of(server))
            message = io.StringIO()
            with contextlib.redirect_stderr(message):
                liveness = stub_check(probe_args)
            stop.set()
            calls = await load
        stopped = driver.now()
        send_sigterm(server)
        exit_code = await asyncio.to_thread(wait_exit, server, EXIT_TIMEOUT_S + EXIT_MARGIN_S)
        stop_s = driver.now() - stopped

        [restarted] = fleet.start([f"{NAME}-restarted"])
        # What a caller sees once the server is back: the library's default retries, as in production.
        async with AsyncClinServeClient(restarted.grpc_url, options=CALL_OPTIONS) as client:
            again = client_driver(client, workload, deadline_s=CALL_DEADLINE_S)
            after_restart = await again.closed_loop(
                max(1, profile.concurrency // 2), duration_s=AFTER_RESTART_S, max_calls=profile.max_calls
            )

    after = started_after(calls, killed)
    after_tally = Tally.of(after)
    result.rows = [
        Row(f"{NAME}: tokenizer stub killed", Tally.of(calls)),
        Row(f"{NAME}: after a server restart, retries", Tally.of(after_restart)),
    ]
    restarted_stub = stubs_after.get(victim.instance)
    recovered = after_tally.answered > 0
    result.facts = {
        "killed": f"{victim.instance} (pid {victim.pid})",
        "stub_restarted_by_triton": restarted_stub is not None and restarted_stub != victim.pid,
        "stubs_before": len(before),
        "stubs_after": len(stubs_after),
        "unreaped_children_after": [f"{name} (pid {pid})" for pid, name in zombies],
        "stub_check_exit_status": liveness,
        "stub_check_message": message.getvalue().strip(),
        "sent_after_kill": after_tally.sent,
        "answered_after_kill": after_tally.answered,
        "errors_after_kill": dict(after_tally.kinds),
        "error_latency_p50_ms": round(after_tally.failed_p50_ms or 0.0),
        "error_latency_p99_ms": round(after_tally.failed_p99_ms or 0.0),
        "readiness_after_kill": _summarize(probes),
        "sigterm_exit_code": exit_code,
        "sigterm_exit_s": round(stop_s, 1),
    }
    result.notes.append(
        "recovered: Triton answered again after the kill"
        if recovered
        else "failed visibly: no answer after the kill, every call refused with an error"
    )
    result.check_nothing_lost()
    result.check(
        "callers see the fault (errors naming the stub) or the service recovers",
        recovered or any(UNHEALTHY in kind for kind in after_tally.kinds),
        f"answered {after_tally.answered} of {after_tally.sent} after the kill;"
        f" errors {list(after_tally.kinds)[:2]}",
    )
    result.check(
        "the liveness check sees the dead stub (clinserve_runtime.stub_check exits 1)",
        liveness_before == 0 and (liveness == 1 or restarted_stub not in (None, victim.pid)),
        f"stub_check exit status {liveness_before} before the kill, {liveness} after;"
        f" stubs {len(before)} before, {len(stubs_after)} after",
    )
    restart_tally = Tally.of(after_restart)
    result.check(
        "a server restart restores the service",
        restart_tally.answered > 0 and restart_tally.failed == 0,
        f"{restart_tally.answered} answered, {restart_tally.failed} failed after the restart",
    )
    return result


def _summarize(probes: list[dict[str, int | str]]) -> dict[str, list[int | str]]:
    """Distinct values each probe returned, in order of first appearance."""
    summary: dict[str, list[int | str]] = {}
    for probe in probes:
        for key, value in probe.items():
            values = summary.setdefault(key, [])
            if value not in values:
                values.append(value)
    return summary
