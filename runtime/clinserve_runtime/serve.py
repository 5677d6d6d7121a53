"""Run a Triton server with all catalog models until Ctrl-C or SIGTERM.

    python -m clinserve_runtime.serve --model-repository model_repository

Waits until every model is ready, prints where it listens, and on SIGINT/SIGTERM stops the
server gracefully (in-flight requests finish within ``--exit-timeout-secs``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.ort_providers import CPU, local_providers
from clinserve_runtime.repository import STAMP_IMPORTED, read_stamp
from clinserve_runtime.triton import (
    ADMIN_KEY_HEADER,
    DEFAULT_EXIT_TIMEOUT_SECS,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_RUNTIME_DIR,
    DEFAULT_TRACE_RATE,
    GRPC_ADMIN_KEY_HEADER,
    ServerOptions,
    TritonRuntimeError,
    TritonServer,
    check_trace_url,
)

ADMIN_KEY_ENV = "CLINSERVE_ADMIN_KEY"


def admin_key(runtime_dir: Path) -> tuple[str, str]:
    """The admin key and where it came from: the environment, or a file made once (0600)."""
    if os.environ.get(ADMIN_KEY_ENV):
        return os.environ[ADMIN_KEY_ENV], f"${ADMIN_KEY_ENV}"
    path = runtime_dir / "admin.key"
    if not path.is_file():
        runtime_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path.read_text().strip(), str(path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 for all)")
    parser.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    parser.add_argument("--grpc-port", type=int, default=DEFAULT_GRPC_PORT)
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT)
    parser.add_argument("--exit-timeout-secs", type=int, default=DEFAULT_EXIT_TIMEOUT_SECS)
    parser.add_argument("--log-verbose", type=int, default=0)
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for all models")
    parser.add_argument(
        "--trace-url",
        default="",
        help="OTLP/HTTP endpoint for OpenTelemetry traces, e.g. http://127.0.0.1:4318/v1/traces"
        " (default: tracing off; docs/tracing.md)",
    )
    parser.add_argument(
        "--trace-rate",
        type=int,
        default=DEFAULT_TRACE_RATE,
        help="with --trace-url: trace one request in N that carries no trace context"
        " (0: only requests with a traceparent; default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        check_trace_url(args.trace_url)
    except ValueError as exc:
        parser.error(str(exc))
    if args.trace_rate < 0:
        parser.error(f"--trace-rate must be 0 or more, not {args.trace_rate}")

    key, key_source = admin_key(DEFAULT_RUNTIME_DIR)
    options = ServerOptions(
        model_repository=args.model_repository.resolve(),
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        admin_key=key,
        exit_timeout_secs=args.exit_timeout_secs,
        log_verbose=args.log_verbose,
        trace_url=args.trace_url,
        trace_rate=args.trace_rate,
    )
    server = TritonServer(options)
    # Monotonic time of the first SIGINT/SIGTERM. The handler only signals the server: waiting
    # for it there deadlocks when the signal lands while the main thread is in Popen.wait().
    stop_requested_at: float | None = None

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested_at
        if stop_requested_at is None:
            stop_requested_at = time.monotonic()
            print(
                f"\n{signal.Signals(signum).name}: stopping Triton (in-flight requests finish;"
                " press Ctrl-C again to kill it now) ...",
                flush=True,
            )
            server.terminate()
        else:
            print(f"{signal.Signals(signum).name} again: killing Triton", flush=True)
            server.kill()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        server.start()
        if stop_requested_at is not None:  # the signal came before there was a process to stop
            server.terminate()
        server.wait_until_ready(args.ready_timeout)
    except TritonRuntimeError as exc:
        if stop_requested_at is None:
            print(f"error: {exc}", file=sys.stderr)
        server.stop()
        return 0 if stop_requested_at is not None else 1
    if stop_requested_at is None:
        print_ready(server, options.model_repository, key_source)
    # Triton finishes in-flight requests within --exit-timeout-secs of SIGTERM; past that plus
    # a margin it is killed, so the command always ends.
    kill_after_s = args.exit_timeout_secs + 15
    while True:
        try:
            code = server.process.wait(timeout=0.5) if server.process is not None else 1
            break
        except subprocess.TimeoutExpired:
            if stop_requested_at is not None and time.monotonic() - stop_requested_at > kill_after_s:
                print(f"Triton did not stop within {kill_after_s}s: killing it", flush=True)
                server.kill()
    server.stop()
    return 0 if stop_requested_at is not None else code


def print_ready(server: TritonServer, repository: Path, key_source: str) -> None:
    """Where the server listens, which weights it serves, and how to stop it."""
    stamp = read_stamp(repository) or {}
    weights = str(stamp.get("weights", "unknown"))
    imported_raw = stamp.get(STAMP_IMPORTED)
    imported: dict[str, dict[str, str]] = imported_raw if isinstance(imported_raw, dict) else {}
    demo_models = [name for name in load_catalog() if name not in imported]
    summary = ""
    if demo_models and weights.startswith("demo"):
        summary += (
            f"\n  {weights} (UNTRAINED demo weights: results are not predictions): {', '.join(demo_models)}"
        )
    for name, facts in sorted(imported.items()):
        summary += f"\n  imported: {name} <- {facts.get('weights', '?')}"
    print(
        f"\nTriton is ready: {len(load_catalog())} models{summary}\n"
        f"  gRPC     {server.grpc_url}\n"
        f"  HTTP     {server.http_url}\n"
        f"  metrics  {server.metrics_url}\n"
        f"  models   {', '.join(load_catalog())}\n"
        f"  ONNX     {onnx_placement(repository)}\n"
        f"  traces   {trace_summary(server.options)}\n"
        f"  admin protocols need a key (in {key_source}): HTTP header '{ADMIN_KEY_HEADER}',"
        f" gRPC metadata '{GRPC_ADMIN_KEY_HEADER}'\n"
        "Ctrl-C or SIGTERM stops it.",
        flush=True,
    )


def trace_summary(options: ServerOptions) -> str:
    """Where traces go and which requests are traced, or how to turn tracing on."""
    if not options.trace_url:
        return "off (make serve TRACE_URL=http://<collector>:4318/v1/traces; docs/tracing.md)"
    sampled = f"1 in {options.trace_rate} other requests" if options.trace_rate else "no other requests"
    return f"OpenTelemetry to {options.trace_url}: requests with a traceparent, and {sampled}"


def onnx_placement(repository: Path) -> str:
    """Where the ONNX steps run: their configs' instance kind, and whether a GPU can take it.

    Said once here; the stand-in logs each model's provider in Triton's log.
    """
    kinds = sorted(
        {
            line.split(":", 1)[1].strip()
            for path in repository.glob("*_onnx/config.pbtxt")
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("kind:")
        }
    )
    choice = local_providers()
    where = "GPU" if choice.names[0] != CPU and kinds == ["KIND_GPU"] else "CPU"
    return f"on the {where} ({', '.join(kinds) or 'no ONNX models'}; {choice.reason})"


if __name__ == "__main__":
    sys.exit(main())
