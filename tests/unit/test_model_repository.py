"""Rendered configs follow the catalog; the demo graph is BERT; the stand-in refuses mismatches."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from onnx import numpy_helper
from tritonclient.grpc import model_config_pb2

from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.demo_bert import DEMO_SIZES, BertShape, build_bert_classifier
from clinserve_runtime.graph_check import ConfigGraphMismatch, TensorSpec, check_against_graph

PROVENANCE = Provenance(weights="demo-tiny", untrained=True)


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def params(config: model_config_pb2.ModelConfig) -> dict[str, str]:
    return {k: v.string_value for k, v in config.parameters.items()}


@pytest.mark.parametrize(
    "name", ["treatment_changes", "biomarker", "drug_development_trials", "pubmed_multilabel"]
)
def test_configs_are_rendered_from_the_catalog(catalog, name):
    spec = catalog[name]
    configs = {k: parse(v) for k, v in render_all(spec, ServingSettings(), PROVENANCE).items()}
    assert set(configs) == set(spec.triton_models)
    ensemble, onnx_cfg = configs[spec.name], configs[spec.onnx_model]
    assert ensemble.platform == "ensemble" and ensemble.max_batch_size == 0
    assert json.loads(params(ensemble)["labels"]) == list(spec.labels)
    assert params(ensemble)["untrained"] == "true"
    steps = [s.model_name for s in ensemble.ensemble_scheduling.step]
    assert steps == [spec.tokenizer_model, spec.onnx_model, spec.postprocess_model]
    settings = ServingSettings()
    assert onnx_cfg.backend == "onnxruntime" and onnx_cfg.max_batch_size == settings.max_batch_size
    assert list(onnx_cfg.dynamic_batching.preferred_batch_size) == [settings.preferred_batch_size]
    assert onnx_cfg.dynamic_batching.max_queue_delay_microseconds == settings.max_queue_delay_us
    assert params(ensemble)["max_texts_per_request"] == str(settings.max_texts_per_request)
    assert list(onnx_cfg.output[0].dims)[-1] == len(spec.labels)
    tokenizer = params(configs[spec.tokenizer_model])
    assert int(tokenizer["max_tokens"]) == spec.max_tokens
    # Clients split documents by the limits the ensemble publishes: the tokenizer's own.
    for limit in ("max_text_chars", "max_sequences_per_request", "max_padded_tokens_per_request"):
        assert params(ensemble)[limit] == tokenizer[limit]
    assert tokenizer["per_sentence"] == ("true" if spec.per_sentence else "false")
    post = params(configs[spec.postprocess_model])
    assert post["task"] == spec.task and ("threshold" in post) == (spec.task == "multi_label")


def test_every_ensemble_tensor_is_produced_before_it_is_consumed(catalog):
    for spec in catalog.values():
        ensemble = parse(render_all(spec, ServingSettings(), PROVENANCE)[spec.name])
        available = {"TEXT"}
        for step in ensemble.ensemble_scheduling.step:
            assert set(step.input_map.values()) <= available, (spec.name, step.model_name)
            available |= set(step.output_map.values())
        assert "RESULT" in available


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _reference_bert(
    model: onnx.ModelProto, shape: BertShape, ids: np.ndarray, mask: np.ndarray, token_level: bool
):
    """Plain numpy BERT forward pass over the graph's own weights."""
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def ln(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[f"{prefix}.gamma"] + w[f"{prefix}.beta"]

    def lin(x, prefix):
        return x @ w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    from math import erf

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))))
    b, s = ids.shape
    x = (
        w["embeddings.word"][ids]
        + w["embeddings.position"][:s]
        + w["embeddings.token_type"][np.zeros_like(ids)]
    )
    x = ln(x, "emb.ln")
    additive = (1.0 - mask[:, None, None, :]) * -10000.0
    hd = shape.hidden // shape.heads
    for i in range(shape.layers):
        p = f"layer{i}"
        q, k, v = (
            lin(x, f"{p}.{n}").reshape(b, s, shape.heads, hd).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + additive
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, shape.hidden)
        x = ln(lin(ctx, f"{p}.attn_out") + x, f"{p}.attn_ln")
        x = ln(lin(gelu(lin(x, f"{p}.ffn_in")), f"{p}.ffn_out") + x, f"{p}.ffn_ln")
    if token_level:
        return lin(x, "classifier")
    return lin(np.tanh(lin(x[:, 0], "pooler")), "classifier")


@pytest.mark.parametrize("token_level", [False, True])
def test_demo_graph_computes_bert_and_masks_padding(token_level):
    shape = DEMO_SIZES["tiny"]
    model = build_bert_classifier("probe", 5, token_level=token_level, shape=shape, vocab_size=100)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 100, size=(2, 12)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (logits,) = _session(model).run(["logits"], feeds)
    expected = _reference_bert(model, shape, ids, mask.astype(np.float32), token_level)
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    assert logits.shape == ((2, 12, 5) if token_level else (2, 5))
    if not token_level:
        # Padding must not change a sequence's answer: same tokens, longer padding.
        padded = {k: np.concatenate([v[1:], np.zeros((1, 4), np.int64)], axis=1) for k, v in feeds.items()}
        padded["token_type_ids"][:] = 0
        (again,) = _session(model).run(["logits"], padded)
        np.testing.assert_allclose(again[0], logits[1], atol=1e-5)


def test_demo_weights_are_deterministic_and_marked_untrained():
    def build():
        meta = {"clinserve.untrained": "true"}
        return build_bert_classifier(
            "same", 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=50, metadata=meta
        )

    first = build()
    assert first.SerializeToString() == build().SerializeToString()
    assert {p.key: p.value for p in first.metadata_props}["clinserve.untrained"] == "true"


@pytest.fixture(scope="module")
def tiny_session() -> ort.InferenceSession:
    return _session(build_bert_classifier("m", 3, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=50))


INPUTS = [TensorSpec(n, "TYPE_INT64", (-1,)) for n in ("input_ids", "attention_mask", "token_type_ids")]


def test_graph_check_accepts_the_rendered_contract(tiny_session):
    check_against_graph("m", INPUTS, tiny_session.get_inputs(), "input", batched=True)
    check_against_graph(
        "m", [TensorSpec("logits", "TYPE_FP32", (3,))], tiny_session.get_outputs(), "output", batched=True
    )


@pytest.mark.parametrize(
    ("declared", "kind", "message"),
    [
        ([*INPUTS[:2], TensorSpec("segment_ids", "TYPE_INT64", (-1,))], "input", "does not declare"),
        ([TensorSpec("logits", "TYPE_FP32", (4,))], "output", "dims [4] in config.pbtxt but [3]"),
        ([TensorSpec("logits", "TYPE_FP16", (3,))], "output", "TYPE_FP16 in config.pbtxt but TYPE_FP32"),
        ([TensorSpec("scores", "TYPE_FP32", (3,))], "output", "'scores' is not in the graph"),
        ([TensorSpec("logits", "TYPE_FP32", (3, 1))], "output", "dims [3, 1]"),
    ],
)
def test_graph_check_refuses_any_mismatch_naming_both_sides(tiny_session, declared, kind, message):
    graph = tiny_session.get_inputs() if kind == "input" else tiny_session.get_outputs()
    with pytest.raises(ConfigGraphMismatch, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_against_graph("m", declared, graph, kind, batched=True)
