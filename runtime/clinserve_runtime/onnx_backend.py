"""A Python-based Triton backend named ``onnxruntime``: the CPU development stand-in.

The ``nvidia-pytriton`` wheel ships Triton's server and Python backend but not the native
ONNX Runtime backend. Triton 23.10+ serves every model whose config names backend ``X`` with
``<backend-dir>/X/model.py`` when no ``libtriton_X.so`` exists, so this module lets the very
``config.pbtxt`` the NGC image's native backend loads run here unchanged.

Where it matters it behaves like the native backend:

- it loads ``<version>/<default_model_filename>`` (``model.onnx`` by default);
- it checks every config input and output against the graph (name, type, rank, fixed dims)
  and refuses to load on any mismatch, with a message naming both sides;
- it runs the whole batch Triton's dynamic batcher hands it as **one** ONNX Runtime call and
  splits the outputs back per request;
- it reads the native backend's thread parameters (``intra_op_thread_count``,
  ``inter_op_thread_count``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

# ONNX Runtime's tensor type strings to Triton's config data types.
ORT_TO_TRITON = {
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "tensor(double)": "TYPE_FP64",
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int8)": "TYPE_INT8",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(bool)": "TYPE_BOOL",
}


class ConfigGraphMismatch(ValueError):
    """config.pbtxt and the ONNX graph disagree; the model must not load."""


@dataclass(frozen=True)
class TensorSpec:
    """A tensor as config.pbtxt declares it (dims without the batch dimension)."""

    name: str
    data_type: str
    dims: tuple[int, ...]


def _config_tensors(config: dict[str, Any], key: str) -> list[TensorSpec]:
    return [
        TensorSpec(t["name"], t["data_type"], tuple(int(d) for d in t["dims"])) for t in config.get(key, [])
    ]


def check_against_graph(
    model_name: str,
    declared: Sequence[TensorSpec],
    graph: Sequence[Any],
    kind: str,
    batched: bool,
) -> None:
    """Compare config tensors with ``session.get_inputs()``/``get_outputs()``.

    Raises:
        ConfigGraphMismatch: Naming the tensor and the two disagreeing facts.
    """
    graph_by_name = {node.name: node for node in graph}
    declared_names = {t.name for t in declared}
    if kind == "input":
        undeclared = sorted(set(graph_by_name) - declared_names)
        if undeclared:
            raise ConfigGraphMismatch(
                f"{model_name}: the graph needs inputs {undeclared} that config.pbtxt does not declare"
            )
    for spec in declared:
        node = graph_by_name.get(spec.name)
        if node is None:
            raise ConfigGraphMismatch(
                f"{model_name}: config {kind} {spec.name!r} is not in the graph, whose {kind}s are"
                f" {sorted(graph_by_name)}"
            )
        graph_type = ORT_TO_TRITON.get(node.type, node.type)
        if graph_type != spec.data_type:
            raise ConfigGraphMismatch(
                f"{model_name}: {kind} {spec.name!r} is {spec.data_type} in config.pbtxt but"
                f" {graph_type} in the graph"
            )
        graph_dims = list(node.shape)
        if batched:
            if not graph_dims:
                raise ConfigGraphMismatch(
                    f"{model_name}: {kind} {spec.name!r} is a scalar in the graph but"
                    " max_batch_size > 0 needs a batch dimension"
                )
            graph_dims = graph_dims[1:]
        if len(graph_dims) != len(spec.dims):
            raise ConfigGraphMismatch(
                f"{model_name}: {kind} {spec.name!r} has dims {list(spec.dims)} in config.pbtxt"
                f" but {graph_dims} in the graph (batch dimension excluded)"
            )
        for declared_dim, graph_dim in zip(spec.dims, graph_dims, strict=True):
            fixed = isinstance(graph_dim, int) and graph_dim > 0
            if fixed and declared_dim not in (-1, graph_dim):
                raise ConfigGraphMismatch(
                    f"{model_name}: {kind} {spec.name!r} has dims {list(spec.dims)} in"
                    f" config.pbtxt but {graph_dims} in the graph"
                )


def _session_options(parameters: dict[str, str]) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(parameters.get("intra_op_thread_count", "0"))
    options.inter_op_num_threads = int(parameters.get("inter_op_thread_count", "0"))
    # Idle spinning threads would steal the few cores from the tokenizer and the other models.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class TritonPythonModel:
    """ONNX Runtime execution of one model directory."""

    def initialize(self, args: dict[str, str]) -> None:
        """Load the graph and refuse to start on any config/graph mismatch."""
        config = json.loads(args["model_config"])
        self.model_name = args["model_name"]
        self.batched = int(config.get("max_batch_size", 0)) > 0
        parameters = {k: v.get("string_value", "") for k, v in (config.get("parameters") or {}).items()}
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{self.model_name}: {path} is missing; build the repository (make repository)"
                " or import weights (clinserve import)"
            )
        self.session = ort.InferenceSession(
            path, sess_options=_session_options(parameters), providers=["CPUExecutionProvider"]
        )
        self.inputs = _config_tensors(config, "input")
        self.outputs = _config_tensors(config, "output")
        check_against_graph(self.model_name, self.inputs, self.session.get_inputs(), "input", self.batched)
        check_against_graph(self.model_name, self.outputs, self.session.get_outputs(), "output", self.batched)
        self.output_names = [t.name for t in self.outputs]

    def execute(self, requests: list[Any]) -> list[Any]:
        """Run all requests of this call as one ONNX Runtime batch."""
        feeds_per_request = [
            {spec.name: pb_utils.get_input_tensor_by_name(r, spec.name).as_numpy() for spec in self.inputs}
            for r in requests
        ]
        if not self.batched or len(requests) == 1:
            return [self._respond(self._run(feeds)) for feeds in feeds_per_request]
        # The dynamic batcher only merges requests whose non-batch shapes are equal, so a plain
        # concatenation along the batch axis is one valid ORT input.
        sizes = [next(iter(feeds.values())).shape[0] for feeds in feeds_per_request]
        merged = {
            spec.name: np.concatenate([feeds[spec.name] for feeds in feeds_per_request])
            for spec in self.inputs
        }
        outputs = self._run(merged)
        bounds = np.cumsum(sizes)[:-1]
        split = {name: np.split(value, bounds) for name, value in outputs.items()}
        return [
            self._respond({name: parts[i] for name, parts in split.items()}) for i in range(len(requests))
        ]

    def _run(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        values = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, values, strict=True))

    @staticmethod
    def _respond(outputs: dict[str, npt.NDArray[Any]]) -> Any:
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()]
        )
