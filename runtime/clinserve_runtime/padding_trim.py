"""Graphs that compute only up to the longest real sequence of their batch.

The tokenizer pads every request to a length bucket so that Triton's dynamic batcher, which
merges only requests of equal shape, can merge them. On a CPU the padded positions then cost
their full share (docs/benchmarks.md, "Where the time goes", gives the figures and the
``tools/padding_cost.py`` command). A trimmed graph starts with

    longest = max(1, max over the batch of sum(attention_mask))
    input_ids, attention_mask, token_type_ids = each[:, :longest]

and, for a token classifier, pads its logits back to the input's length with zeros (positions
past a sequence's end carry no piece, so the post-processor never reads them). So requests still
merge by bucket, while each execution costs what its longest text needs. BERT masks padding out
of attention, so the real positions' results do not change (to float rounding; the ``cpu``
profile's int8 graph has fixed activation scales, so padding does not move its results either,
which the importer's batch-independence check verifies).

The transform lives in the graph, not in a backend, so the native ONNX Runtime backend of the
production image runs exactly what the CPU stand-in runs here. It is for the ``cpu`` profile:
TensorRT cannot take a shape computed from tensor values, and a GPU batch pays little for
padding, so ``gpu`` graphs stay as they are.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from clinserve_preprocess.contract import MODEL_INPUTS

LOGITS = "logits"
METADATA_KEY = "clinserve.trims_padding"
PREFIX = "clinserve_trim__"
SUFFIX = "__clinserve_trimmed"
# ReduceSum takes its axes as an input from opset 13; every graph the importers and the demo
# builder write is at 13 or later (the NGC 24.10 image's ONNX Runtime reads up to 21).
MIN_OPSET = 13


def is_trimmed(model: onnx.ModelProto) -> bool:
    """True when ``model`` already carries the trimming prelude."""
    return any(p.key == METADATA_KEY for p in model.metadata_props)


def default_opset(model: onnx.ModelProto) -> int:
    """The graph's ``ai.onnx`` opset version."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise ValueError("the graph imports no ai.onnx opset")


def trim_padding(model: onnx.ModelProto, *, token_level: bool) -> onnx.ModelProto:
    """A copy of ``model`` that runs at the batch's longest real length (see the module docs).

    Raises:
        ValueError: When the graph lacks the three BERT inputs or the ``logits`` output, or its
            opset is older than 13.
    """
    if is_trimmed(model):
        return model
    graph_inputs = {i.name for i in model.graph.input}
    graph_outputs = {o.name for o in model.graph.output}
    missing = [n for n in MODEL_INPUTS if n not in graph_inputs] + [
        n for n in (LOGITS,) if n not in graph_outputs
    ]
    if missing:
        raise ValueError(f"cannot trim padding: the graph has no {', '.join(missing)}")
    if default_opset(model) < MIN_OPSET:
        raise ValueError(f"cannot trim padding: opset {default_opset(model)} < {MIN_OPSET}")

    trimmed = onnx.ModelProto()
    trimmed.CopyFrom(model)
    graph = trimmed.graph
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in MODEL_INPUTS:
                node.input[index] = name + SUFFIX

    def constant(name: str, values: list[int]) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), PREFIX + name))
        return PREFIX + name

    axis1, zero, one = constant("axis1", [1]), constant("zero", [0]), constant("one", [1])
    lengths, longest_raw, longest = PREFIX + "lengths", PREFIX + "longest_raw", PREFIX + "longest"
    prelude = [
        helper.make_node("ReduceSum", ["attention_mask", axis1], [lengths], keepdims=0, name=lengths),
        helper.make_node("ReduceMax", [lengths], [longest_raw], keepdims=1, name=longest_raw),
        # At least one position: an all-zero mask (only a malformed direct call sends one) must
        # not make an empty sequence the encoder cannot run.
        helper.make_node("Max", [longest_raw, one], [longest], name=longest),
    ]
    prelude += [
        helper.make_node("Slice", [name, zero, longest, axis1], [name + SUFFIX], name=f"{PREFIX}slice_{name}")
        for name in MODEL_INPUTS
    ]
    postlude = []
    if token_level:
        for node in graph.node:
            for index, name in enumerate(node.output):
                if name == LOGITS:
                    node.output[index] = LOGITS + SUFFIX
        shape, full, missing_positions, pads = (PREFIX + n for n in ("shape", "full", "missing", "pads"))
        head, tail = constant("pads_head", [0, 0, 0, 0]), constant("pads_tail", [0])
        postlude = [
            helper.make_node("Shape", ["input_ids"], [shape], name=shape),
            helper.make_node("Gather", [shape, one], [full], name=full),
            helper.make_node("Sub", [full, longest], [missing_positions], name=missing_positions),
            helper.make_node("Concat", [head, missing_positions, tail], [pads], axis=0, name=pads),
            helper.make_node(
                "Pad", [LOGITS + SUFFIX, pads], [LOGITS], mode="constant", name=PREFIX + "pad_logits"
            ),
        ]
    nodes = [*prelude, *graph.node, *postlude]
    del graph.node[:]
    graph.node.extend(nodes)
    trimmed.metadata_props.append(onnx.StringStringEntryProto(key=METADATA_KEY, value="1"))
    onnx.checker.check_model(trimmed)
    return trimmed


def untrim(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph without the trimming prelude (and postlude): what :func:`trim_padding` was given.

    Graph optimizers that match BERT patterns from the graph inputs (the importer's ``cpu``
    profile) run on this form; the result is trimmed again when it is written.
    """
    if not is_trimmed(model):
        return model
    plain = onnx.ModelProto()
    plain.CopyFrom(model)
    graph = plain.graph
    kept = [n for n in graph.node if not n.name.startswith(PREFIX)]  # every node it added
    for node in kept:
        for index, name in enumerate(node.input):
            if name.endswith(SUFFIX):
                node.input[index] = name.removesuffix(SUFFIX)
        for index, name in enumerate(node.output):
            if name == LOGITS + SUFFIX:
                node.output[index] = LOGITS
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [i for i in graph.initializer if not i.name.startswith(PREFIX)]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    properties = [p for p in plain.metadata_props if p.key != METADATA_KEY]
    del plain.metadata_props[:]
    plain.metadata_props.extend(properties)
    return plain
