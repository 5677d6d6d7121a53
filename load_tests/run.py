"""``make load-test``: one bounded, headless Locust run with its reports and verdict.

    python -m load_tests.run                                  # local server, 60 s, 4 users
    python -m load_tests.run --host dns:///svc.ns.svc.cluster.local:8001 --users 64 --run-time 10m
    python -m load_tests.run --shape spike -- --models "biomarker:1" --slo-p95-ms 800

Without ``--host`` (or ``LOCUST_HOST``) it starts a Triton server on free loopback ports with
the repository built by ``make repository`` and stops it afterwards. It writes
``<output>/clinserve_stats.csv`` (and the other Locust CSV files), ``<output>/report.html``,
``<output>/clinserve_slo.json`` and, for a local server, ``<output>/triton.log``. Arguments after
``--`` (and any this script does not know) go to Locust unchanged. The exit code is Locust's:
0 when every service-level threshold held, 1 when one broke, 2 when the setup failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from load_tests.shapes import DEFAULT_SHAPE, SHAPES
from load_tests.slo import Check, format_checks

__all__ = ["DEFAULT_OUTPUT", "build_command", "main", "parse_timespan"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "load-test"
DEFAULT_REPOSITORY = PROJECT_ROOT / "model_repository"
CSV_PREFIX = "clinserve"
HTML_REPORT = "report.html"
#: Time Locust gets past --run-time to stop its users and write the reports.
SHUTDOWN_MARGIN_S = 120
SERVER_READY_TIMEOUT_S = 300.0
_TIMESPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_timespan(text: str) -> int:
    """Seconds of a Locust time span: ``90``, ``90s``, ``2m``, ``1h30m``.

    Raises:
        ValueError: For anything else, or zero.
    """
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        match = _TIMESPAN.match(value)
        if not value or match is None:
            raise ValueError(f"--run-time {text!r}: expected seconds or a span such as 90s, 5m, 1h30m")
        hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(f"--run-time {text!r}: the run needs a positive duration")
    return seconds


def build_command(
    host: str,
    *,
    users: int,
    spawn_rate: float,
    run_time_s: int,
    shape: str,
    output: Path,
    extra: Sequence[str] = (),
) -> list[str]:
    """The headless Locust command line of one run."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--run-time",
        f"{run_time_s}s",
        "--shape",
        shape,
        "--csv",
        str(output / CSV_PREFIX),
        "--html",
        str(output / HTML_REPORT),
        *extra,
    ]


@contextmanager
def local_server(repository: Path, output: Path) -> Iterator[str]:
    """A Triton server with ``repository`` on free loopback ports; yields its gRPC address."""
    from clinserve_runtime.triton import TritonServer, loopback_options

    if not repository.is_dir():
        raise FileNotFoundError(f"model repository {repository} does not exist: run `make repository` first")
    options = loopback_options(repository)
    log_path = output / "triton.log"
    log_path.unlink(missing_ok=True)
    server = TritonServer(options, log_path=log_path)
    print(f"starting a local Triton server with {repository} (log: {log_path})", flush=True)
    server.start()
    try:
        server.wait_until_ready(timeout_s=SERVER_READY_TIMEOUT_S)
        print(f"server ready: gRPC {server.grpc_url}", flush=True)
        yield server.grpc_url
    finally:
        server.stop()


def _parser() -> argparse.ArgumentParser:
    # No abbreviations: unknown options go to Locust, and a prefix must not be taken for ours.
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("LOCUST_HOST", ""),
        help="gRPC target: host:port, a comma-separated list or dns:///name:port"
        " (default: $LOCUST_HOST, else a local server)",
    )
    parser.add_argument("--users", type=int, default=4, help="(peak) users (default: %(default)s)")
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    parser.add_argument(
        "--run-time", default="60s", help="duration: 90, 90s, 5m, 1h30m (default: %(default)s)"
    )
    parser.add_argument(
        "--shape", default=os.environ.get("LOCUST_SHAPE", DEFAULT_SHAPE), choices=list(SHAPES)
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="report folder (default: %(default)s)"
    )
    parser.add_argument(
        "--model-repository",
        type=Path,
        default=DEFAULT_REPOSITORY,
        help="repository of the local server (default: %(default)s)",
    )
    return parser


def verdict_of_hung_run(verdict_path: Path, waited_s: float) -> int:
    """Exit code of a Locust process that had to be killed after ``waited_s`` seconds.

    With gRPC under gevent, Locust's teardown after a finished run can hang for good (twice in
    four clean-clone ``make test`` runs on 2026-12-06, after the final tables; the in-process
    watchdog of ``load_tests/exit_watchdog.py`` did not fire, so the hang holds the interpreter).
    The verdict file is written before that teardown (``_judge`` on Locust's ``quitting`` event):
    when it is there, the run was measured and judged, and its verdict is the exit code; without
    it the run did not finish and fails.
    """
    try:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(f"error: Locust did not finish within {waited_s:g}s and wrote no verdict", file=sys.stderr)
        return 1
    passed = bool(verdict.get("passed"))
    print(
        f"warning: Locust hung after its run and was killed after {waited_s:g}s (a gRPC/gevent teardown"
        f" hang, docs/load-testing.md); its verdict ({verdict_path}): {'passed' if passed else 'failed'}",
        file=sys.stderr,
    )
    # The verdict as Locust prints it at the end, which the hang may have cut off.
    print(f"\nService-level thresholds: {verdict.get('thresholds', '')}")
    print(format_checks([Check(**check) for check in verdict.get("checks", [])]), flush=True)
    return 0 if passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one load test; the exit code says whether the service-level thresholds held."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    extra = [item for item in extra if item != "--"]
    try:
        run_time_s = parse_timespan(args.run_time)
    except ValueError as error:
        parser.error(str(error))
    args.output.mkdir(parents=True, exist_ok=True)

    def run(host: str) -> int:
        command = build_command(
            host,
            users=args.users,
            spawn_rate=args.spawn_rate,
            run_time_s=run_time_s,
            shape=args.shape,
            output=args.output,
            extra=extra,
        )
        verdict_path = args.output / f"{CSV_PREFIX}_slo.json"
        verdict_path.unlink(missing_ok=True)  # only this run's verdict counts below
        try:
            done = subprocess.run(
                command, check=False, timeout=run_time_s + SHUTDOWN_MARGIN_S, cwd=PROJECT_ROOT
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed it
            return verdict_of_hung_run(verdict_path, run_time_s + SHUTDOWN_MARGIN_S)
        print(
            f"\nreports: {args.output / HTML_REPORT}, {args.output / CSV_PREFIX}_stats.csv,"
            f" {args.output / CSV_PREFIX}_slo.json (exit code {done.returncode})",
            flush=True,
        )
        return done.returncode

    if args.host:
        return run(args.host)
    try:
        with local_server(args.model_repository, args.output) as grpc_url:
            return run(grpc_url)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
