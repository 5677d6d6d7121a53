"""Several real Triton replicas: round-robin over a list and over a DNS name, and one killed mid-run.

Replicas listen on the same gRPC port on different loopback addresses (127.0.0.1, 127.0.0.2, ...),
as pods behind a Kubernetes headless Service do; a small DNS server on loopback resolves one name
to all of them, and the client dials ``dns://<that server>/<name>:<port>``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from clinserve import ChannelOptions, ClinServeClient, ClinServeError, RetryPolicy
from clinserve_runtime.triton import TritonServer, free_ports
from tests.integration.client_support import FakeDNS, inference_count, kill_server, start_server

pytestmark = pytest.mark.integration

MODEL = "treatment_changes"
HEADLESS_NAME = "clinserve-headless.test"
CALLS_PER_REPLICA = 6
KILL_RUN_S = 4.0
# Retries that comfortably cover a replica dying: about 1.5 s of backoff in all.
PATIENT_RETRY = RetryPolicy(max_attempts=8, initial_backoff_s=0.05, max_backoff_s=0.5)


@pytest.fixture(scope="module")
def grpc_port():
    [port] = free_ports(1)
    return port


@pytest.fixture(scope="module")
def replicas(triton_server, grpc_port):
    """Two replicas on 127.0.0.1 and 127.0.0.2, same gRPC port."""
    servers = [
        start_server(f"replica-{i}", triton_server.admin_key, host=f"127.0.0.{i}", grpc_port=grpc_port)
        for i in (1, 2)
    ]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def victim(triton_server, grpc_port):
    """A replica on 127.0.0.3 that the test kills."""
    server = start_server("victim", triton_server.admin_key, host="127.0.0.3", grpc_port=grpc_port)
    yield server
    server.stop()


def _counts(servers: list[TritonServer], admin_key: str) -> list[int]:
    return [inference_count(s.grpc_url, admin_key, MODEL) for s in servers]


def _counts_since(servers: list[TritonServer], admin_key: str, before: list[int], total: int) -> list[int]:
    """Calls each server counted since ``before``, once ``total`` are counted (10 s at most).

    Triton records a request's statistics after its response has gone out, so the last call can
    be answered before it is counted (tests/integration/test_batching.py saw the same).
    """
    deadline = time.monotonic() + 10
    while True:
        counts = [after - b for after, b in zip(_counts(servers, admin_key), before, strict=True)]
        if sum(counts) >= total or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def _spread(client: ClinServeClient, servers: list[TritonServer], admin_key: str) -> list[int]:
    before = _counts(servers, admin_key)
    for i in range(CALLS_PER_REPLICA * len(servers)):
        client.classify(MODEL, [f"call {i}"])
    return _counts_since(servers, admin_key, before, CALLS_PER_REPLICA * len(servers))


def test_an_explicit_list_round_robins_over_every_replica(triton_server, replicas):
    servers = [*replicas]
    admin_key = triton_server.admin_key
    urls = [s.grpc_url for s in servers] + [triton_server.grpc_url]
    with ClinServeClient(urls) as client:
        client.wait_until_ready(timeout_s=30)
        every = [*servers, triton_server]
        before = _counts(every, admin_key)
        for i in range(CALLS_PER_REPLICA * 3):
            client.classify(MODEL, [f"call {i}"])
        spread = _counts_since(every, admin_key, before, CALLS_PER_REPLICA * 3)
    assert spread == [CALLS_PER_REPLICA] * 3


def test_a_dns_name_resolving_to_every_replica_is_balanced_round_robin(triton_server, replicas, grpc_port):
    dns = FakeDNS([s.options.host for s in replicas])
    try:
        with ClinServeClient(f"dns://127.0.0.1:{dns.port}/{HEADLESS_NAME}:{grpc_port}") as client:
            client.wait_until_ready(timeout_s=30)
            spread = _spread(client, replicas, triton_server.admin_key)
    finally:
        dns.close()
    assert (HEADLESS_NAME, 1) in dns.queries
    assert spread == [CALLS_PER_REPLICA, CALLS_PER_REPLICA]


def _run_while(
    call: Callable[[int], None], until: threading.Event, threads: int = 3
) -> tuple[int, list[Exception]]:
    """Call ``call`` from several threads until ``until`` is set; count calls and collect errors."""
    done: list[int] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(worker_id: int) -> None:
        i = 0
        while not until.is_set():
            try:
                call(worker_id * 100_000 + i)
            except ClinServeError as exc:
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    done.append(1)
            i += 1

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    return len(done), errors


def _kill_mid_run(
    client: ClinServeClient, victim: TritonServer, admin_key: str
) -> tuple[int, list[Exception], int]:
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def call(i: int) -> None:
        client.classify(MODEL, [f"note {i}: switched from drug A to drug B"] * 4)

    runner = threading.Thread(
        target=lambda: outcome.update(zip(("calls", "errors"), _run_while(call, stop), strict=True))
    )
    runner.start()
    try:
        deadline = time.monotonic() + 30
        served_by_victim = 0
        while served_by_victim == 0 and time.monotonic() < deadline:  # the victim is taking traffic
            time.sleep(0.1)
            served_by_victim = inference_count(victim.grpc_url, admin_key, MODEL)
        kill_server(victim)
        time.sleep(KILL_RUN_S)
    finally:
        stop.set()
        runner.join(timeout=90)
    return outcome["calls"], outcome["errors"], served_by_victim  # type: ignore[return-value]


def test_killing_a_replica_of_a_list_mid_run_fails_no_call(triton_server, replicas, victim):
    urls = [replicas[0].grpc_url, victim.grpc_url]
    with ClinServeClient(urls, retry=PATIENT_RETRY, options=ChannelOptions(timeout_s=30)) as client:
        client.wait_until_ready(timeout_s=30)
        calls, errors, served_by_victim = _kill_mid_run(client, victim, triton_server.admin_key)
        assert not errors, f"{len(errors)} of {calls + len(errors)} calls failed, e.g. {errors[0]}"
        assert served_by_victim > 0 and calls > 10
        assert len(client.classify(MODEL, ["after the kill"] * 70)) == 70


def test_killing_a_replica_behind_a_dns_name_mid_run_fails_no_call(
    triton_server, replicas, victim, grpc_port
):
    dns = FakeDNS([replicas[1].options.host, victim.options.host])
    target = f"dns://127.0.0.1:{dns.port}/{HEADLESS_NAME}:{grpc_port}"
    try:
        with ClinServeClient(target, retry=PATIENT_RETRY, options=ChannelOptions(timeout_s=30)) as client:
            client.wait_until_ready(timeout_s=30)
            calls, errors, served_by_victim = _kill_mid_run(client, victim, triton_server.admin_key)
            assert not errors, f"{len(errors)} of {calls + len(errors)} calls failed, e.g. {errors[0]}"
            assert served_by_victim > 0 and calls > 10
    finally:
        dns.close()
