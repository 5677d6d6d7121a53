"""Locust load test of the clinserve models over gRPC (docs/load-testing.md).

    locust -f load_tests/locustfile.py --host 127.0.0.1:8001 --headless -u 8 -r 2 -t 60s \\
        --models "treatment_changes:3,biomarker:1" --shape step

Each simulated user opens one gRPC channel (a ``clinserve.ClinServeClient``) when it starts
and reuses it for every call; each call fires one Locust request event named after the model
(``model/mode`` when a mode is chosen) with its latency, the size of its results and the
client's exception when it failed. ``--host`` is the gRPC target, as the client takes it:
``host:port``, a comma-separated list, or ``dns:///name:port`` for a Kubernetes headless
Service. At the end the run is checked against the service-level thresholds (``--slo-*``),
the verdict is printed, and the exit code says whether they held.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import gevent.monkey
import grpc.experimental.gevent as grpc_gevent
from locust import LoadTestShape, User, events, task
from locust.env import Environment
from locust.runners import Runner, WorkerRunner

# Locust imports this file by path; make the repository root importable wherever it runs from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinserve import ClinServeClient, ClinServeError, Result
from clinserve.options import DEFAULT_URL
from load_tests import exit_watchdog
from load_tests.options import DEFAULT_PREFLIGHT_TIMEOUT_S, LoadSettings, add_arguments, shape_from_options
from load_tests.shapes import Shape
from load_tests.slo import (
    DEFAULT_P95_MS,
    Check,
    EndpointStats,
    RunStats,
    checks_json,
    evaluate,
    format_checks,
)

# gRPC's C core does its own network I/O: without this, a call blocks the gevent loop and every
# other user of the process waits for it. It must run before the first channel is created.
grpc_gevent.init_gevent()

logger = logging.getLogger("clinserve.load")
URL_ENV = "CLINSERVE_URL"
REQUEST_TYPE = "grpc"
#: Exit code of a run whose options or server check failed before any load was sent.
EXIT_SETUP_FAILED = 2
EXIT_SLO_FAILED = 1


class _Run:
    """This process's settings (rebuilt at each test start from the master's options)."""

    settings: LoadSettings | None = None
    checks: list[Check] | None = None
    calls = 0
    cpu_start_s = 0.0
    wall_start_s = 0.0


def _target(environment: Environment) -> str:
    return environment.host or os.environ.get(URL_ENV) or DEFAULT_URL


def _settings(environment: Environment) -> LoadSettings:
    if _Run.settings is None:
        _Run.settings = LoadSettings.from_options(_options(environment))
    return _Run.settings


def _options(environment: Environment) -> argparse.Namespace:
    options: argparse.Namespace | None = environment.parsed_options
    if options is None:
        raise RuntimeError("the clinserve locustfile needs Locust's command-line options")
    return options


def _add_arguments(parser: Any) -> None:
    add_arguments(parser)


def _check_setup(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    """On the master (or a single process): validate the options and the server, or exit."""
    if isinstance(runner, WorkerRunner):
        return
    try:
        settings = _settings(environment)
        shape = shape_from_options(_options(environment))
    except (ValueError, OSError) as error:
        logger.error("load test options: %s", error)
        sys.exit(EXIT_SETUP_FAILED)
    logger.info(
        "target %s; %s\n%s\nthresholds: %s",
        _target(environment),
        shape.describe(),
        settings.workload.describe(),
        settings.thresholds.describe(),
    )
    if settings.preflight:
        try:
            _preflight(_target(environment), settings)
        except (ClinServeError, ValueError) as error:
            logger.error("server check failed at %s: %s", _target(environment), error)
            sys.exit(EXIT_SETUP_FAILED)


def _preflight(url: str, settings: LoadSettings) -> None:
    """Every model is served and offers the mode asked for (fail fast, not with 100% failures)."""
    with ClinServeClient(url, options=settings.channel) as client:
        models = sorted({t.model for t in settings.workload.targets})
        client.wait_until_ready(timeout_s=DEFAULT_PREFLIGHT_TIMEOUT_S, models=models)
        for target in settings.workload.targets:
            client.model_info(target.model).check_mode(target.mode)


def _load_settings(environment: Environment, **_: Any) -> None:
    # Workers receive the master's custom options with the spawn message, just before this.
    _Run.settings = None
    _settings(environment)
    _Run.calls = 0
    _Run.cpu_start_s = time.process_time()
    _Run.wall_start_s = time.perf_counter()


def _report_load_generator_cost(environment: Environment, **_: Any) -> None:
    """Log this process's CPU time per call: the rate one Locust process can generate.

    A Locust process runs on one core; if its CPU per call is close to the wall time per call,
    the load generator (not the server) is the bottleneck: add --processes or workers.
    """
    if _Run.calls == 0:
        return
    cpu_s = time.process_time() - _Run.cpu_start_s
    wall_s = time.perf_counter() - _Run.wall_start_s
    per_call_ms = 1000.0 * cpu_s / _Run.calls
    logger.info(
        "load generator (pid %d): %d calls in %.1fs, %.1f%% of a core, %.2f ms CPU per call"
        " -> at most ~%.0f calls/s per Locust process",
        os.getpid(),
        _Run.calls,
        wall_s,
        100.0 * cpu_s / wall_s if wall_s > 0 else 0.0,
        per_call_ms,
        1000.0 / per_call_ms if per_call_ms > 0 else float("inf"),
    )


def _result_size(results: list[Result]) -> int:
    """Predictions in the response: one per text, plus each sentence and entity.

    Locust reports this as the response "size"; counting predictions is what varies with the
    payload (a long note returns hundreds of entities) and costs nothing to compute.
    """
    size = 0
    for result in results:
        size += 1 + len(getattr(result, "sentences", ())) + len(getattr(result, "entities", ()))
    return size


class ClinServeUser(User):
    """A service calling the models: one gRPC channel for its life, weighted calls."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.settings = _settings(environment)
        self.rng = random.Random()
        self.client: ClinServeClient | None = None

    def wait_time(self) -> float:
        """Think time between calls, uniform in [--wait-min, --wait-max] (0 and 0: back to back)."""
        if self.settings.wait_max_s <= 0:
            return 0.0
        return self.rng.uniform(self.settings.wait_min_s, self.settings.wait_max_s)

    def on_start(self) -> None:
        """Open this user's channel."""
        self.client = ClinServeClient(
            _target(self.environment), options=self.settings.channel, retry=self.settings.retry
        )

    def on_stop(self) -> None:
        """Close the channel."""
        if self.client is not None:
            self.client.close()
            self.client = None

    @task
    def call_model(self) -> None:
        """One call to a model drawn by weight, with texts drawn from its payload mix."""
        assert self.client is not None, "on_start opens the client"
        target, kind = self.settings.workload.pick(self.rng)
        texts = self.settings.corpus.sample(kind, self.rng, self.settings.texts_per_call)
        exception: Exception | None = None
        size = 0
        start = time.perf_counter()
        try:
            results = self.client.predict(target.model, texts, mode=target.mode)
            size = _result_size(results)
        except ClinServeError as error:
            exception = error
        _Run.calls += 1
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=target.name,
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=size,
            exception=exception,
            context={"payload": kind, "texts": len(texts)},
        )


class ClinServeShape(LoadTestShape):
    """The load shape named by ``--shape`` (steady, step, spike); see ``load_tests/shapes.py``.

    Locust runs the first shape class it finds in a locustfile, so this file has exactly one,
    which delegates to the named shape. It reads ``--users``, ``--spawn-rate`` and
    ``--run-time`` (``use_common_options``).
    """

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self._shape: Shape | None = None

    def reset_time(self) -> None:
        """Start of a test: take the options as they are now."""
        super().reset_time()
        self._shape = None

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate now, or ``None`` to end the test."""
        if self._shape is None:
            assert self.runner is not None, "Locust sets the runner before the first tick"
            self._shape = shape_from_options(_options(self.runner.environment))
        return self._shape.tick(self.get_run_time())


def _run_stats(environment: Environment) -> RunStats:
    stats = environment.stats
    rows = tuple(
        EndpointStats(
            name=entry.name,
            requests=entry.num_requests,
            failures=entry.num_failures,
            p95_ms=float(entry.get_response_time_percentile(0.95)) if entry.num_requests else None,
        )
        for (name, method), entry in sorted(stats.entries.items())
        if method == REQUEST_TYPE
    )
    total = stats.total
    duration = (total.last_request_timestamp or total.start_time) - total.start_time
    runner = environment.runner
    exceptions = sum(item["count"] for item in runner.exceptions.values()) if runner is not None else 0
    return RunStats(rows, max(duration, 0.0), unexpected_exceptions=exceptions)


def _judge(environment: Environment, **_: Any) -> None:
    """Evaluate the thresholds and set the exit code (on the master or the single process)."""
    if isinstance(environment.runner, WorkerRunner) or _Run.settings is None:
        return
    settings = _Run.settings
    stats = _run_stats(environment)
    checks = evaluate(stats, settings.thresholds, expected=[t.name for t in settings.workload.targets])
    _Run.checks = checks
    options = _options(environment)
    unused = settings.thresholds.unused_overrides(e.name for e in stats.endpoints)
    if unused and options.slo_p95_ms != DEFAULT_P95_MS:
        logger.warning("--slo-p95-ms names no model of this run: %s", ", ".join(unused))
    if options.csv_prefix:
        path = Path(f"{options.csv_prefix}_slo.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(checks_json(checks, settings.thresholds, stats) + "\n", encoding="utf-8")
    environment.process_exit_code = 0 if all(c.passed for c in checks) else EXIT_SLO_FAILED


def _print_verdict(exit_code: int, **_: Any) -> None:
    # After Locust's own summary tables, so the verdict is the last thing a CI log shows.
    if _Run.checks is not None and _Run.settings is not None:
        print(f"\nService-level thresholds: {_Run.settings.thresholds.describe()}")
        print(format_checks(_Run.checks), flush=True)


def _exit_even_if_teardown_hangs(exit_code: int, **_: Any) -> None:
    # Last of the quit listeners: the reports and the verdict are out (load_tests/exit_watchdog.py).
    exit_watchdog.arm(
        exit_code,
        start_thread=gevent.monkey.get_original("_thread", "start_new_thread"),
        sleep=gevent.monkey.get_original("time", "sleep"),
    )


# Registered by call, not as decorators: Locust's add_listener is untyped.
events.init_command_line_parser.add_listener(_add_arguments)
events.init.add_listener(_check_setup)
events.test_start.add_listener(_load_settings)
events.test_stop.add_listener(_report_load_generator_cost)
events.quitting.add_listener(_judge)
events.quit.add_listener(_print_verdict)
events.quit.add_listener(_exit_even_if_teardown_hangs)
