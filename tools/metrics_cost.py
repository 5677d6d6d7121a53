"""What the Python steps' metric reports cost inside a stub (docs/metrics.md, "What the metrics cost").

    .venv/bin/python -m tools.metrics_cost              # its own server on a throw-away repository
    .venv/bin/python -m tools.metrics_cost --rounds 500 --calls 20

Every metric update is a message from the stub to the Triton process, so its cost depends on
the host, and on how busy it is, more than on Python. The tool starts a server with one probe
model that builds the ``StepMetrics`` the tokenizer builds and, in each call, times ``--rounds``
``report()`` calls of a typical tokenizer execution: one between two reports of the counters
(1 message: the duration), one that sends the counters too (5 messages: duration, texts,
sequences, real and padding tokens; every execution sent them before the counters were held
for ``REPORT_INTERVAL_S``), and one bare ``increment``. It prints the median over ``--calls`` calls (the first
three are warm-up) and the host's load average, since a loaded host makes each message dearer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

PROBE = "metrics_cost"
PROBE_CONFIG = f"""name: "{PROBE}"
backend: "python"
max_batch_size: 0
input {{ name: "ROUNDS" data_type: TYPE_INT32 dims: 1 }}
output {{ name: "MICROSECONDS" data_type: TYPE_FP64 dims: 3 }}
instance_group {{ count: 1 kind: KIND_CPU }}
"""
PROBE_MODEL_PY = '''"""Times StepMetrics.report() inside a stub (tools/metrics_cost.py)."""

import contextlib
import time

with contextlib.suppress(ImportError):
    import clinserve_site_path  # noqa: F401  (the stub ignores PYTHONPATH: docs/runtime.md)

import numpy as np
import triton_python_backend_utils as pb_utils

from clinserve_preprocess.step_metrics import (
    TOKENIZER_ERRORS,
    ErrorTally,
    StepMetrics,
    WorkTally,
)


class TritonPythonModel:
    def initialize(self, args):
        # The steps' own StepMetrics: one that holds its counters (an execution between two
        # reports) and one that sends them at every execution (interval 0).
        self.held = StepMetrics(
            pb_utils, "metrics_cost", "tokenizer", TOKENIZER_ERRORS, work=True, interval_s=float("inf")
        )
        self.sent = StepMetrics(
            pb_utils, "metrics_cost", "postprocess", TOKENIZER_ERRORS, work=True, interval_s=0.0
        )
        # A family must outlive its metrics (the stub refuses updates of a metric whose family is gone).
        self.family = pb_utils.MetricFamily(
            name="clinserve_metrics_cost_probe_total", description="probe", kind=pb_utils.MetricFamily.COUNTER
        )
        self.counter = self.family.Metric(labels={"model": "metrics_cost"})

    def execute(self, requests):
        responses = []
        for request in requests:
            rounds = int(pb_utils.get_input_tensor_by_name(request, "ROUNDS").as_numpy()[0])
            work = WorkTally(texts=8, sequences=8, real_tokens=100, padding_tokens=28)
            errors = ErrorTally()
            figures = []
            for report in (
                lambda: self.held.report(0.001, errors, work),
                lambda: self.sent.report(0.001, errors, work),
                lambda: self.counter.increment(1),
            ):
                started = time.perf_counter()
                for _ in range(rounds):
                    report()
                figures.append((time.perf_counter() - started) / rounds * 1e6)
            out = np.array(figures, dtype=np.float64)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("MICROSECONDS", out)]))
        return responses
'''
FIGURES = (
    "a tokenizer execution between two reports (1 message)",
    "a tokenizer execution that reports its counters (5 messages)",
    "one increment()",
)
WARM_UP = 3


def measure(url: str, rounds: int, calls: int) -> list[list[float]]:
    """``calls`` rows of the probe's three figures (µs), warm-up calls left out."""
    rows = []
    with grpcclient.InferenceServerClient(url) as client:
        data = grpcclient.InferInput("ROUNDS", [1], "INT32")
        data.set_data_from_numpy(np.array([rounds], dtype=np.int32))
        for _ in range(calls + WARM_UP):
            rows.append([float(v) for v in client.infer(PROBE, [data]).as_numpy("MICROSECONDS")])
    return rows[WARM_UP:]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.metrics_cost", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=200, help="reports timed per call")
    parser.add_argument("--calls", type=int, default=12, help="calls, after 3 warm-up calls")
    args = parser.parse_args(argv)
    from clinserve_runtime.triton import TritonServer, loopback_options

    with tempfile.TemporaryDirectory(prefix="metrics-cost-") as folder:
        root = Path(folder)
        (root / PROBE / "1").mkdir(parents=True)
        (root / PROBE / "config.pbtxt").write_text(PROBE_CONFIG)
        (root / PROBE / "1" / "model.py").write_text(PROBE_MODEL_PY)
        options = loopback_options(root)
        print(f"starting a server with the {PROBE} probe ...", file=sys.stderr, flush=True)
        with TritonServer(options, log_path=root / "triton.log") as server:
            server.wait_until_ready(300)
            rows = measure(f"127.0.0.1:{options.grpc_port}", args.rounds, args.calls)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"host: {os.cpu_count()} cores, load average {load}")
    for index, name in enumerate(FIGURES):
        values = [row[index] for row in rows]
        print(
            f"{name}: median {statistics.median(values):.1f} µs"
            f" (min {min(values):.1f}, max {max(values):.1f}; {len(values)} calls x {args.rounds})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
