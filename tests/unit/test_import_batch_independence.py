"""Answers that never depend on the neighbours (issue 16, finding 3 and item 2).

Dynamic int8 quantization computes its activation scales from the whole batch, so a text's
scores move with the texts executed beside it; the importer's ``cpu`` profile quantizes with
fixed (calibrated) scales instead, and every import checks the served graph: each text alone
against the same text beside 30 others of mixed lengths.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import onnx
import pytest
from onnxruntime.quantization import QuantType, quantize_dynamic

from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer
from clinserve_runtime.build_demo import demo_vocabulary_path
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.importer import main
from clinserve_runtime.importers import ImportRequest, NewModelOptions, import_model
from clinserve_runtime.importers.batch_independence import (
    NEIGHBOURS,
    SCORE_TOLERANCE,
    check_batch_independence,
    mixed_lengths,
)
from clinserve_runtime.importers.parity_texts import DEFAULT_TEXTS
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.repository import served_graph
from tests.fixtures.spark_nlp_layouts import write_import_folder

VOCAB_SIZE = 3000
LABELS = ["no_change", "change"]
QUIET = Progress(quiet=True)


@pytest.fixture(scope="module")
def vocab() -> list[str]:
    return demo_vocabulary_path().read_text(encoding="utf-8").splitlines()[:VOCAB_SIZE]


@pytest.fixture(scope="module")
def fp32_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = build_bert_classifier(
        "neighbours", 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=VOCAB_SIZE
    )
    path = tmp_path_factory.mktemp("graphs") / "fp32.onnx"
    onnx.save_model(model, str(path))
    return path


@pytest.fixture(scope="module")
def dynamic_int8_graph(fp32_graph: Path) -> Path:
    """What the cpu profile wrote before: activation scales computed per execution."""
    path = fp32_graph.with_name("dynamic.onnx")
    quantize_dynamic(fp32_graph, path, weight_type=QuantType.QInt8, per_channel=True)
    return path


@pytest.fixture(scope="module")
def tokenizer_path(vocab: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    build_wordpiece_tokenizer({t: i for i, t in enumerate(vocab)}, cased=False).save(str(path))
    return path


def served(graph: Path, spec) -> Path:
    target = graph.with_name(f"{graph.stem}.served.onnx")
    onnx.save_model(served_graph(graph, spec, ServingSettings()), str(target))
    return target


def test_neighbours_are_spread_from_the_shortest_to_the_longest_text():
    group = mixed_lengths(DEFAULT_TEXTS, NEIGHBOURS + 1)
    by_length = sorted(DEFAULT_TEXTS, key=len)
    assert len(group) == 31 and len(set(group)) == 31
    assert group[0] == by_length[0] and group[-1] == by_length[-1]
    assert mixed_lengths(["a", "bb"], 5) == ["a", "bb", "a", "bb", "a"]  # too few: repeated


def test_a_dynamically_quantized_graph_fails_the_check(catalog, tokenizer_path, dynamic_int8_graph):
    spec = catalog["treatment_changes"]
    report = check_batch_independence(spec, tokenizer_path, served(dynamic_int8_graph, spec), DEFAULT_TEXTS)
    assert report["max_abs_score_diff"] > SCORE_TOLERANCE
    assert not report["passed"]


@pytest.mark.parametrize("model", ["treatment_changes", "biomarker", "pubmed_multilabel"])
def test_the_fp32_graph_passes_the_check_served_trimmed(catalog, tokenizer_path, vocab, tmp_path, model):
    spec = catalog[model]
    graph = tmp_path / "model.onnx"
    onnx.save_model(
        build_bert_classifier(
            model, len(spec.labels), token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=VOCAB_SIZE
        ),
        str(graph),
    )
    report = check_batch_independence(spec, tokenizer_path, served(graph, spec), DEFAULT_TEXTS)
    assert report["passed"], report
    assert report["texts"] == 31 and report["token_range"][0] < report["token_range"][1]


def test_the_cpu_profile_quantizes_with_fixed_scales_and_passes(tmp_path, vocab, fp32_graph):
    source = tmp_path / "sparknlp_import"
    write_import_folder(source, onnx_bytes=fp32_graph.read_bytes(), vocab=vocab, labels=LABELS)
    request = ImportRequest(
        source=source,
        model="my_changes",
        repository=tmp_path / "repo",
        profile="cpu",
        options=NewModelOptions(max_tokens=128, cased=False),
    )
    record = import_model(request, QUIET)
    independence = record["batch_independence"]
    assert independence["passed"] and independence["max_abs_score_diff"] <= SCORE_TOLERANCE
    assert independence["decisions_changed"] == 0
    assert record["profile_facts"]["calibration"]["sequences"] > 0
    # Queries × keys stay fp32, one per layer of the tiny BERT; probabilities × values are int8.
    assert record["profile_facts"]["attention_score_matmuls_left_fp32"] == DEMO_SIZES["tiny"].layers
    graph = onnx.load(str(tmp_path / "repo" / "my_changes_onnx" / "1" / "model.onnx"))
    ops = collections.Counter(node.op_type for node in graph.graph.node)
    assert ops["QuantizeLinear"] > 0 and ops["DynamicQuantizeLinear"] == 0


def test_an_import_whose_graph_depends_on_the_batch_is_refused_with_the_causes(
    tmp_path, vocab, dynamic_int8_graph, capsys
):
    # A source exported with dynamic quantization: served as it is (fp32 profile), it would
    # answer each caller according to the other callers' traffic.
    source = tmp_path / "sparknlp_import"
    write_import_folder(source, onnx_bytes=dynamic_int8_graph.read_bytes(), vocab=vocab, labels=LABELS)
    repository = tmp_path / "repo"
    status = main(
        [
            str(source),
            "--model",
            "my_changes",
            "--max-tokens",
            "128",
            "--uncased",
            "--repository",
            str(repository),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert not repository.exists()
    cause_lines = [
        line for line in err.splitlines() if line.strip().startswith("batch independence (fp32 profile):")
    ]
    assert any("scores move by up to" in line and "beside 30 other texts" in line for line in cause_lines), (
        err
    )
    accepted = import_model(
        ImportRequest(
            source=source,
            model="my_changes",
            repository=repository,
            options=NewModelOptions(max_tokens=128, cased=False),
            accept_failed_checks=True,
        ),
        Progress(quiet=True),  # on the stderr capsys holds now
    )
    assert accepted["checks_failed"] and all(
        c.startswith("batch independence") for c in accepted["checks_failed"]
    )
    assert "check failed, served anyway" in capsys.readouterr().err  # said even with --quiet
    stored = json.loads((repository / "my_changes_onnx" / "1" / "clinserve-import.json").read_text())
    assert stored["batch_independence"]["passed"] is False
