"""The load test's own command-line options, and the settings they make.

Locust's parser is a ``configargparse`` parser: every option below is also read from its
``LOCUST_*`` environment variable (and from a ``locust.conf`` file), which is how the Makefile,
CI and a Kubernetes Job pass them. The locustfile registers them with
``events.init_command_line_parser``; this module does not import Locust (gevent), so the unit
tests parse options with a plain ``configargparse`` parser.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinserve import ChannelOptions, RetryPolicy, TLSConfig
from clinserve.options import DEFAULT_MAX_ATTEMPTS
from lab.corpus import Corpus, build_corpus, read_corpus
from load_tests.shapes import DEFAULT_SHAPE, SHAPES, Shape, ShapeSettings, make_shape
from load_tests.slo import DEFAULT_MAX_FAILURE_RATIO, DEFAULT_MIN_RPS, DEFAULT_P95_MS, Thresholds
from load_tests.workload import DEFAULT_MODELS, Workload

__all__ = [
    "DEFAULT_CALL_TIMEOUT_S",
    "DEFAULT_PREFLIGHT_TIMEOUT_S",
    "DEFAULT_WAIT_MAX_S",
    "DEFAULT_WAIT_MIN_S",
    "LoadSettings",
    "add_arguments",
    "shape_from_options",
]

DEFAULT_CALL_TIMEOUT_S = 30.0
DEFAULT_PREFLIGHT_TIMEOUT_S = 60.0
#: Think time of a user between calls: a service handling its own traffic, not a tight loop.
DEFAULT_WAIT_MIN_S = 0.1
DEFAULT_WAIT_MAX_S = 0.5


def add_arguments(parser: Any) -> None:
    """Add the options to a ``configargparse`` parser (Locust's, or a plain one in tests)."""
    group = parser.add_argument_group("clinserve workload")
    group.add_argument(
        "--models",
        env_var="LOCUST_MODELS",
        default=DEFAULT_MODELS,
        help="models to call and their weights: MODEL[/MODE][:WEIGHT],... (default: %(default)s)",
    )
    group.add_argument(
        "--payloads",
        env_var="LOCUST_PAYLOADS",
        default="",
        help="payload kinds for every model: KIND[:WEIGHT],... of tweet, sentence, abstract, long"
        " (default: a mix per model, see docs/load-testing.md)",
    )
    group.add_argument(
        "--corpus",
        env_var="LOCUST_CORPUS",
        default="",
        help="JSON-lines file of {kind, text} to send instead of the generated texts",
    )
    group.add_argument(
        "--texts-per-call", env_var="LOCUST_TEXTS_PER_CALL", type=int, default=1, help="texts in each call"
    )
    group.add_argument(
        "--wait-min",
        env_var="LOCUST_WAIT_MIN",
        type=float,
        default=DEFAULT_WAIT_MIN_S,
        help="least think time between a user's calls, s (default: %(default)s)",
    )
    group.add_argument(
        "--wait-max",
        env_var="LOCUST_WAIT_MAX",
        type=float,
        default=DEFAULT_WAIT_MAX_S,
        help="most think time, s (default: %(default)s; 0 and 0: back-to-back calls, for capacity tests)",
    )
    group.add_argument(
        "--call-timeout",
        env_var="LOCUST_CALL_TIMEOUT",
        type=float,
        default=DEFAULT_CALL_TIMEOUT_S,
        help="deadline of one call, s",
    )
    group.add_argument(
        "--max-attempts",
        env_var="LOCUST_MAX_ATTEMPTS",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help="attempts per call on UNAVAILABLE or overload, as the client library retries them"
        " (default: %(default)s, the library's; 1: every shed request counts as a failure)",
    )
    group.add_argument("--tls", env_var="LOCUST_TLS", action="store_true", help="gRPC over TLS")
    group.add_argument("--tls-ca", env_var="LOCUST_TLS_CA", default="", help="CA certificate (PEM) for --tls")
    group.add_argument(
        "--tls-server-name", env_var="LOCUST_TLS_SERVER_NAME", default="", help="name to verify the server as"
    )
    group.add_argument(
        "--skip-preflight",
        env_var="LOCUST_SKIP_PREFLIGHT",
        action="store_true",
        help="do not check from the master that the server serves every model before the run",
    )

    shapes = parser.add_argument_group("clinserve load shape")
    shapes.add_argument(
        "--shape",
        env_var="LOCUST_SHAPE",
        default=DEFAULT_SHAPE,
        choices=list(SHAPES),
        help="load shape; --users is its peak, --run-time its length (default: %(default)s)",
    )
    shapes.add_argument(
        "--shape-steps", env_var="LOCUST_SHAPE_STEPS", type=int, default=4, help="steps of the step shape"
    )
    shapes.add_argument(
        "--spike-baseline",
        env_var="LOCUST_SPIKE_BASELINE",
        type=float,
        default=0.25,
        help="users outside the spike, as a fraction of --users",
    )

    slo = parser.add_argument_group("clinserve service-level thresholds (a negative number turns one off)")
    slo.add_argument(
        "--slo-max-failure-ratio",
        env_var="LOCUST_SLO_MAX_FAILURE_RATIO",
        type=float,
        default=DEFAULT_MAX_FAILURE_RATIO,
        help="most failed calls / all calls (default: %(default)s)",
    )
    slo.add_argument(
        "--slo-p95-ms",
        env_var="LOCUST_SLO_P95_MS",
        default=DEFAULT_P95_MS,
        help="p95 limit per model in ms, with overrides: MS[,NAME=MS...] or off (default: %(default)s)",
    )
    slo.add_argument(
        "--slo-min-rps",
        env_var="LOCUST_SLO_MIN_RPS",
        type=float,
        default=DEFAULT_MIN_RPS,
        help="least calls per second over the run (default: %(default)s)",
    )


@dataclass(frozen=True)
class LoadSettings:
    """Everything the users, the shape and the verdict need, validated."""

    workload: Workload
    corpus: Corpus
    texts_per_call: int
    wait_min_s: float
    wait_max_s: float
    channel: ChannelOptions
    retry: RetryPolicy
    thresholds: Thresholds
    preflight: bool

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> LoadSettings:
        """Build and check the settings.

        Raises:
            ValueError: Naming the option that is wrong.
        """
        if options.texts_per_call < 1:
            raise ValueError(f"--texts-per-call must be at least 1, got {options.texts_per_call}")
        if options.wait_min < 0 or options.wait_max < options.wait_min:
            raise ValueError(
                "think time: need 0 <= --wait-min <= --wait-max,"
                f" got {options.wait_min} and {options.wait_max}"
            )
        if options.max_attempts < 1:
            raise ValueError(f"--max-attempts must be at least 1, got {options.max_attempts}")
        if not options.call_timeout > 0:
            raise ValueError(f"--call-timeout must be positive, got {options.call_timeout}")
        tls = None
        if options.tls or options.tls_ca or options.tls_server_name:
            tls = TLSConfig(
                root_ca=Path(options.tls_ca) if options.tls_ca else None,
                server_name=options.tls_server_name or None,
            )
        settings = cls(
            workload=Workload.from_options(options.models, options.payloads or None),
            corpus=read_corpus(Path(options.corpus)) if options.corpus else build_corpus(),
            texts_per_call=options.texts_per_call,
            wait_min_s=options.wait_min,
            wait_max_s=options.wait_max,
            channel=ChannelOptions(timeout_s=options.call_timeout, tls=tls),
            retry=RetryPolicy(max_attempts=options.max_attempts),
            thresholds=Thresholds.from_options(
                options.slo_max_failure_ratio, options.slo_p95_ms, options.slo_min_rps
            ),
            preflight=not options.skip_preflight,
        )
        settings.check_corpus()
        return settings

    def check_corpus(self) -> None:
        """Every payload kind the workload draws must be in the corpus.

        Raises:
            ValueError: Naming the kind and the model that needs it.
        """
        for target in self.workload.targets:
            for kind in self.workload.payloads[target.model]:
                if kind not in self.corpus.texts:
                    raise ValueError(
                        f"{target.name} sends {kind!r} payloads but the corpus has only"
                        f" {', '.join(self.corpus.kinds)}; pass --payloads"
                    )


def shape_from_options(options: argparse.Namespace) -> Shape:
    """The load shape of ``--shape`` with Locust's ``--users``, ``--spawn-rate`` and ``--run-time``."""
    return make_shape(
        options.shape,
        ShapeSettings(
            users=options.num_users if options.num_users is not None else 1,
            spawn_rate=options.spawn_rate if options.spawn_rate is not None else 1.0,
            run_time_s=float(options.run_time) if options.run_time else None,
            steps=options.shape_steps,
            spike_baseline=options.spike_baseline,
        ),
    )
