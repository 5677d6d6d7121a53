"""What OpenTelemetry tracing costs per request: one server without it, one tracing every request.

    .venv/bin/python -m tools.trace_cost build/trace_repository --requests 300

Starts two servers on the repository side by side (build it first, e.g. with
``clinserve_runtime.build_demo.build(path, "tiny", models=["treatment_changes"])``, as the
tracing test does): one with tracing off, one that traces every request (rate 1) and exports to
a local OTLP receiver at Triton's default batch settings. Each request to the second carries a
fresh ``traceparent``, as an instrumented caller's would (the few whose context Triton ignores
become traces of their own: docs/runtime.md, lesson 17). The same request (``--texts`` texts,
default one) goes to each server in turn, one at a time (interleaved: both see the same machine
load); printed per server: the median and p95 round trip through the client, and the CPU time of
the server's processes (server and Python stubs) per request, which counts in clock ticks (10 ms:
use a few hundred requests). The receiver runs in this process, so its decoding is not counted
against the server. Last, it waits for every span of the traced requests (Triton exports every
5 s) and says how many arrived; it exits 1 when some did not.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from clinserve import ClinServeClient
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.processes import cpu_seconds, descendants
from clinserve_runtime.triton import TritonServer, loopback_options
from tools.otlp_receiver import OtlpReceiver

TEXT = "Patient stopped taking ambien after two weeks because of next-day drowsiness."
WARM_UP_REQUESTS = 20
# InferRequest, the ensemble, and a model span and a compute span per step (docs/tracing.md).
SPANS_PER_REQUEST = 8
SPANS_TIMEOUT_S = 60


def group_cpu_s(server: TritonServer) -> float:
    """CPU seconds of the server and its Python stubs so far."""
    return sum(cpu_seconds(pid) for pid in descendants(server.pid))


@contextmanager
def running(repository: Path, log: Path, **options: object) -> Iterator[TritonServer]:
    """A ready server on free ports, stopped on exit."""
    server = TritonServer(loopback_options(repository, exit_timeout_secs=5, **options), log_path=log)
    server.start()
    try:
        server.wait_until_ready(timeout_s=300)
        yield server
    finally:
        server.stop()


def traceparent(sent: list[str]) -> str:
    """A fresh, sampled caller context; its trace id is appended to ``sent``."""
    trace_id = secrets.token_hex(16)
    sent.append(trace_id)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def main(argv: list[str] | None = None) -> int:
    """Start both servers, interleave the requests, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path)
    parser.add_argument("--model", default=None, help="default: the repository's first catalog model")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per server")
    parser.add_argument("--texts", type=int, default=1, help="texts per request (spans are per request)")
    parser.add_argument("--log-dir", type=Path, default=Path("build/trace-cost"))
    args = parser.parse_args(argv)
    model = args.model or next(
        name for name in load_catalog() if (args.repository / name / "config.pbtxt").is_file()
    )
    with ExitStack() as stack:
        receiver = stack.enter_context(OtlpReceiver())
        servers = {
            "tracing off": stack.enter_context(running(args.repository, args.log_dir / "off.log")),
            "tracing on, every request traced": stack.enter_context(
                running(args.repository, args.log_dir / "on.log", trace_url=receiver.url, trace_rate=1)
            ),
        }
        clients = {name: stack.enter_context(ClinServeClient(s.grpc_url)) for name, s in servers.items()}
        traced = {name: "on" in name for name in servers}
        sent: list[str] = []

        def call(name: str) -> float:
            started = time.perf_counter()
            clients[name].classify(
                model, [TEXT] * args.texts, traceparent=traceparent(sent) if traced[name] else None
            )
            return time.perf_counter() - started

        for _ in range(WARM_UP_REQUESTS):
            for name in servers:
                call(name)
        cpu_before = {name: group_cpu_s(server) for name, server in servers.items()}
        times: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.requests):
            for name in servers:
                times[name].append(call(name))
        cpu = {name: group_cpu_s(server) - cpu_before[name] for name, server in servers.items()}
        expected = SPANS_PER_REQUEST * (WARM_UP_REQUESTS + args.requests)
        try:
            receiver.wait_for(lambda spans: len(spans) >= expected, SPANS_TIMEOUT_S)
        except TimeoutError as exc:
            print(f"error: {exc}", file=sys.stderr)
        spans = len(receiver.spans())
        joined = len(set(sent) & {span.trace_id for span in receiver.spans()})
    print(f"{model}, {args.texts} text(s) per request, {args.requests} requests per server, interleaved:")
    print(f"{'':34} {'median ms':>10} {'p95 ms':>8} {'server CPU ms/request':>22}")
    for name, samples in times.items():
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(
            f"{name:34} {statistics.median(samples) * 1000:10.2f} {p95 * 1000:8.2f}"
            f" {cpu[name] / len(samples) * 1000:22.2f}"
        )
    print(f"spans received: {spans} of {expected} expected")
    # Triton 2.51 ignores the context of a few gRPC requests (docs/runtime.md, lesson 17).
    print(f"requests in the caller's trace: {joined} of {len(sent)}")
    return 0 if spans == expected else 1


if __name__ == "__main__":
    sys.exit(main())
