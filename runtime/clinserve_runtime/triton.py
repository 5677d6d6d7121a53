"""Locate, configure and run a real Triton Inference Server (2.51) without Docker.

The server binary, its libraries and the Python backend come from the ``nvidia-pytriton``
wheel, installed apart from the project's environment (its pins would otherwise fix numpy<2
and an old tritonclient for everything). ``make runtime`` installs it into ``.runtime/pytriton``.

``server_flags`` is the single source of truth for how the server is started: the local
launcher uses it, and the Kubernetes manifests are checked against it by the tests.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import clinserve_ensemble
import clinserve_preprocess
from clinserve_runtime.process_group import stop_group

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNTIME_DIR = PROJECT_ROOT / ".runtime"
TRITON_HOME_ENV = "CLINSERVE_TRITON_HOME"
ADMIN_KEY_HEADER = "admin-key"
# Triton prefixes the configured key for gRPC metadata: a gRPC caller sends this header, an HTTP
# caller sends ADMIN_KEY_HEADER itself (observed on 2.51: "expecting header
# 'triton-grpc-protocol-admin-key'").
GRPC_ADMIN_KEY_HEADER = f"triton-grpc-protocol-{ADMIN_KEY_HEADER}"
# Protocols only an operator needs: kept behind a header key (Triton's secure-deployment guide).
RESTRICTED_PROTOCOLS = ("model-repository", "shared-memory", "statistics", "trace", "logging")
DEFAULT_HTTP_PORT = 8000
DEFAULT_GRPC_PORT = 8001
DEFAULT_METRICS_PORT = 8002
DEFAULT_EXIT_TIMEOUT_SECS = 30
HEALTH_LIVE_PATH = "/v2/health/live"
HEALTH_READY_PATH = "/v2/health/ready"
BACKEND_SOURCES = PROJECT_ROOT / "runtime" / "backends"
# OpenTelemetry tracing (docs/tracing.md), off unless a collector URL is given. Without a caller's
# trace context Triton samples one request in TRACE_RATE; a request that carries a W3C
# `traceparent` is traced whatever the rate.
DEFAULT_TRACE_RATE = 1000
TRACE_SERVICE_NAME = "clinserve-triton"


class TritonRuntimeError(RuntimeError):
    """The Triton runtime is missing, broken, or the server failed to become ready."""


@dataclass(frozen=True)
class ServerOptions:
    """How one server process is started.

    Attributes:
        model_repository: Root of the model repository.
        host: Address every endpoint binds to (loopback for local use).
        http_port, grpc_port, metrics_port: Listening ports.
        admin_key: Value of the ``admin-key`` header that unlocks the restricted protocols.
        exit_timeout_secs: How long a stopping server lets in-flight requests finish.
        log_verbose: Triton's verbose level; 0 never logs request contents.
        ssl_dir: Directory with ``server.crt``, ``server.key`` and ``ca.crt`` to serve gRPC
            over TLS; ``mutual_tls`` also requires client certificates.
        trace_url: OTLP/HTTP endpoint (``http://collector:4318/v1/traces``) that Triton's
            OpenTelemetry trace mode exports spans to; empty: tracing off.
        trace_rate: With tracing on, one request in ``trace_rate`` is traced when the caller
            sent no trace context (0: only requests that carry one).
    """

    model_repository: Path
    host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    grpc_port: int = DEFAULT_GRPC_PORT
    metrics_port: int = DEFAULT_METRICS_PORT
    admin_key: str = ""
    exit_timeout_secs: int = DEFAULT_EXIT_TIMEOUT_SECS
    log_verbose: int = 0
    ssl_dir: Path | None = None
    mutual_tls: bool = False
    trace_url: str = ""
    trace_rate: int = DEFAULT_TRACE_RATE
    extra_flags: tuple[str, ...] = field(default_factory=tuple)


# Triton 2.51 has no latency histograms (only counters, and these opt-in summaries): the
# summaries give p50/p95/p99 per model and per step, of request, queue and compute time, over a
# sliding window (docs/metrics.md).
SUMMARY_QUANTILES = "0.5:0.05,0.95:0.01,0.99:0.001"
LATENCY_METRIC_FLAGS = (
    "--metrics-config=summary_latencies=true",
    f"--metrics-config=summary_quantiles={SUMMARY_QUANTILES}",
)


def server_flags(options: ServerOptions, backend_dir: Path | None = None) -> list[str]:
    """Command-line flags for ``tritonserver`` that follow Triton's secure-deployment guidance."""
    flags = [
        f"--model-repository={options.model_repository}",
        "--model-control-mode=none",
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--disable-auto-complete-config",
        f"--exit-timeout-secs={options.exit_timeout_secs}",
        f"--log-verbose={options.log_verbose}",
        f"--http-address={options.host}",
        f"--http-port={options.http_port}",
        f"--grpc-address={options.host}",
        f"--grpc-port={options.grpc_port}",
        f"--metrics-address={options.host}",
        f"--metrics-port={options.metrics_port}",
        *LATENCY_METRIC_FLAGS,
    ]
    if options.admin_key:
        protocols = ",".join(RESTRICTED_PROTOCOLS)
        flags += [
            f"--grpc-restricted-protocol={protocols}:{ADMIN_KEY_HEADER}={options.admin_key}",
            f"--http-restricted-api={protocols}:{ADMIN_KEY_HEADER}={options.admin_key}",
        ]
    if options.ssl_dir is not None:
        flags += [
            "--grpc-use-ssl=true",
            f"--grpc-server-cert={options.ssl_dir / 'server.crt'}",
            f"--grpc-server-key={options.ssl_dir / 'server.key'}",
            f"--grpc-root-cert={options.ssl_dir / 'ca.crt'}",
        ]
        if options.mutual_tls:
            flags.append("--grpc-use-ssl-mutual=true")
    flags += trace_flags(options.trace_url, options.trace_rate)
    if backend_dir is not None:
        flags.append(f"--backend-directory={backend_dir}")
    return [*flags, *options.extra_flags]


def trace_flags(url: str, rate: int = DEFAULT_TRACE_RATE) -> list[str]:
    """``--trace-config`` flags of Triton's OpenTelemetry mode; none when ``url`` is empty.

    Triton's default level is OFF (nothing traced even in OpenTelemetry mode): TIMESTAMPS is
    the one level that mode supports. Spans go to ``url`` over OTLP/HTTP (protobuf), the only
    exporter Triton 2.51 has.
    """
    if not url:
        return []
    return [
        "--trace-config=mode=opentelemetry",
        "--trace-config=level=TIMESTAMPS",
        f"--trace-config=rate={rate}",
        f"--trace-config=opentelemetry,url={url}",
        f"--trace-config=opentelemetry,resource=service.name={TRACE_SERVICE_NAME}",
    ]


def check_trace_url(url: str) -> str:
    """``url`` when it can be an OTLP/HTTP traces endpoint; a clear error otherwise."""
    if url and not url.startswith(("http://", "https://")):
        raise ValueError(
            f"trace URL {url!r} must be an OTLP/HTTP endpoint such as"
            " http://collector:4318/v1/traces (Triton exports traces over HTTP only, not gRPC)"
        )
    return url


def triton_home() -> Path:
    """The folder ``nvidia-pytriton`` was installed into (``--target``)."""
    home = Path(os.environ.get(TRITON_HOME_ENV, DEFAULT_RUNTIME_DIR / "pytriton"))
    if not (home / "pytriton" / "tritonserver" / "bin" / "tritonserver").is_file():
        raise TritonRuntimeError(
            f"no Triton server under {home}; run `make runtime` (installs nvidia-pytriton there)"
            f" or point {TRITON_HOME_ENV} at an install"
        )
    return home


def prepare_backends(runtime_dir: Path = DEFAULT_RUNTIME_DIR) -> Path:
    """Assemble a backend directory: Triton's Python backend plus the ``onnxruntime`` stand-in.

    The Python backend needs its shared library, its utils module and the stub built for the
    Python that will run the models (this interpreter's minor version).
    """
    tritonserver = triton_home() / "pytriton" / "tritonserver"
    stub = (
        tritonserver
        / "python_backend_stubs"
        / f"{sys.version_info.major}.{sys.version_info.minor}"
        / "triton_python_backend_stub"
    )
    if not stub.is_file():
        raise TritonRuntimeError(f"the Triton wheel has no Python backend stub for this Python ({stub})")
    backends = runtime_dir / "backends"
    python_dir = backends / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for source in (
        tritonserver / "backends" / "python" / "libtriton_python.so",
        tritonserver / "backends" / "python" / "triton_python_backend_utils.py",
        stub,
        BACKEND_SOURCES / "python" / "clinserve_site_path.py",
    ):
        install_file(source, python_dir / source.name)
    standin = backends / "onnxruntime"
    standin.mkdir(exist_ok=True)
    install_file(BACKEND_SOURCES / "onnxruntime" / "model.py", standin / "model.py")
    return backends


def install_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, and only when the contents differ.

    Servers started side by side (benchmark variants, replica tests) share these files, and the
    stubs of one server import them while the next server starts. A plain copy truncates the
    file first: a stub that imported ``clinserve_site_path`` at that moment got an empty module
    and failed with "No module named 'clinserve_runtime'" (seen in a benchmark run).
    """
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        shutil.copy2(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def server_environment() -> dict[str, str]:
    """Environment for the server and the Python stub processes it starts."""
    env = dict(os.environ)
    libs = triton_home() / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libs), env.get("LD_LIBRARY_PATH")]))
    # Stubs import the project packages and their dependencies from here: PYTHONPATH entries are
    # not site directories, so editable-install .pth files would not be honoured.
    package_roots = {
        str(Path(module.__file__ or "").resolve().parents[1])
        for module in (clinserve_preprocess, clinserve_ensemble)
    }
    package_roots.add(str(Path(__file__).resolve().parents[1]))
    # Site directories a .pth file added come after the interpreter's own (an environment layered
    # over another, as the ORT=gpu test's is): the stubs must see the same packages, in that order.
    layered = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    paths = [
        *sorted(package_roots),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        *layered,
    ]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # tokenizers (Rust/rayon) and ONNX Runtime otherwise each start a thread per core in every
    # stub process; on small machines that oversubscribes the cores many times over.
    env.setdefault("RAYON_NUM_THREADS", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


class TritonServer:
    """A ``tritonserver`` child process with readiness waiting and graceful stop."""

    def __init__(self, options: ServerOptions, *, log_path: Path | None = None) -> None:
        """Prepare (not start) a server; see :class:`ServerOptions`."""
        self.options = options
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: object = None

    @property
    def pid(self) -> int:
        """The server's process id (0 before :meth:`start`)."""
        return self.process.pid if self.process is not None else 0

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint."""
        return f"{self.options.host}:{self.options.grpc_port}"

    @property
    def http_url(self) -> str:
        """``http://host:port`` of the HTTP endpoint."""
        return f"http://{self.options.host}:{self.options.http_port}"

    @property
    def metrics_url(self) -> str:
        """URL of the Prometheus metrics endpoint."""
        return f"http://{self.options.host}:{self.options.metrics_port}/metrics"

    def command(self) -> list[str]:
        """The full command line."""
        binary = triton_home() / "pytriton" / "tritonserver" / "bin" / "tritonserver"
        return [str(binary), *server_flags(self.options, prepare_backends())]

    def start(self) -> None:
        """Start the process (returns at once; see :meth:`wait_until_ready`)."""
        if not self.options.model_repository.is_dir():
            raise TritonRuntimeError(f"model repository {self.options.model_repository} does not exist")
        stdout: int | object = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            stdout = self._log_file
        self.process = subprocess.Popen(
            self.command(),
            env=server_environment(),
            stdout=stdout,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT if stdout is not None else None,
            start_new_session=True,
        )

    def is_ready(self) -> bool:
        """True when every model is loaded and the server accepts inference."""
        try:
            with urllib.request.urlopen(self.http_url + HEALTH_READY_PATH, timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_until_ready(self, timeout_s: float = 300.0) -> None:
        """Block until ready.

        Raises:
            TritonRuntimeError: When the process exits first or the timeout passes.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                hint = f"; see {self.log_path}" if self.log_path else ""
                raise TritonRuntimeError(
                    f"tritonserver exited with code {self.process.returncode} before it was ready{hint}"
                )
            if self.is_ready():
                return
            time.sleep(0.5)
        raise TritonRuntimeError(f"tritonserver was not ready after {timeout_s:.0f}s")

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM) and return at once.

        Safe inside a signal handler, unlike :meth:`stop`: a handler that waits on the process
        while the interrupted code is itself in ``Popen.wait()`` deadlocks on Popen's internal
        lock (docs/runtime.md, lesson 8).
        """
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the server and its Python stubs (its process group) and return at once."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, timeout_s: float | None = None) -> int | None:
        """SIGTERM, wait up to the exit timeout (+ margin), then SIGKILL. Returns the exit code.

        Whatever is left of the server's process group then is killed too: Python stubs of a
        server that was killed (or crashed) outlive it otherwise (``process_group``).
        Waits, so never call it from a signal handler (see :meth:`terminate`).
        """
        if self.process is None:
            return None
        code = stop_group(self.process, timeout_s or self.options.exit_timeout_secs + 15)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        return code

    def __enter__(self) -> TritonServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def loopback_options(model_repository: Path, **overrides: Any) -> ServerOptions:
    """Options for a throw-away local server: free loopback ports and a random admin key.

    Tests, benchmarks, load tests and reliability scenarios start their servers this way, so
    several can run side by side; ``overrides`` set any other :class:`ServerOptions` field.
    """
    http_port, grpc_port, metrics_port = free_ports(3)
    fields: dict[str, Any] = {
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "admin_key": secrets.token_hex(16),
        "exit_timeout_secs": 10,
        **overrides,
    }
    return ServerOptions(model_repository=model_repository.resolve(), **fields)


#: Where :func:`free_ports` looks when the kernel's ephemeral range leaves room below it.
PICKED_PORTS_LOW = 20000
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_port_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux default 32768-60999)."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def bind_loopback(port: int) -> socket.socket | None:
    """A TCP socket bound to ``127.0.0.1:port``, or ``None`` when the port is taken."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    return s


def free_ports(count: int, *, range_file: Path = EPHEMERAL_RANGE_FILE) -> Sequence[int]:
    """Distinct loopback ports free right now, for tests and side-by-side servers.

    A server told its ports on the command line binds them only once its models are loaded,
    seconds later. A port the kernel handed out as free (``bind`` to port 0) comes from the
    ephemeral range, which every outgoing connection draws its local port from too, and the
    benchmark once lost a port that way in between (``[Errno 98] address already in use``). So
    the ports are drawn at random below that range, where no outgoing connection lands, and
    checked by binding them; only if the range leaves no room below it does the kernel pick.
    """
    import random

    low, _ = ephemeral_port_range(range_file)
    candidates = list(range(PICKED_PORTS_LOW, low)) if low - PICKED_PORTS_LOW >= 1000 else []
    random.SystemRandom().shuffle(candidates)
    sockets: list[socket.socket] = []
    try:
        for port in candidates:
            if len(sockets) == count:
                break
            bound = bind_loopback(port)
            if bound is not None:
                sockets.append(bound)
        while len(sockets) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
