"""The served demo weights as a Hugging Face checkpoint, for the ``transformers`` peer.

The demo graph (``clinserve_runtime.demo_bert``) is a plain BERT whose initializers carry
readable names; this module maps them onto ``BertForSequenceClassification`` /
``BertForTokenClassification`` parameters (``MatMul`` weights are ``[in, out]``, ``nn.Linear``
stores ``[out, in]``), writes ``config.json``, ``model.safetensors`` and a fast tokenizer built
from the served ``tokenizer.json`` (with BERT's ``[CLS] … [SEP]`` template added, since the
served tokenizer adds them itself), then checks that PyTorch and ONNX Runtime give the same
logits on the same ids. The peer therefore serves exactly the served model.

    python -m benchmarks.peers.hf_checkpoint --repository build/bench/weights/base \
        --model treatment_changes --output build/bench/hf/base/treatment_changes
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from benchmarks.limit import WholeTextTokenizer
from clinserve_ensemble.catalog import ModelSpec, load_catalog

STAMP = "clinserve-bench-source.json"
DEFAULT_TOLERANCE = 1e-4
PARITY_TEXTS = (
    "Switched from metformin to insulin glargine last week and the dizziness is finally gone.",
    "Contrast-enhanced MRI of the brain showed no change in the size of the glioblastoma.",
    "ok",
)


class ConversionError(RuntimeError):
    """The graph is not a demo BERT, or the converted model disagrees with it."""


def _layer_map(index: int) -> dict[str, tuple[str, bool]]:
    """ONNX initializer -> (PyTorch parameter, transpose) for encoder layer ``index``."""
    torch_layer = f"bert.encoder.layer.{index}"
    pairs = {
        "query": ("attention.self.query", True),
        "key": ("attention.self.key", True),
        "value": ("attention.self.value", True),
        "attn_out": ("attention.output.dense", True),
        "ffn_in": ("intermediate.dense", True),
        "ffn_out": ("output.dense", True),
    }
    mapping: dict[str, tuple[str, bool]] = {}
    for onnx_name, (torch_name, _) in pairs.items():
        mapping[f"layer{index}.{onnx_name}.weight"] = (f"{torch_layer}.{torch_name}.weight", True)
        mapping[f"layer{index}.{onnx_name}.bias"] = (f"{torch_layer}.{torch_name}.bias", False)
    for onnx_name, torch_name in (("attn_ln", "attention.output.LayerNorm"), ("ffn_ln", "output.LayerNorm")):
        mapping[f"layer{index}.{onnx_name}.gamma"] = (f"{torch_layer}.{torch_name}.weight", False)
        mapping[f"layer{index}.{onnx_name}.beta"] = (f"{torch_layer}.{torch_name}.bias", False)
    return mapping


def parameter_map(layers: int, *, token_level: bool) -> dict[str, tuple[str, bool]]:
    """Every ONNX initializer the checkpoint needs -> (PyTorch parameter, transpose)."""
    mapping = {
        "embeddings.word": ("bert.embeddings.word_embeddings.weight", False),
        "embeddings.position": ("bert.embeddings.position_embeddings.weight", False),
        "embeddings.token_type": ("bert.embeddings.token_type_embeddings.weight", False),
        "emb.ln.gamma": ("bert.embeddings.LayerNorm.weight", False),
        "emb.ln.beta": ("bert.embeddings.LayerNorm.bias", False),
        "classifier.weight": ("classifier.weight", True),
        "classifier.bias": ("classifier.bias", False),
    }
    if not token_level:
        mapping["pooler.weight"] = ("bert.pooler.dense.weight", True)
        mapping["pooler.bias"] = ("bert.pooler.dense.bias", False)
    for index in range(layers):
        mapping.update(_layer_map(index))
    return mapping


def read_initializers(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Initializers of an ONNX graph by name."""
    graph = onnx.load(str(path)).graph
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def bert_dimensions(weights: dict[str, npt.NDArray[Any]]) -> dict[str, Any]:
    """Layers, hidden size, heads and intermediate size read from the initializers."""
    layer_indices = {
        int(m.group(1)) for name in weights if (m := re.fullmatch(r"layer(\d+)\.query\.weight", name))
    }
    if not layer_indices or "attn.split_shape" not in weights:
        raise ConversionError(
            "the graph is not a clinserve demo BERT (no layerN.query.weight / attn.split_shape)"
        )
    vocab, hidden = weights["embeddings.word"].shape
    return {
        "vocab_size": int(vocab),
        "hidden_size": int(hidden),
        "num_hidden_layers": len(layer_indices),
        "num_attention_heads": int(weights["attn.split_shape"][2]),
        "intermediate_size": int(weights["layer0.ffn_in.weight"].shape[1]),
        "max_position_embeddings": int(weights["embeddings.position"].shape[0]),
        "type_vocab_size": int(weights["embeddings.token_type"].shape[0]),
    }


def state_dict(weights: dict[str, npt.NDArray[Any]], layers: int, *, token_level: bool) -> dict[str, Any]:
    """PyTorch tensors for every mapped parameter."""
    import torch

    tensors = {}
    for onnx_name, (torch_name, transpose) in parameter_map(layers, token_level=token_level).items():
        if onnx_name not in weights:
            raise ConversionError(f"the graph has no initializer {onnx_name!r}")
        value = weights[onnx_name].T if transpose else weights[onnx_name]
        tensors[torch_name] = torch.from_numpy(np.array(value, dtype=np.float32, order="C", copy=True))
    return tensors


def convert(
    repository: Path, spec: ModelSpec, output: Path, *, tolerance: float = DEFAULT_TOLERANCE
) -> dict[str, Any]:
    """Write the checkpoint for ``spec`` from ``repository`` into ``output``; return the parity record."""
    from tokenizers import Tokenizer, processors
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertForTokenClassification,
        PreTrainedTokenizerFast,
    )

    onnx_path = repository / spec.onnx_model / "1" / "model.onnx"
    tokenizer_path = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    weights = read_initializers(onnx_path)
    dims = bert_dimensions(weights)
    token_level = spec.is_token_classifier
    config = BertConfig(
        **dims,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        id2label=dict(enumerate(spec.labels)),
        label2id={label: i for i, label in enumerate(spec.labels)},
    )
    model_class = BertForTokenClassification if token_level else BertForSequenceClassification
    model: Any = model_class(config)
    model.eval()
    missing, unexpected = model.load_state_dict(
        state_dict(weights, dims["num_hidden_layers"], token_level=token_level), strict=False
    )
    # Only buffers (position_ids) may be absent from the state dict.
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ConversionError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")

    served = WholeTextTokenizer(tokenizer_path, spec.max_tokens)
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", served.sep_id), ("[CLS]", served.cls_id))
    fast_class: Any = PreTrainedTokenizerFast  # untyped in transformers
    fast = fast_class(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=spec.max_tokens,
    )
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    fast.save_pretrained(output)

    parity = check_parity(model, fast, onnx_path, PARITY_TEXTS, max_tokens=spec.max_tokens)
    served_ids = served.encode(PARITY_TEXTS)
    hf_ids = fast(list(PARITY_TEXTS), truncation=True, max_length=spec.max_tokens)["input_ids"]
    if [list(ids) for ids in served_ids] != [list(ids) for ids in hf_ids]:
        raise ConversionError("the Hugging Face tokenizer and the served tokenizer give different ids")
    if parity["max_abs_diff"] > tolerance:
        raise ConversionError(
            f"PyTorch and ONNX Runtime logits differ by {parity['max_abs_diff']:.2e} (> {tolerance:.0e})"
        )
    record = {"source": str(onnx_path), "size": onnx_path.stat().st_size, "mtime": onnx_path.stat().st_mtime}
    (output / STAMP).write_text(json.dumps({**record, "parity": parity}, indent=2) + "\n", encoding="utf-8")
    return parity


def check_parity(
    model: Any, tokenizer: Any, onnx_path: Path, texts: Sequence[str], *, max_tokens: int
) -> dict[str, Any]:
    """Largest absolute logit difference between PyTorch and ONNX Runtime on the same ids."""
    import torch

    from benchmarks.sessions import open_session

    # A check of the conversion, not a measurement: ONNX Runtime computes on the CPU like the
    # PyTorch model beside it, whatever the benchmark's execution profile.
    session = open_session(onnx_path, "cpu")
    worst = largest = 0.0
    for text in texts:
        encoded = tokenizer([text], truncation=True, max_length=max_tokens, return_tensors="np")
        feeds = {
            "input_ids": encoded["input_ids"].astype(np.int64),
            "attention_mask": encoded["attention_mask"].astype(np.int64),
            "token_type_ids": np.zeros_like(encoded["input_ids"], dtype=np.int64),
        }
        (onnx_logits,) = session.run(["logits"], feeds)
        with torch.no_grad():
            torch_logits = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits.numpy()
        worst = max(worst, float(np.max(np.abs(onnx_logits - torch_logits))))
        largest = max(largest, float(np.max(np.abs(onnx_logits))))
    return {"texts": len(texts), "max_abs_diff": worst, "max_abs_logit": largest}


def up_to_date(repository: Path, spec: ModelSpec, output: Path) -> bool:
    """True when ``output`` was converted from the current ``model.onnx``."""
    stamp = output / STAMP
    if not stamp.is_file():
        return False
    onnx_path = repository / spec.onnx_model / "1" / "model.onnx"
    record = json.loads(stamp.read_text(encoding="utf-8"))
    return bool(
        record.get("source") == str(onnx_path)
        and record.get("size") == onnx_path.stat().st_size
        and record.get("mtime") == onnx_path.stat().st_mtime
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    args = parser.parse_args(argv)
    spec = load_catalog()[args.model]
    if up_to_date(args.repository, spec, args.output):
        print(f"{args.output}: up to date")
        return 0
    parity = convert(args.repository, spec, args.output, tolerance=args.tolerance)
    print(f"{args.output}: written; PyTorch vs ONNX Runtime max |Δlogit| {parity['max_abs_diff']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
