"""Run the reliability scenarios and print the table (``make reliability``).

    python -m reliability                       # every scenario, full durations (about 9 min)
    python -m reliability --profile short       # the short version (about 2 min)
    python -m reliability --only overload soak  # some scenarios
    python -m reliability --baseline            # also the overload baseline without queue policy

Exit status 0 when every scenario passes, 1 when one fails, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import TritonRuntimeError, triton_home
from reliability.context import PROFILES, Context
from reliability.report import ScenarioResult, render_details, render_table, to_json
from reliability.scenarios import burst, heavy, overload, sigkill, sigterm, soak, stub_kill
from reliability.servers import DEFAULT_WORKDIR, build_repository, close_all

ScenarioFunction = Callable[[Context], Coroutine[Any, Any, ScenarioResult]]
SCENARIOS: dict[str, ScenarioFunction] = {
    burst.NAME: burst.run,
    overload.NAME: overload.run,
    heavy.NAME: heavy.run,
    sigterm.NAME: sigterm.run,
    sigkill.NAME: sigkill.run,
    stub_kill.NAME: stub_kill.run,
    soak.NAME: soak.run,
}
BASELINES: dict[str, ScenarioFunction] = {overload.BASELINE_NAME: overload.run_baseline}


def serving_settings(
    queue_timeout_ms: float | None,
    python_queue_size: int | None,
    onnx_queue_size: int | None,
    onnx_instances: int | None = None,
    python_instances: int | None = None,
) -> ServingSettings:
    """The shipped settings, with the queue policy overridden where asked."""
    settings = ServingSettings()
    if queue_timeout_ms is not None:
        settings = replace(settings, queue_timeout_us=round(queue_timeout_ms * 1000))
    if python_queue_size is not None:
        settings = replace(settings, python_max_queue_size=python_queue_size)
    if onnx_queue_size is not None:
        settings = replace(settings, max_queue_size=onnx_queue_size)
    if onnx_instances is not None:
        settings = replace(settings, onnx_instances=onnx_instances)
    if python_instances is not None:
        settings = replace(settings, python_instances=python_instances)
    return settings


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM (from ``timeout``, a CI runner) ends the run like Ctrl-C: servers are stopped."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_scenarios(
    context: Context, names: Sequence[str], *, log: Callable[[str], None]
) -> list[ScenarioResult]:
    """Run the named scenarios one after the other; a scenario that crashes is a failed row."""
    functions = {**SCENARIOS, **BASELINES}
    results = []
    for name in names:
        log(f"[{time.strftime('%H:%M:%S')}] {name} ...")
        started = time.monotonic()
        result: ScenarioResult
        try:
            result = asyncio.run(functions[name](context))
        except Exception as exc:  # reported as the scenario's failure; the run goes on
            result = ScenarioResult(name)
            result.check("the scenario ran to the end", False, f"{type(exc).__name__}: {exc}")
        result.duration_s = time.monotonic() - started
        log(f"[{time.strftime('%H:%M:%S')}] {name}: {result.verdict} in {result.duration_s:.0f} s")
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m reliability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full", help="durations")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--baseline", action="store_true", help=f"also run {', '.join(BASELINES)}")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="repository, logs, report")
    parser.add_argument("--queue-timeout-ms", type=float, help="override the queues' timeout")
    parser.add_argument("--python-queue-size", type=int, help="override the Python steps' queue size")
    parser.add_argument("--onnx-queue-size", type=int, help="override the ONNX models' queue size")
    parser.add_argument("--onnx-instances", type=int, help="override the ONNX models' instance count")
    parser.add_argument("--python-instances", type=int, help="override the Python steps' instance count")
    args = parser.parse_args(argv)

    names = list(args.only or SCENARIOS)
    if args.baseline and not args.only:
        names += list(BASELINES)
    unknown = [n for n in names if n not in SCENARIOS and n not in BASELINES]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join([*SCENARIOS, *BASELINES])}"
        )
    try:
        triton_home()
    except TritonRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    settings = serving_settings(
        args.queue_timeout_ms,
        args.python_queue_size,
        args.onnx_queue_size,
        args.onnx_instances,
        args.python_instances,
    )
    workdir = args.workdir.resolve()
    context = Context(
        profile=PROFILES[args.profile],
        repository=build_repository(workdir, settings),
        settings=settings,
        log_dir=workdir / "logs",
        workdir=workdir,
    )
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        results = run_scenarios(context, names, log=log)
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'SIGINT'}): stopping the servers")
        return 130
    finally:
        close_all()
    report = workdir / "report.json"
    report.write_text(
        to_json(results, profile=args.profile, total_s=round(time.monotonic() - started)), encoding="utf-8"
    )
    print(render_table(results))
    print()
    print(render_details(results))
    print(f"\n{len(results)} scenario(s) in {time.monotonic() - started:.0f} s; report: {report}")
    return 0 if all(r.passed for r in results) else 1
