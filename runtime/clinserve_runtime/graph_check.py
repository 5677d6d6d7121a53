"""Check a Triton model config against an ONNX graph, the way the native backend would refuse it.

Kept apart from the backend module so it can be tested without a Triton stub process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def config_tensors(config: dict[str, Any], key: str) -> list[TensorSpec]:
    """The ``input`` or ``output`` tensors of a parsed model config."""
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
