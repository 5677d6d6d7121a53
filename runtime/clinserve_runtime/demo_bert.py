"""Deterministic, untrained BERT classifiers written straight to ONNX.

The demo weights stand in for licensed checkpoints that cannot be downloaded. The graph is the
BERT encoder (embeddings, post-LayerNorm transformer layers with GELU, pooler) with the head of
the catalog entry: ``[batch, labels]`` logits for sequence classifiers, ``[batch, seq, labels]``
for token classifiers. Inputs and outputs carry the names and dynamic axes of a Hugging Face /
Spark NLP export (``input_ids``, ``attention_mask``, ``token_type_ids`` -> ``logits``), so the
same Triton configs serve demo and real weights.

Weights are drawn from N(0, 0.02) (BERT's initializer range) with a seed derived from the model
name, so every build of the same size is byte-identical. They are **untrained**: the graph's
metadata says so, and so does every result served from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
VOCAB_SIZE_DEFAULT = 30522


@dataclass(frozen=True)
class BertShape:
    """Encoder dimensions."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    max_positions: int = 512
    type_vocab: int = 2


# "tiny" keeps tests fast; "base" is the BioBERT-base shape for benchmarks.
DEMO_SIZES = {
    "tiny": BertShape(layers=2, hidden=128, heads=2, intermediate=512),
    "base": BertShape(layers=12, hidden=768, heads=12, intermediate=3072),
}


def seed_for(name: str) -> int:
    """Stable seed from a model name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class _GraphBuilder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...], *, std: float = 0.02) -> str:
        value = self.rng.normal(0.0, std, size=shape).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def const(self, name: str, value: npt.NDArray[Any]) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=f"{output}_{op_type}", **attrs))
        return output

    def linear(self, x: str, prefix: str, fan_in: int, fan_out: int) -> str:
        w = self.weight(f"{prefix}.weight", (fan_in, fan_out))
        b = self.const(f"{prefix}.bias", np.zeros(fan_out, dtype=np.float32))
        return self.op("Add", [self.op("MatMul", [x, w], f"{prefix}.matmul"), b], f"{prefix}.out")

    def layer_norm(self, x: str, prefix: str, hidden: int) -> str:
        gamma = self.const(f"{prefix}.gamma", np.ones(hidden, dtype=np.float32))
        beta = self.const(f"{prefix}.beta", np.zeros(hidden, dtype=np.float32))
        return self.op("LayerNormalization", [x, gamma, beta], f"{prefix}.out", axis=-1, epsilon=1e-12)

    def gelu(self, x: str, prefix: str) -> str:
        # Exact (erf) GELU as BERT uses; opset 17 has no Gelu op.
        scaled = self.op(
            "Div", [x, self.const(f"{prefix}.sqrt2", np.array(np.sqrt(2.0), np.float32))], f"{prefix}.div"
        )
        erf = self.op("Erf", [scaled], f"{prefix}.erf")
        one_plus = self.op(
            "Add", [erf, self.const(f"{prefix}.one", np.array(1.0, np.float32))], f"{prefix}.add"
        )
        half_x = self.op(
            "Mul", [x, self.const(f"{prefix}.half", np.array(0.5, np.float32))], f"{prefix}.half_x"
        )
        return self.op("Mul", [half_x, one_plus], f"{prefix}.out")


def build_bert_classifier(
    name: str,
    num_labels: int,
    *,
    token_level: bool,
    shape: BertShape,
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    metadata: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """Build one untrained BERT classifier graph.

    Args:
        name: Model name; seeds the weights.
        num_labels: Width of the classification head (the catalog's label count).
        token_level: Token classification head instead of pooled sequence classification.
        shape: Encoder dimensions (see ``DEMO_SIZES``).
        vocab_size: Rows of the word-embedding table; must cover the tokenizer's vocabulary.
        metadata: Extra ``metadata_props`` (the builder records provenance here).
    """
    g = _GraphBuilder(np.random.default_rng(seed_for(name)))
    h, heads = shape.hidden, shape.heads
    head_dim = h // heads

    # Embeddings: word + position + token type, then LayerNorm.
    words = g.op("Gather", [g.weight("embeddings.word", (vocab_size, h)), "input_ids"], "emb.words")
    ids_shape = g.op("Shape", ["input_ids"], "emb.ids_shape")
    seq_len = g.op("Gather", [ids_shape, g.const("emb.one_idx", np.array(1, np.int64))], "emb.seq_len")
    positions = g.op(
        "Range",
        [g.const("emb.zero", np.array(0, np.int64)), seq_len, g.const("emb.step", np.array(1, np.int64))],
        "emb.positions",
    )
    pos = g.op("Gather", [g.weight("embeddings.position", (shape.max_positions, h)), positions], "emb.pos")
    types = g.op(
        "Gather", [g.weight("embeddings.token_type", (shape.type_vocab, h)), "token_type_ids"], "emb.types"
    )
    summed = g.op("Add", [g.op("Add", [words, pos], "emb.word_pos"), types], "emb.sum")
    x = g.layer_norm(summed, "emb.ln", h)

    # Additive attention mask [batch, 1, 1, seq]: 0 on tokens, -10000 on padding (as BERT).
    mask_f = g.op("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const("mask.one", np.array(1.0, np.float32)), mask_f], "mask.inverted")
    additive = g.op("Mul", [inverted, g.const("mask.neg", np.array(-10000.0, np.float32))], "mask.additive")
    mask = g.op("Unsqueeze", [additive, g.const("mask.axes", np.array([1, 2], np.int64))], "mask.out")

    split_heads = g.const("attn.split_shape", np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = g.const("attn.merge_shape", np.array([0, 0, h], np.int64))
    scale = g.const("attn.scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    for i in range(shape.layers):
        p = f"layer{i}"

        def heads_of(t: str, tag: str, perm: list[int], p: str = p) -> str:
            reshaped = g.op("Reshape", [t, split_heads], f"{p}.{tag}.split")
            return g.op("Transpose", [reshaped], f"{p}.{tag}.heads", perm=perm)

        q = heads_of(g.linear(x, f"{p}.query", h, h), "q", [0, 2, 1, 3])
        k = heads_of(g.linear(x, f"{p}.key", h, h), "k", [0, 2, 3, 1])
        v = heads_of(g.linear(x, f"{p}.value", h, h), "v", [0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, k], f"{p}.qk"), scale], f"{p}.scaled")
        probs = g.op("Softmax", [g.op("Add", [scores, mask], f"{p}.masked")], f"{p}.probs", axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{p}.ctx")], f"{p}.ctx_t", perm=[0, 2, 1, 3])
        merged = g.op("Reshape", [context, merge_heads], f"{p}.ctx_merged")
        attn_out = g.linear(merged, f"{p}.attn_out", h, h)
        x = g.layer_norm(g.op("Add", [attn_out, x], f"{p}.attn_res"), f"{p}.attn_ln", h)
        ffn = g.gelu(g.linear(x, f"{p}.ffn_in", h, shape.intermediate), f"{p}.gelu")
        ffn_out = g.linear(ffn, f"{p}.ffn_out", shape.intermediate, h)
        x = g.layer_norm(g.op("Add", [ffn_out, x], f"{p}.ffn_res"), f"{p}.ffn_ln", h)

    if token_level:
        logits = g.linear(x, "classifier", h, num_labels)
        logits_shape: list[str | int] = ["batch", "sequence", num_labels]
    else:
        first = g.op("Gather", [x, g.const("pool.first", np.array(0, np.int64))], "pool.cls", axis=1)
        pooled = g.op("Tanh", [g.linear(first, "pooler", h, h)], "pool.out")
        logits = g.linear(pooled, "classifier", h, num_labels)
        logits_shape = ["batch", num_labels]
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits_Identity"))

    graph = helper.make_graph(
        g.nodes,
        f"{name}_bert",
        inputs=[
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, logits_shape)],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="clinserve"
    )
    model.ir_version = 8
    helper.set_model_props(model, metadata or {})
    onnx.checker.check_model(model)
    return model
