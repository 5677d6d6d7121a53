"""Where the time goes inside Triton: per-stage timings from the statistics extension.

The load generator snapshots ``get_inference_statistics`` (JSON form of the gRPC message) at
the start and the end of each measurement window; the difference, per model, gives:

- requests, executions and the mean batch an execution ran (the dynamic batcher's work);
- per request: queue, compute input / infer / output time, and the model's total;
- busy: the share of the window the model's instances spent executing (from ``batch_stats``,
  which count executions, not requests). Near 1 (× instances) means that step saturates.

Counters in the JSON form are strings (protobuf's int64 mapping); missing ones are zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

STAGES = ("queue", "compute_input", "compute_infer", "compute_output")


def _count(node: Mapping[str, Any] | None, key: str) -> int:
    if not node:
        return 0
    return int((node.get(key) or {}).get("count", 0))


def _ns(node: Mapping[str, Any] | None, key: str) -> int:
    if not node:
        return 0
    return int((node.get(key) or {}).get("ns", 0))


def _by_name(snapshot: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {m["name"]: m for m in (snapshot or {}).get("model_stats", [])}


@dataclass(frozen=True)
class ModelStages:
    """One model's activity during a window."""

    model: str
    requests: int
    executions: int
    inferences: int
    mean_batch: float
    queue_ms: float
    compute_input_ms: float
    compute_infer_ms: float
    compute_output_ms: float
    total_ms: float
    busy: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def model_stages(before: Mapping[str, Any], after: Mapping[str, Any], window_s: float) -> ModelStages:
    """The difference of one model's statistics between two snapshots."""
    b_stats, a_stats = before.get("inference_stats", {}), after.get("inference_stats", {})
    requests = _count(a_stats, "success") - _count(b_stats, "success")
    executions = int(after.get("execution_count", 0)) - int(before.get("execution_count", 0))
    inferences = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))

    def per_request(stage: str) -> float:
        delta = _ns(a_stats, stage) - _ns(b_stats, stage)
        return delta / requests / 1e6 if requests else 0.0

    def execution_ns(batches: list[Mapping[str, Any]]) -> int:
        return sum(_ns(b, stage) for b in batches for stage in STAGES[1:])

    busy_ns = execution_ns(after.get("batch_stats", [])) - execution_ns(before.get("batch_stats", []))
    return ModelStages(
        model=str(after.get("name", "")),
        requests=requests,
        executions=executions,
        inferences=inferences,
        mean_batch=inferences / executions if executions else 0.0,
        queue_ms=per_request("queue"),
        compute_input_ms=per_request("compute_input"),
        compute_infer_ms=per_request("compute_infer"),
        compute_output_ms=per_request("compute_output"),
        total_ms=per_request("success"),
        busy=busy_ns / 1e9 / window_s if window_s > 0 else 0.0,
    )


def window_stages(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, window_s: float, models: list[str]
) -> list[ModelStages]:
    """Stages of ``models`` (in that order) between two snapshots; models with no traffic are left out."""
    if not before or not after:
        return []
    old, new = _by_name(before), _by_name(after)
    stages = [model_stages(old.get(name, {}), new[name], window_s) for name in models if name in new]
    return [s for s in stages if s.requests > 0]
