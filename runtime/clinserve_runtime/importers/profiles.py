"""Optimization profiles applied to the exported fp32 graph before it is served.

- ``fp32``: the graph as exported (parity target: max |Δ logit| ≤ 1e-3 against the source).
- ``cpu``: ONNX Runtime's transformer optimizer (``model_type="bert"``: fuses LayerNorm with
  the residual Add, Gelu with its bias, and attention where its pattern is recognized), then
  **static** int8 quantization of the MatMuls: int8 weights per channel,
  uint8 activations with scales fixed at import by calibration on texts (MinMax). Dynamic
  quantization computes the activation scales from each execution's whole batch, so a text's
  scores would change with the other texts Triton's batcher put beside it; fixed scales keep
  every text's answer independent of its neighbours. MatMul outputs stay fp32 (no output
  quantization), which ONNX Runtime runs as ``MatMulIntegerToFloat``, the kernel dynamic
  quantization used too; the attention-score MatMuls (queries × keys) stay fp32
  (:func:`score_matmuls`).
- ``gpu``: the graph in fp16 (inputs and logits stay int64/fp32) for the TensorRT execution
  provider that the ``gpu`` serving settings write into config.pbtxt, with its engine cache.
  Only standard ONNX operators are kept, so TensorRT can take the whole graph.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from clinserve_runtime.importers.errors import ImportFailure, missing_extra
from clinserve_runtime.importers.progress import Progress

PROFILES = ("fp32", "cpu", "gpu")

Feeds = dict[str, npt.NDArray[np.int64]]


def optimize_cpu(
    fp32: Path, work: Path, progress: Progress, calibration: Sequence[Feeds]
) -> tuple[Path, dict[str, Any]]:
    """Fuse transformer subgraphs, then quantize the MatMuls to int8 with calibrated scales.

    Args:
        fp32: The plain fp32 graph (not trimmed of padding: the optimizer matches BERT patterns
            from the graph inputs).
        work: Scratch folder for the intermediate graphs.
        progress: Progress lines.
        calibration: Model inputs (``input_ids``, ``attention_mask``, ``token_type_ids``) encoded
            the way the server encodes them; the activation scales are their observed ranges.

    Raises:
        ImportFailure: When ``calibration`` holds no batch.
    """
    try:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.transformers import optimizer
    except ImportError as exc:
        raise missing_extra(exc.name or "onnxruntime") from None
    if not calibration:
        raise ImportFailure("static quantization needs calibration texts; none were given")
    fused = work / "model.fused.onnx"
    with progress.step("fuse transformer subgraphs (onnxruntime.transformers, bert)"):
        # num_heads/hidden_size 0: read them from the graph. opt_level 0: only the Python
        # fusions; ONNX Runtime applies its own graph optimizations when the server loads it.
        model = optimizer.optimize_model(
            str(fp32), model_type="bert", num_heads=0, hidden_size=0, opt_level=0
        )
        fusions = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
        # The exporter's shape annotations go stale when nodes are fused: drop them, infer
        # them again, and type what inference cannot (below).
        model.model.graph.ClearField("value_info")
        model.save_model_to_file(str(fused))  # declares the com.microsoft opset the fusions use
        graph = onnx.load(str(fused))
        typed = type_untyped_outputs(graph)
        onnx.save_model(graph, str(fused))
        kept_fp32 = score_matmuls(graph)
    quantized = work / "model.int8.onnx"
    sequences = sum(int(feeds["input_ids"].shape[0]) for feeds in calibration)
    with (
        progress.step(f"quantize to int8 (static, scales calibrated on {sequences} sequences)"),
        _PreprocessingAdvice(),
    ):
        quantize_static(
            fused,
            quantized,
            _CalibrationReader(calibration),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept_fp32,
            extra_options={
                # Quantizing a MatMul's output would add a second rounding before the bias Add
                # and LayerNorm; with float outputs ONNX Runtime fuses each Q/DQ pair and MatMul
                # into MatMulIntegerToFloat.
                "OpTypesToExcludeOutputQuantization": ["MatMul"],
                "DefaultTensorType": onnx.TensorProto.FLOAT,
            },
        )
    return quantized, {
        "fused_operators": fusions,
        "quantization": (
            "static int8 (QDQ): QInt8 weights per channel, QUInt8 activations with fixed scales"
            " (MinMax calibration); MatMul outputs stay fp32"
        ),
        "calibration": {"batches": len(calibration), "sequences": sequences, "method": "MinMax"},
        "attention_score_matmuls_left_fp32": len(kept_fp32),
        "untyped_tensors_taken_as_fp32": typed,
    }


def score_matmuls(model: onnx.ModelProto) -> list[str]:
    """Names of the attention-score MatMuls (queries × keys), which stay fp32.

    These are the MatMuls between two activations that no Softmax feeds. Quantized, they cost
    more than they save (two Q/DQ pairs around a small product), and kept fp32 they give every
    text the same results alone and batched: each score sums over the head size, which the batch
    does not change. The other product between activations, probabilities × values, sums over
    the key positions, whose number grows with the batch's padding; in fp32 the extra zeros may
    change the order of the additions, and the rounding difference can tip a later int8
    rounding step. It is quantized, so that sum is exact.
    """
    constants = {t.name for t in model.graph.initializer}
    constants |= {out for node in model.graph.node if node.op_type == "Constant" for out in node.output}
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    return [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul"
        and node.name
        and not any(name in constants for name in node.input)
        and not any(producers.get(name) == "Softmax" for name in node.input)
    ]


def type_untyped_outputs(model: onnx.ModelProto) -> int:
    """Run ONNX shape inference and declare every output it could not type as fp32.

    ONNX's shape inference cannot type the outputs of the fused (``com.microsoft``) operators.
    The calibrator collects ranges only of tensors with a known float type, so without this the
    inputs of most MatMuls would get no activation scale and stay unquantized. Every float
    tensor of these graphs is fp32. Returns how many outputs were declared.
    """
    inferred = onnx.shape_inference.infer_shapes(model)
    model.graph.ClearField("value_info")
    model.graph.value_info.extend(inferred.graph.value_info)
    known = {v.name for v in model.graph.value_info}
    known |= {t.name for t in model.graph.input} | {t.name for t in model.graph.output}
    known |= {t.name for t in model.graph.initializer}
    declared = 0
    for node in model.graph.node:
        for name in node.output:
            if name and name not in known:
                model.graph.value_info.append(
                    onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                )
                known.add(name)
                declared += 1
    return declared


class _CalibrationReader:
    """Feeds the calibration batches to ``quantize_static`` one at a time (its reader protocol)."""

    def __init__(self, batches: Sequence[Feeds]) -> None:
        self._batches: Iterator[Feeds] = iter(batches)

    def get_next(self) -> Feeds | None:
        return next(self._batches, None)


class _PreprocessingAdvice(logging.Filter):
    """Drops, while active, ``quantize_static``'s advice to run ONNX Runtime's pre-processing.

    The quantizer logs it on the root logger whenever a graph lacks full shape information. Its
    pre-processing (symbolic shape inference) stops at the fused com.microsoft operators of
    these graphs; :func:`type_untyped_outputs` gives the quantizer the types it needs instead,
    so the advice would only mislead. Other messages pass.
    """

    PREFIX = "Please consider"

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIX)

    def __enter__(self) -> _PreprocessingAdvice:
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


def apply_profile(
    name: str, fp32: Path, work: Path, progress: Progress, calibration: Sequence[Feeds] = ()
) -> tuple[Path, dict[str, Any]]:
    """The graph to serve for profile ``name`` and facts about what was done.

    ``calibration`` (model inputs) is needed by the ``cpu`` profile only.
    """
    if name == "cpu":
        return optimize_cpu(fp32, work, progress, calibration)
    if name == "gpu":
        return optimize_gpu(fp32, work, progress)
    return fp32, {}
