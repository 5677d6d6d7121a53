"""Real Triton servers for the scenarios: the repository they serve, start, stop, signals.

Every server listens on free loopback ports and serves one small repository (tiny demo
weights, two catalog models) built with the serving settings under test, by default the ones
``make repository`` ships. Each runs in its own process group (``TritonServer`` starts it in a
new session), so a SIGKILL of the group takes its Python stubs down with it, as a crashed pod
would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import tritonclient.grpc as grpcclient

from clinserve import admin_headers
from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import PROJECT_ROOT, ServerOptions, TritonServer, free_ports

#: Where the runner keeps its repository, server logs and JSON report.
DEFAULT_WORKDIR = PROJECT_ROOT / "build" / "reliability"
#: The model every scenario drives, and a token classifier the soak drives too.
PRIMARY_MODEL = "treatment_changes"
MODELS = (PRIMARY_MODEL, "drug_development_trials")
READY_TIMEOUT_S = 180.0
# Every fleet still open, so an interrupted run (Ctrl-C, SIGTERM from `timeout`) stops its servers.
_OPEN_FLEETS: set[Fleet] = set()
#: How long a server asked to stop lets in-flight requests finish (Triton's --exit-timeout-secs).
EXIT_TIMEOUT_S = 20
#: Niceness of the servers (see NicedTritonServer).
SERVER_NICENESS = 10


class NicedTritonServer(TritonServer):
    """A server (and the stubs it starts) at a lower CPU priority than the load generator.

    Client and servers share the machine's cores; at normal priority the load generator's own
    work (thousands of calls and answers to check per second, in Python) is starved under
    overload and its clock, not the server, decides the latencies. Niced, the server still gets
    every cycle the generator does not use.
    """

    def command(self) -> list[str]:
        """``tritonserver``'s command line behind ``nice`` (which execs it: same pid)."""
        return ["nice", "-n", str(SERVER_NICENESS), *super().command()]


def build_repository(
    workdir: Path, settings: ServingSettings | None = None, *, name: str = "repository"
) -> Path:
    """Build (or reuse) the scenarios' repository under ``workdir``; returns its path."""
    repository = workdir / name
    build(repository, "tiny", settings=settings or ServingSettings(), models=MODELS)
    return repository.resolve()


class Fleet:
    """The servers of one scenario; every one still running is stopped on exit.

    Args:
        repository: Model repository every server serves.
        log_dir: Where each server's log goes (``<name>.log``).
        exit_timeout_s: Triton's ``--exit-timeout-secs`` for every server.
    """

    def __init__(self, repository: Path, log_dir: Path, *, exit_timeout_s: int = EXIT_TIMEOUT_S) -> None:
        self.repository = repository
        self.log_dir = log_dir
        self.exit_timeout_s = exit_timeout_s
        self.admin_key = secrets.token_hex(16)
        self.servers: list[TritonServer] = []
        _OPEN_FLEETS.add(self)

    def start(self, names: Sequence[str]) -> list[TritonServer]:
        """Start one server per name (all at once) and wait until each is ready."""
        started: list[TritonServer] = []
        for name in names:
            http_port, grpc_port, metrics_port = free_ports(3)
            options = ServerOptions(
                model_repository=self.repository,
                http_port=http_port,
                grpc_port=grpc_port,
                metrics_port=metrics_port,
                admin_key=self.admin_key,
                exit_timeout_secs=self.exit_timeout_s,
            )
            log_path = self.log_dir / f"{name}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.unlink(missing_ok=True)
            niced = NicedTritonServer(options, log_path=log_path)
            niced.start()
            self.servers.append(niced)
            started.append(niced)
        for server in started:
            server.wait_until_ready(timeout_s=READY_TIMEOUT_S)
        return started

    def close(self) -> None:
        """Stop every server (SIGTERM, then SIGKILL of its group after the exit timeout)."""
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.stop(timeout_s=self.exit_timeout_s + 10)
            else:
                server.stop()
            _reap_group(server)
        self.servers.clear()
        _OPEN_FLEETS.discard(self)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def close_all() -> None:
    """Stop the servers of every fleet still open (the runner calls it on the way out)."""
    for fleet in list(_OPEN_FLEETS):
        fleet.close()


def pid_of(server: TritonServer) -> int:
    """The ``tritonserver`` process id (the server must have been started)."""
    if server.process is None:
        raise RuntimeError("the server was never started")
    return server.process.pid


def send_sigterm(server: TritonServer) -> None:
    """Ask the server to shut down gracefully (returns at once)."""
    os.kill(pid_of(server), signal.SIGTERM)


def wait_exit(server: TritonServer, timeout_s: float) -> int | None:
    """Wait for the server process to exit; its exit code, or ``None`` on timeout."""
    assert server.process is not None
    try:
        return server.process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None


def sigkill_group(server: TritonServer) -> None:
    """SIGKILL the server and its stubs at once (a crash: no drain, no goodbye)."""
    os.killpg(pid_of(server), signal.SIGKILL)
    wait_exit(server, 30)


def _reap_group(server: TritonServer) -> None:
    """Kill stubs left behind when a server died without stopping them (its group)."""
    if server.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.process.pid, signal.SIGKILL)


def step_statistics(server: TritonServer, admin_key: str) -> dict[str, dict[str, float]]:
    """Per Triton model that answered: successes, failures, mean time in the server and queue.

    ``mean_ms`` runs from the request's arrival to its response, ``mean_queue_ms`` is the part
    spent in the model's queue.

    Requests refused because a queue was full never enter the statistics; those that waited past
    their queue's timeout count as failures of the step that held them.
    """
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        stats = client.get_inference_statistics("", headers=admin_headers(admin_key), as_json=True)
    steps: dict[str, dict[str, float]] = {}
    for model in stats.get("model_stats", []):
        inference = model.get("inference_stats", {})
        success = int(inference.get("success", {}).get("count", 0))
        if not success:
            continue
        steps[model["name"]] = {
            "success": success,
            "fail": int(inference.get("fail", {}).get("count", 0)),
            "mean_ms": round(int(inference["success"].get("ns", 0)) / success / 1e6, 1),
            "mean_queue_ms": round(int(inference.get("queue", {}).get("ns", 0)) / success / 1e6, 1),
        }
    return steps


def http_status(server: TritonServer, path: str, timeout_s: float = 2.0) -> int | str:
    """HTTP status of a GET on the server (health and readiness paths), or why there was none."""
    try:
        with urllib.request.urlopen(server.http_url + path, timeout=timeout_s) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return type(error).__name__
