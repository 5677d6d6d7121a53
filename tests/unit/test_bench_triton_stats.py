"""Per-stage timings from two Triton statistics snapshots (the JSON form of the gRPC message)."""

from __future__ import annotations

import pytest

from benchmarks.triton_stats import model_stages, window_stages


def snapshot(name, *, success, executions, inferences, queue_ns, infer_ns, batches):
    # Counters are strings in the JSON mapping of protobuf int64, as tritonclient returns them.
    return {
        "name": name,
        "version": "1",
        "inference_count": str(inferences),
        "execution_count": str(executions),
        "inference_stats": {
            "success": {"count": str(success), "ns": str(success * 10_000_000)},
            "queue": {"count": str(success), "ns": str(queue_ns)},
            "compute_input": {"count": str(success), "ns": "0"},
            "compute_infer": {"count": str(success), "ns": str(infer_ns)},
            "compute_output": {"count": str(success), "ns": "0"},
        },
        "batch_stats": [
            {"batch_size": str(size), "compute_infer": {"count": str(count), "ns": str(ns)}}
            for size, count, ns in batches
        ],
    }


def test_stages_are_the_difference_between_snapshots_per_request_and_per_execution():
    before = snapshot("m_onnx", success=10, executions=10, inferences=10, queue_ns=0, infer_ns=0, batches=[])
    after = snapshot(
        "m_onnx",
        success=30,
        executions=15,
        inferences=30,
        queue_ns=40_000_000,
        infer_ns=200_000_000,
        batches=[(2, 5, 500_000_000)],
    )
    stages = model_stages(before, after, window_s=2.0)
    assert stages.requests == 20
    assert stages.executions == 5
    assert stages.mean_batch == pytest.approx(4.0)
    assert stages.queue_ms == pytest.approx(2.0)
    assert stages.compute_infer_ms == pytest.approx(10.0)
    assert stages.total_ms == pytest.approx(10.0)
    assert stages.busy == pytest.approx(0.25)  # 0.5 s of executions in a 2 s window


def test_missing_counters_read_as_zero_and_idle_models_are_left_out():
    idle = {"name": "idle", "inference_stats": {}}
    busy_before = snapshot("busy", success=0, executions=0, inferences=0, queue_ns=0, infer_ns=0, batches=[])
    busy_after = snapshot("busy", success=2, executions=2, inferences=2, queue_ns=0, infer_ns=0, batches=[])
    stages = window_stages(
        {"model_stats": [idle, busy_before]},
        {"model_stats": [idle, busy_after]},
        1.0,
        ["idle", "busy", "absent"],
    )
    assert [s.model for s in stages] == ["busy"]


def test_no_snapshot_gives_no_stages():
    assert window_stages(None, {"model_stats": []}, 1.0, ["m"]) == []
