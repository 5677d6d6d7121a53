"""The tensors between the steps are declared once; everything that names them agrees with it."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.results import SequenceOutputs
from clinserve_preprocess.contract import (
    STEP_TENSORS,
    Step,
    consumed_by,
    markdown_table,
    produced_by,
)
from clinserve_preprocess.encoding import EncodedBatch
from clinserve_runtime.configs import Provenance, ServingSettings, render_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "tensor-contract.md"
STEP_ORDER = [Step.ENSEMBLE, Step.TOKENIZER, Step.ONNX, Step.POSTPROCESS]


def test_the_tokenizer_outputs_are_the_encoded_batch():
    assert [f.name for f in fields(EncodedBatch)] == [t.name for t in produced_by(Step.TOKENIZER)]


def test_the_post_processor_inputs_are_the_sequence_outputs():
    assert {f.name for f in fields(SequenceOutputs)} == {t.name for t in consumed_by(Step.POSTPROCESS)}


def test_every_tensor_flows_forward_from_the_one_step_that_makes_it():
    names = [t.name for t in STEP_TENSORS]
    assert len(names) == len(set(names))
    for item in STEP_TENSORS:
        assert item.consumers, item.name
        for consumer in item.consumers:
            assert STEP_ORDER.index(item.producer) < STEP_ORDER.index(consumer) or consumer is Step.ENSEMBLE


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("model", ["treatment_changes", "drug_development_trials"])
def test_the_configs_carry_exactly_the_declared_tensors(catalog, model, batched):
    spec = catalog[model]
    token_level = spec.is_token_classifier
    settings = replace(ServingSettings(), python_batching=batched)
    configs = {n: parse(t) for n, t in render_all(spec, settings, Provenance("w", True)).items()}
    steps = {
        Step.TOKENIZER: configs[spec.tokenizer_model],
        Step.ONNX: configs[spec.onnx_model],
        Step.POSTPROCESS: configs[spec.postprocess_model],
    }
    for step, config in steps.items():
        assert [i.name for i in config.input] == [
            t.name for t in consumed_by(step)
        ] or step is Step.POSTPROCESS
        if step is Step.POSTPROCESS:
            assert [i.name for i in config.input] == [
                t.name for t in consumed_by(step, token_level=token_level)
            ]
        for config_tensor in config.input:
            declared = next(t for t in STEP_TENSORS if t.name == config_tensor.name)
            assert model_config_pb2.DataType.Name(config_tensor.data_type) == declared.triton_type
            row = declared.row_dims(token_level=token_level, labels=len(spec.labels)) or [1]
            batched_step = config.max_batch_size > 0
            expected = (
                row
                if batched_step
                else [-1, *declared.row_dims(token_level=token_level, labels=len(spec.labels))]
            )
            if not batched_step and not declared.dims:
                expected = [-1]
            assert list(config_tensor.dims) == expected, (step, config_tensor.name)
    # The ensemble maps every produced tensor to the step that consumes it, by its own name.
    ensemble = configs[spec.name]
    for step_config, kind in zip(ensemble.ensemble_scheduling.step, STEP_ORDER[1:], strict=True):
        assert dict(step_config.input_map) == {
            t.name: t.name for t in consumed_by(kind, token_level=token_level)
        }
        assert dict(step_config.output_map) == {
            t.name: t.name for t in produced_by(kind, token_level=token_level)
        }
    assert ensemble.input[0].HasField("reshape") is batched


def test_the_docs_table_is_the_declaration():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- contract-table:start -->\n")[1].split("\n<!-- contract-table:end -->")[0]
    assert table == markdown_table(), "regenerate it: python -m clinserve_preprocess"


def test_the_client_reads_every_mode_as_the_modes_table_combines_it(catalog):
    from clinserve.model_info import ModelInfo
    from clinserve.results import ResultKind
    from clinserve_preprocess.modes import Combination, modes_for
    from clinserve_runtime.configs import ensemble_config

    for spec in catalog.values():
        info = ModelInfo.from_config(ensemble_config(spec, ServingSettings(), Provenance("w", True)))
        for mode in modes_for(spec.is_token_classifier).values():
            expected = {
                Combination.PER_SENTENCE: ResultKind.SENTENCES,
                Combination.ENTITIES: ResultKind.ENTITIES,
            }.get(mode.combination)
            if expected is None:
                expected = ResultKind.MULTI_LABEL if spec.task == "multi_label" else ResultKind.CLASSIFICATION
            assert info.kind_for(mode.name) == expected, (spec.name, mode.name)


def result_fields_table() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("Fields in every document:\n")[1].strip().split("\n\n")[0]
    return [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]


def test_every_result_carries_the_declared_fields_and_the_docs_list_them(uncased_tokenizer):
    from clinserve_ensemble.results import ENVELOPE_FIELDS, ResultContext, build_results
    from clinserve_preprocess.modes import modes_for
    from tests.unit.step_tensors import encode, outputs

    assert result_fields_table() == list(ENVELOPE_FIELDS)
    ctx = ResultContext(
        "m",
        "single_label",
        ("a", "b"),
        False,
        None,
        untrained=False,
        weights="huggingface:x",
        model_version=3,
        weights_digest="sha256:0123456789abcdef",
    )
    mode = modes_for(False)["whole"]
    batch = encode(uncased_tokenizer, ["one text"], mode, max_tokens=32)
    (doc,) = build_results(ctx, outputs(batch, [[0.0, 1.0]], token_level=False), mode)
    assert list(doc)[: len(ENVELOPE_FIELDS) - 2] == list(ENVELOPE_FIELDS[:-2])
    assert set(ENVELOPE_FIELDS) <= set(doc)
    assert (doc["model_version"], doc["weights_digest"]) == (3, "sha256:0123456789abcdef")


def test_the_client_reads_the_version_fields_and_results_of_servers_without_them():
    import json

    from clinserve.results import ResultKind, parse_results

    doc = {
        "schema_version": 1,
        "model": "m",
        "untrained": False,
        "weights": "w",
        "mode": "whole",
        "truncated": False,
        "dropped_tokens": 0,
        "label": "a",
        "score": 0.6,
        "scores": [{"label": "a", "score": 0.6}, {"label": "b", "score": 0.4}],
    }
    versioned = {**doc, "model_version": 2, "weights_digest": "sha256:00112233aabbccdd"}
    old, new = parse_results([json.dumps(doc), json.dumps(versioned)], ResultKind.CLASSIFICATION, model="m")
    assert (old.model_version, old.weights_digest) == (None, None)
    assert (new.model_version, new.weights_digest) == (2, "sha256:00112233aabbccdd")
