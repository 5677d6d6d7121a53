"""ONNX Runtime session options of the ``onnxruntime`` stand-in backend.

Kept apart from ``onnx_backend`` (which needs Triton's stub to import) so that in-process
measurements (``benchmarks/limit.py``) run the model with exactly the served settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import onnxruntime as ort

#: The stand-in's own parameter, which no generated config carries (the production image's native
#: backend would ignore it): ``"false"`` turns core sharing off for one model. Only the
#: benchmark's variants that measure without sharing write it (``benchmarks.repository``).
SHARE_CORES = "share_cores"


def session_options(parameters: Mapping[str, str]) -> ort.SessionOptions:
    """Session options from a model config's parameters (the native backend's names).

    ``intra_op_thread_count`` and ``inter_op_thread_count`` default to 0 (ONNX Runtime picks
    one thread per core).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(parameters.get("intra_op_thread_count", "0"))
    options.inter_op_num_threads = int(parameters.get("inter_op_thread_count", "0"))
    # Idle spinning threads would steal the few cores from the tokenizer and the other models.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a container's cpuset narrows)."""
    return len(os.sched_getaffinity(0))


def shared_thread_count(parameters: Mapping[str, str], instances: int) -> int:
    """Threads of a run beside other instances' runs, or 0 when no second session is worth having.

    The stand-in shares the cores by default; ``share_cores: "false"`` among a config's
    parameters turns it off. An instance's share of the cores (at least one) is returned when
    that is fewer threads than a run alone gets; 0 means sharing off, one instance, or one
    thread already.

    Raises:
        ValueError: When ``share_cores`` is neither ``"true"`` nor ``"false"``.
    """
    share = parameters.get(SHARE_CORES, "true")
    if share not in ("true", "false"):
        raise ValueError(f'parameter {SHARE_CORES} must be "true" or "false", not {share!r}')
    if share == "false" or instances < 2:
        return 0
    cores = available_cores()
    alone = int(parameters.get("intra_op_thread_count", "0")) or cores
    shared = max(1, cores // instances)
    return shared if shared < alone else 0
