"""The floor of the serving path: an ensemble of three Python steps that do nothing.

It has the served ensembles' shape (the public ``TEXT [N]`` reshaped to ``[N, 1]``, batched
steps with dynamic batching, the shipped instance counts and queue policies), but its steps only
hand their input on and the last one writes a constant JSON document per text. Driven by the
benchmark's load generator at each concurrency, it shows what ``tritonserver`` and three
Python-backend stubs cost per text with no work in them: the part of the served path's CPU per
text that no code of ours can remove on this runtime (docs/benchmarks.md, "Where the time goes").

    .venv/bin/python -m tools.ensemble_floor --concurrency 1 32
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from benchmarks.loadgen import TargetSpec, level_record, run_levels
from benchmarks.triton_stats import window_stages
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import TritonServer, loopback_options
from lab.corpus import generate_corpus

ENSEMBLE = "floor"
STEPS = ("floor_first", "floor_middle", "floor_last")
# A step hands its one input on under the next name; the last writes the documents.
NAMES = ("TEXT", "A", "B", "RESULT")

STEP_MODEL = '''"""A step that does nothing: its input handed on (the last step: one document per row)."""

import contextlib

with contextlib.suppress(ImportError):
    import clinserve_site_path  # noqa: F401

import numpy as np
import triton_python_backend_utils as pb_utils

DOCUMENT = b'{{"model": "{ensemble}"}}'


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "{source}").as_numpy()
            if {last}:
                rows = np.array([DOCUMENT] * rows.shape[0], dtype=np.object_)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("{target}", rows)]))
        return responses
'''


def step_config(name: str, source: str, target: str, settings: ServingSettings, *, last: bool) -> str:
    """A step's config: batched like the served steps, one input, one output."""
    policy = ""
    if settings.python_max_queue_size:
        policy = (
            f" default_queue_policy {{ max_queue_size: {settings.python_max_queue_size}"
            f" default_timeout_microseconds: {settings.queue_timeout_us} timeout_action: REJECT"
            " allow_timeout_override: true }"
        )
    output_dims = "-1" if last else "1"
    return (
        f'name: "{name}"\nbackend: "python"\nmax_batch_size: 1024\n'
        f'input {{ name: "{source}" data_type: TYPE_STRING dims: 1 }}\n'
        f'output {{ name: "{target}" data_type: TYPE_STRING dims: {output_dims} }}\n'
        f"instance_group {{ count: {settings.python_instances} kind: KIND_CPU }}\n"
        f"dynamic_batching {{{policy} }}\n"
    )


def ensemble_config() -> str:
    """The ensemble: ``TEXT [N]`` in (reshaped for the first step), ``RESULT [N]`` out."""
    steps = "".join(
        f'step {{ model_name: "{step}" model_version: -1 input_map {{ key: "{source}" value: "{source}" }}'
        f' output_map {{ key: "{target}" value: "{target}" }} }}\n'
        for step, source, target in zip(STEPS, NAMES[:-1], NAMES[1:], strict=True)
    )
    return (
        f'name: "{ENSEMBLE}"\nplatform: "ensemble"\nmax_batch_size: 0\n'
        'input { name: "TEXT" data_type: TYPE_STRING dims: -1 reshape { shape: [-1, 1] } }\n'
        'output { name: "RESULT" data_type: TYPE_STRING dims: -1 }\n'
        f"ensemble_scheduling {{\n{steps}}}\n"
    )


def write_repository(root: Path, settings: ServingSettings) -> Path:
    """The floor ensemble and its three steps under ``root``."""
    for index, (step, source, target) in enumerate(zip(STEPS, NAMES[:-1], NAMES[1:], strict=True)):
        last = index == len(STEPS) - 1
        (root / step / "1").mkdir(parents=True)
        (root / step / "config.pbtxt").write_text(step_config(step, source, target, settings, last=last))
        code = STEP_MODEL.format(ensemble=ENSEMBLE, source=source, target=target, last=last)
        (root / step / "1" / "model.py").write_text(code)
    (root / ENSEMBLE / "1").mkdir(parents=True)
    (root / ENSEMBLE / "config.pbtxt").write_text(ensemble_config())
    return root


def main(argv: list[str] | None = None) -> int:
    """Start the floor ensemble, load it, print texts/s and CPU per text by process."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--texts-per-request", type=int, default=1)
    args = parser.parse_args(argv)
    texts = [t.text for t in generate_corpus(160, seed=0)]
    with tempfile.TemporaryDirectory(prefix="clinserve-floor-") as scratch:
        repository = write_repository(Path(scratch) / "repository", ServingSettings())
        options = loopback_options(repository)
        with TritonServer(options, log_path=Path(scratch) / "triton.log") as server:
            server.wait_until_ready(timeout_s=120)
            spec = TargetSpec(ENSEMBLE, f"grpc://{server.grpc_url}/{ENSEMBLE}", options.admin_key, server.pid)
            levels = asyncio.run(
                run_levels(
                    [spec],
                    texts,
                    args.concurrency,
                    warmup_s=args.warmup,
                    duration_s=args.duration,
                    texts_per_request=args.texts_per_request,
                )
            )[ENSEMBLE]
    for level in levels:
        record = level_record(level)
        summary = record["summary"]
        per_text = record.get("process_cpu_ms_per_text", {})
        stages = window_stages(level.stats_before, level.stats_after, summary["duration_s"], list(STEPS))
        outside_middle = sum(ms for label, ms in per_text.items() if label != STEPS[1])
        print(
            f"c={level.concurrency:>3}: {summary['throughput']:7.1f} texts/s, p50 {summary['p50_ms']:.2f} ms;"
            f" CPU ms per text {sum(per_text.values()):.2f} (all but the middle step {outside_middle:.2f}): "
            + ", ".join(f"{label} {ms:.2f}" for label, ms in sorted(per_text.items(), key=lambda i: -i[1]))
            + "; requests per execution "
            + ", ".join(f"{s.model} {s.requests / max(s.executions, 1):.2f}" for s in stages)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
