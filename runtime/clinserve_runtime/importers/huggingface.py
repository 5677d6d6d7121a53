"""Hugging Face checkpoint folders: read the facts, export the graph to ONNX with PyTorch.

A folder holds ``config.json`` (with ``id2label``), ``model.safetensors`` or
``pytorch_model.bin``, and ``vocab.txt`` or ``tokenizer.json``. The export uses PyTorch's
``torch.export``-based ONNX exporter (the default since PyTorch 2.9; it needs ``onnxscript``,
all offline) with named inputs ``input_ids``/``attention_mask``/``token_type_ids``, output
``logits`` and dynamic ``batch``/``sequence`` axes. The model is loaded with eager attention,
which exports to plain ONNX operators that every execution provider (TensorRT included) runs.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from clinserve_preprocess.vocabulary import REQUIRED_SPECIAL_TOKENS, read_vocabulary
from clinserve_runtime.importers.errors import ImportFailure, missing_extra
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.source import SourceInfo

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Model families whose tokenizer is BERT WordPiece and whose graph takes token_type_ids.
SUPPORTED_MODEL_TYPES = ("bert", "electra")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OPSET = 18


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ImportFailure(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ImportFailure(f"{path}: expected a JSON object")
    return data


def _labels(config: dict[str, Any], path: Path) -> tuple[str, ...]:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        raise ImportFailure(
            f"{path}/config.json has no id2label; add the label names in output order"
            ' (e.g. "id2label": {"0": "negative", "1": "positive"})'
        )
    try:
        by_id = {int(k): str(v) for k, v in id2label.items()}
    except ValueError:
        raise ImportFailure(f"{path}/config.json: id2label keys must be integers") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise ImportFailure(f"{path}/config.json: id2label ids are not 0..{len(by_id) - 1}")
    return tuple(by_id[i] for i in range(len(by_id)))


def _vocabulary(path: Path) -> tuple[dict[str, int], bool | None]:
    """Vocabulary and, where tokenizer.json says it, whether it lowercases."""
    lowercase: bool | None = None
    tokenizer_json = path / "tokenizer.json"
    tokenizer: dict[str, Any] | None = _read_json(tokenizer_json) if tokenizer_json.is_file() else None
    if tokenizer is not None:
        normalizer = tokenizer.get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            lowercase = bool(normalizer.get("lowercase", True))
    if (path / "vocab.txt").is_file():
        try:
            return read_vocabulary(path / "vocab.txt"), lowercase
        except ValueError as exc:
            raise ImportFailure(str(exc)) from exc
    if tokenizer is None:
        raise ImportFailure(f"{path} has neither vocab.txt nor tokenizer.json: the vocabulary is missing")
    model = tokenizer.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise ImportFailure(
            f"{tokenizer_json}: the tokenizer is {model.get('type')!r}, not BERT WordPiece;"
            " only WordPiece vocabularies are served"
        )
    vocab = {str(k): int(v) for k, v in model["vocab"].items()}
    missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ImportFailure(f"{tokenizer_json}: the vocabulary lacks BERT's special tokens {missing}")
    return vocab, lowercase


def read_checkpoint(path: Path) -> SourceInfo:
    """Read a Hugging Face checkpoint folder (nothing is loaded into PyTorch yet)."""
    config = _read_json(path / "config.json")
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ImportFailure(
            f"{path}: model_type {model_type!r} is not served here; supported: {SUPPORTED_MODEL_TYPES}"
            " (BERT-family models with a WordPiece vocabulary)"
        )
    architecture = next(iter(config.get("architectures") or []), "")
    if architecture.endswith("ForTokenClassification"):
        token_level = True
    elif architecture.endswith("ForSequenceClassification"):
        token_level = False
    else:
        raise ImportFailure(
            f"{path}/config.json: architecture {architecture or 'missing'!r} has no classification"
            " head; expected *ForSequenceClassification or *ForTokenClassification"
        )
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise ImportFailure(f"{path} has no weights: expected one of {WEIGHT_FILES}")
    labels = _labels(config, path)
    vocab, lowercase = _vocabulary(path)
    tokenizer_config = (
        _read_json(path / "tokenizer_config.json") if (path / "tokenizer_config.json").is_file() else {}
    )
    if "do_lower_case" in tokenizer_config:
        lowercase = bool(tokenizer_config["do_lower_case"])
    max_positions = int(config.get("max_position_embeddings", 512))
    limit = tokenizer_config.get("model_max_length")
    if isinstance(limit, int) and 0 < limit < max_positions:
        max_positions = limit
    vocab_size = config.get("vocab_size")
    if isinstance(vocab_size, int) and max(vocab.values()) >= vocab_size:
        raise ImportFailure(
            f"{path}: the vocabulary has ids up to {max(vocab.values())} but the model embeds only"
            f" {vocab_size} tokens; the vocabulary does not belong to these weights"
        )

    def materialize(work: Path, progress: Progress) -> Path:
        return export_onnx(path, work / "model.onnx", token_level=token_level, max_positions=max_positions)

    return SourceInfo(
        kind="huggingface",
        path=path,
        labels=labels,
        vocab=vocab,
        cased=None if lowercase is None else not lowercase,
        max_tokens=None,
        max_positions=max_positions,
        token_level=token_level,
        multi_label=config.get("problem_type") == "multi_label_classification",
        description=f"huggingface:{config.get('_name_or_path') or path.name}",
        materialize=materialize,
    )


def load_torch_model(path: Path, *, token_level: bool, eager: bool = False) -> Any:
    """The checkpoint as a PyTorch model in eval mode (for export and parity)."""
    try:
        import torch  # noqa: F401
        from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification
    except ImportError as exc:
        raise missing_extra(exc.name or "torch") from None
    auto = AutoModelForTokenClassification if token_level else AutoModelForSequenceClassification
    kwargs: dict[str, Any] = {"local_files_only": True}
    if eager:
        kwargs["attn_implementation"] = "eager"
    try:
        model = auto.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError) as exc:
        raise ImportFailure(f"{path}: PyTorch could not load the checkpoint ({exc})") from exc
    return model.eval()


def export_onnx(path: Path, target: Path, *, token_level: bool, max_positions: int) -> Path:
    """Export the checkpoint to ONNX (fp32) at ``target``."""
    model = load_torch_model(path, token_level=token_level, eager=True)
    import torch

    # Trace with a padded row so no "all tokens attend" shortcut is baked into the graph.
    input_ids = torch.tensor([[101, 1000, 1001, 102, 0, 0], [101, 1002, 1003, 1004, 1005, 102]])
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.zeros_like(input_ids)
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=max_positions)
    axes = {0: batch, 1: sequence}
    # The exporter prints its own progress on stdout; keep stdout for the command's result.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # It warns that the two inputs share one axis name: that is the intent.
        warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
        try:
            program = torch.onnx.export(
                model,
                (input_ids, attention_mask, token_type_ids),
                None,
                dynamo=True,
                input_names=list(INPUT_NAMES),
                output_names=["logits"],
                dynamic_shapes=(axes, axes, axes),
                opset_version=ONNX_OPSET,
                verbose=False,
            )
        except ImportError as exc:
            raise missing_extra(exc.name or "onnxscript") from None
        if program is None:
            raise ImportFailure(f"{path}: the ONNX exporter returned no program")
        program.save(str(target), external_data=False)
    return target
