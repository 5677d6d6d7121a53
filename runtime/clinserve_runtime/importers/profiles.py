"""Optimization profiles applied to the exported fp32 graph before it is served.

- ``fp32``: the graph as exported (parity target: max |Δ logit| ≤ 1e-3 against the source).
- ``cpu``: ONNX Runtime's transformer optimizer (``model_type="bert"``: fuses LayerNorm with
  the residual Add, Gelu with its bias, and attention where its pattern is recognized), then
  int8 dynamic quantization of the weights (activations quantized per batch at run time).
- ``gpu``: the graph in fp16 (inputs and logits stay int64/fp32) for the TensorRT execution
  provider that the ``gpu`` serving settings write into config.pbtxt, with its engine cache.
  Only standard ONNX operators are kept, so TensorRT can take the whole graph.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnx

from clinserve_runtime.importers.errors import missing_extra
from clinserve_runtime.importers.progress import Progress

PROFILES = ("fp32", "cpu", "gpu")


def optimize_cpu(fp32: Path, work: Path, progress: Progress) -> tuple[Path, dict[str, Any]]:
    """Fuse transformer subgraphs, then quantize weights to int8."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
    except ImportError as exc:
        raise missing_extra(exc.name or "onnxruntime") from None
    fused = work / "model.fused.onnx"
    with progress.step("fuse transformer subgraphs (onnxruntime.transformers, bert)"):
        # num_heads/hidden_size 0: read them from the graph. opt_level 0: only the Python
        # fusions; ONNX Runtime applies its own graph optimizations when the server loads it.
        model = optimizer.optimize_model(
            str(fp32), model_type="bert", num_heads=0, hidden_size=0, opt_level=0
        )
        fusions = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
        # The exporter's shape annotations go stale when nodes are fused; the quantizer re-infers
        # shapes and refuses conflicting ones, so drop them.
        model.model.graph.ClearField("value_info")
        model.save_model_to_file(str(fused))
    quantized = work / "model.int8.onnx"
    # ONNX's shape inference cannot type the outputs of the fused (com.microsoft) operators;
    # every float tensor in these graphs is fp32.
    with (
        progress.step("quantize weights to int8 (dynamic quantization)"),
        _UntypedTensorWarnings() as untyped,
    ):
        quantize_dynamic(
            fused,
            quantized,
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return quantized, {
        "fused_operators": fusions,
        "quantization": "dynamic int8 (QInt8 weights, per channel; uint8 activations at run time)",
        "untyped_tensors_taken_as_fp32": untyped.count,
    }


class _UntypedTensorWarnings(logging.Filter):
    """Counts, instead of printing, the quantizer's "Failed to infer data type" warnings.

    ``quantize_dynamic`` logs one line on the root logger for every output of a fused
    (com.microsoft) operator that ONNX shape inference cannot type: 200+ lines for a BERT-base
    graph. ``DefaultTensorType`` above already answers them (every float here is fp32), so
    they are expected; the count goes into the profile's facts.
    """

    PREFIX = "Failed to infer data type of tensor"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.PREFIX):
            self.count += 1
            return False
        return True

    def __enter__(self) -> _UntypedTensorWarnings:
        logging.getLogger().addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeFilter(self)


def optimize_gpu(fp32: Path, work: Path, progress: Progress) -> tuple[Path, dict[str, Any]]:
    """Convert the graph to fp16, keeping int64 inputs and fp32 logits."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise missing_extra(exc.name or "onnxruntime") from None
    target = work / "model.fp16.onnx"
    with progress.step("convert to fp16 (inputs and logits keep their types)"):
        model = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
        onnx.save_model(model, str(target))
    return target, {"precision": "fp16 weights and activations; int64 inputs, fp32 logits"}


def apply_profile(name: str, fp32: Path, work: Path, progress: Progress) -> tuple[Path, dict[str, Any]]:
    """The graph to serve for profile ``name`` and facts about what was done."""
    if name == "cpu":
        return optimize_cpu(fp32, work, progress)
    if name == "gpu":
        return optimize_gpu(fp32, work, progress)
    return fp32, {}
