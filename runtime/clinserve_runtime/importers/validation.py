"""Checks run before anything is written, each failure naming the problem and the fix.

The source is checked against the model entry (task, labels, casing, length), and the graph
against the Triton config the entry will get (names, types, shapes, head size, vocabulary).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from clinserve_ensemble.catalog import TASKS, CatalogError, ModelSpec, load_catalog, parse_catalog
from clinserve_runtime.configs import ServingSettings, onnx_config
from clinserve_runtime.graph_check import ConfigGraphMismatch, check_against_graph, config_tensors
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.source import SourceInfo, vocabulary_casing

GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


@dataclass(frozen=True)
class NewModelOptions:
    """What the user says about a model that is not in the catalog (or overrides).

    Attributes:
        task: ``single_label``, ``multi_label`` or ``token_classification``; None infers it.
        cased: Casing of the vocabulary; None takes the source's word.
        max_tokens: Longest sequence; None takes the source's configured length.
        per_sentence: Classify each sentence separately.
        threshold: Multi-label threshold.
        rename_labels: The source's labels are generic (``LABEL_0``…) or differently named but
            in catalog order: serve them under the catalog's names.
    """

    task: str | None = None
    cased: bool | None = None
    max_tokens: int | None = None
    per_sentence: bool = False
    threshold: float | None = None
    rename_labels: bool = False


def _casing_word(cased: bool) -> str:
    return "cased" if cased else "uncased"


def _new_model_casing(info: SourceInfo, flag: bool | None) -> bool:
    """The casing of a new model: the source's word, else its vocabulary's, checked against the flag."""
    if info.cased is not None:
        if flag is not None and flag != info.cased:
            raise ImportFailure(
                f"--{_casing_word(flag)} contradicts the source, whose vocabulary is"
                f" {_casing_word(info.cased)}; drop the flag"
            )
        return info.cased
    shown = vocabulary_casing(info.vocab)
    if shown.cased is not None:
        if flag is not None and flag != shown.cased:
            raise ImportFailure(
                f"--{_casing_word(flag)} contradicts the source's vocabulary, which is"
                f" {_casing_word(shown.cased)} ({shown.evidence()}); drop the flag"
            )
        return shown.cased
    if flag is None:
        raise ImportFailure(
            f"{info.path} does not say whether its vocabulary is cased, and the vocabulary does not"
            f" tell ({shown.evidence()}): pass --cased or --uncased"
        )
    return flag


def source_casing(info: SourceInfo) -> tuple[bool | None, str]:
    """The source's casing and how it is known: stated by the source, or shown by its vocabulary."""
    if info.cased is not None:
        return info.cased, ""
    shown = vocabulary_casing(info.vocab)
    return shown.cased, f" (the source does not state its casing; {shown.evidence()})"


def casing_note(info: SourceInfo) -> str | None:
    """A note when the casing the source states is not the one its vocabulary shows."""
    shown = vocabulary_casing(info.vocab)
    if info.cased is None or shown.cased is None or shown.cased == info.cased:
        return None
    return (
        f"the source states that it is {_casing_word(info.cased)}, but {shown.evidence()}; it is"
        f" served {_casing_word(info.cased)}, as the source's own tokenizer runs it"
    )


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _new_spec(name: str, info: SourceInfo, options: NewModelOptions) -> ModelSpec:
    if info.token_level:
        task = options.task or "token_classification"
    else:
        task = options.task or ("multi_label" if info.multi_label else "single_label")
    if task not in TASKS:
        raise ImportFailure(f"--task must be one of {TASKS}, not {task!r}")
    cased = _new_model_casing(info, options.cased)
    max_tokens = options.max_tokens or info.max_tokens
    if max_tokens is None:
        raise ImportFailure(f"{info.path} does not state a sequence length: pass --max-tokens (e.g. 128)")
    activation = "sigmoid" if task == "multi_label" else "softmax"
    lines = [
        f"[models.{name}]",
        f"source_model = {_toml_string(info.description)}",
        'seed_card = ""',
        f"description = {_toml_string(f'Imported from {info.path.name} ({info.kind})')}",
        f"task = {_toml_string(task)}",
        f"labels = [{', '.join(_toml_string(label) for label in info.labels)}]",
        f"cased = {'true' if cased else 'false'}",
        f"max_tokens = {max_tokens}",
        f"activation = {_toml_string(activation)}",
        f"per_sentence = {'true' if options.per_sentence else 'false'}",
    ]
    if options.threshold is not None:
        lines.append(f"threshold = {options.threshold}")
    try:
        return parse_catalog("\n".join(lines) + "\n")[name]
    except CatalogError as exc:
        raise ImportFailure(f"the new model entry is invalid: {exc}") from exc


def _check_catalog_labels(spec: ModelSpec, info: SourceInfo, options: NewModelOptions) -> None:
    source, catalog = list(info.labels), list(spec.labels)
    if len(source) != len(catalog):
        raise ImportFailure(
            f"the source has {len(source)} labels {source} but {spec.name} has {len(catalog)} {catalog};"
            " import the model that matches this entry, or import it under a new name"
        )
    if source == catalog:
        return
    if options.rename_labels or all(GENERIC_LABEL.match(label) for label in source):
        return
    if sorted(source) == sorted(catalog):
        raise ImportFailure(
            f"the source's label order {source} differs from {spec.name}'s {catalog}; the output units"
            " follow the source's order, so set labels in catalog.toml to the source's order"
        )
    raise ImportFailure(
        f"the source's labels {source} are not {spec.name}'s {catalog}; if they are the same classes"
        " in catalog order, pass --rename-labels to serve them under the catalog's names"
    )


def resolve_spec(name: str, info: SourceInfo, options: NewModelOptions) -> ModelSpec:
    """The model entry to write: the catalog's (checked against the source) or a new one.

    Raises:
        ImportFailure: On a task, label, casing or length mismatch, with the fix.
    """
    catalog = load_catalog()
    if name not in catalog:
        if not name.isidentifier() or name != name.lower():
            raise ImportFailure(f"model name {name!r} must be a lower-case identifier (e.g. my_ner)")
        return _new_spec(name, info, options)
    spec = catalog[name]
    if info.token_level is not None and info.token_level != spec.is_token_classifier:
        kind = "token" if info.token_level else "sequence"
        raise ImportFailure(f"the source is a {kind} classifier but {name} is {spec.task}")
    overrides = [
        flag
        for flag, given in (
            ("--task", options.task),
            ("--cased/--uncased", options.cased),
            ("--max-tokens", options.max_tokens),
            ("--threshold", options.threshold),
        )
        if given is not None
    ]
    if overrides or options.per_sentence:
        raise ImportFailure(
            f"{name} is a catalog entry: its task, casing and length come from catalog.toml;"
            f" drop {overrides or ['--per-sentence']} or import under a new name"
        )
    _check_catalog_labels(spec, info, options)
    cased, known_from = source_casing(info)
    if cased is not None and cased != spec.cased:
        raise ImportFailure(
            f"the source's vocabulary is {_casing_word(cased)} but {name} is"
            f" {_casing_word(spec.cased)} in catalog.toml{known_from}; a wrong casing silently"
            " changes every prediction: fix catalog.toml or import the matching model"
        )
    if info.max_tokens is not None and info.max_tokens != spec.max_tokens:
        raise ImportFailure(
            f"the source was configured for {info.max_tokens} tokens (maxSentenceLength) but {name}"
            f" serves {spec.max_tokens}; set max_tokens = {info.max_tokens} in catalog.toml or import"
            " under a new name with --max-tokens"
        )
    if info.max_positions is not None and spec.max_tokens > info.max_positions:
        raise ImportFailure(
            f"{name} serves {spec.max_tokens} tokens but the model embeds at most {info.max_positions}"
        )
    return spec


def _embedding_rows(model: onnx.ModelProto) -> int | None:
    """Rows of the word-embedding table: the initializer a Gather indexes with input_ids."""
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == "input_ids":
            table = initializers.get(node.input[0])
            if table is not None and len(table.dims) == 2:
                return int(table.dims[0])
    return None


def validate_graph(
    path: Path, spec: ModelSpec, vocab: dict[str, int], settings: ServingSettings
) -> dict[str, Any]:
    """Check the graph as Triton will see it, then run it at the shapes it will get.

    Returns:
        Facts about the graph for the import report.

    Raises:
        ImportFailure: On a name, type, shape, head-size, vocabulary or length mismatch.
    """
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf and onnx raise several kinds
        raise ImportFailure(f"{path}: not a loadable ONNX model ({exc})") from exc
    rows = _embedding_rows(model)
    top_id = max(vocab.values())
    if rows is not None and top_id >= rows:
        raise ImportFailure(
            f"the vocabulary has ids up to {top_id} but the graph embeds {rows} tokens: the vocabulary"
            " does not belong to this model"
        )
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ImportFailure(f"{path}: ONNX Runtime cannot load the graph ({exc})") from exc
    labels = len(spec.labels)
    head = next((o for o in session.get_outputs() if o.name == "logits"), None)
    if head is not None and head.shape and isinstance(head.shape[-1], int) and head.shape[-1] != labels:
        raise ImportFailure(
            f"the graph's logits have {head.shape[-1]} classes but {spec.name} has {labels} labels"
            f" {list(spec.labels)}: the head size does not match the label count (wrong labels file,"
            " or the wrong model)"
        )
    config = onnx_config(spec, settings)
    batched = int(config["max_batch_size"]) > 0
    try:
        check_against_graph(
            spec.onnx_model, config_tensors(config, "input"), session.get_inputs(), "input", batched
        )
        check_against_graph(
            spec.onnx_model, config_tensors(config, "output"), session.get_outputs(), "output", batched
        )
    except ConfigGraphMismatch as exc:
        raise ImportFailure(
            f"{exc}. The served graph must take int64 input_ids, attention_mask and token_type_ids"
            " [batch, sequence] and return float logits; re-export it with those names"
        ) from exc
    for batch, length in ((2, 5), (1, spec.max_tokens)):
        ids = np.full((batch, length), vocab["[PAD]"], dtype=np.int64)
        ids[:, 0], ids[:, -1] = vocab["[CLS]"], vocab["[SEP]"]
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        try:
            (logits,) = session.run(["logits"], feeds)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ImportFailure(
                f"the graph fails on a [{batch}, {length}] input ({exc}); if {length} is the longest"
                f" sequence, the model cannot embed {spec.max_tokens} tokens: lower max_tokens"
            ) from exc
        expected = (batch, length, labels) if spec.is_token_classifier else (batch, labels)
        if tuple(logits.shape) != expected:
            raise ImportFailure(
                f"the graph returns logits of shape {list(logits.shape)} for a [{batch}, {length}] input;"
                f" {spec.name} needs {list(expected)} ({labels} labels"
                f"{', per token' if spec.is_token_classifier else ''}): the head size does not match"
                " the label count"
            )
    return {
        "inputs": [{"name": i.name, "type": i.type, "shape": list(i.shape)} for i in session.get_inputs()],
        "outputs": [{"name": o.name, "type": o.type, "shape": list(o.shape)} for o in session.get_outputs()],
        "embedding_rows": rows,
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
    }
