"""ONNX Runtime session options of the ``onnxruntime`` stand-in backend.

Kept apart from ``onnx_backend`` (which needs Triton's stub to import) so that in-process
measurements (``benchmarks/limit.py``) run the model with exactly the served settings.
"""

from __future__ import annotations

from collections.abc import Mapping

import onnxruntime as ort


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
