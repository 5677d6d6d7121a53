"""Importing the two Spark NLP layouts, and the checks that stop a bad import before it writes.

The graphs are the project's generated tiny BERTs (the importer does not care what the weights
are); the folders around them are built to Spark NLP's documented formats.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from tokenizers import Tokenizer

from clinserve_runtime.build_demo import build, demo_vocabulary_path
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.importer import main
from clinserve_runtime.importers import ImportFailure, ImportRequest, NewModelOptions, import_model
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.padding_trim import is_trimmed, untrim
from clinserve_runtime.repository import BUILD_STAMP
from tests.fixtures.spark_nlp_layouts import write_import_folder, write_saved_annotator

VOCAB_SIZE = 3000
TOKEN_ANNOTATOR = "com.johnsnowlabs.nlp.annotators.classifier.dl.BertForTokenClassification"
QUIET = Progress(quiet=True)


@pytest.fixture(scope="module")
def vocab() -> list[str]:
    # The head of a real uncased BERT vocabulary: special tokens, characters and common words.
    return demo_vocabulary_path().read_text(encoding="utf-8").splitlines()[:VOCAB_SIZE]


def graph_bytes(labels: int, *, token_level: bool = False, vocab_size: int = VOCAB_SIZE) -> bytes:
    model = build_bert_classifier(
        f"fixture-{labels}-{token_level}",
        labels,
        token_level=token_level,
        shape=DEMO_SIZES["tiny"],
        vocab_size=vocab_size,
    )
    return bytes(model.SerializeToString())


@pytest.fixture(scope="module")
def binary_graph() -> bytes:
    return graph_bytes(2)


def saved_biomarker(
    folder: Path,
    vocab: list[str],
    graph: bytes,
    *,
    labels: tuple[str, ...] = ("0", "1"),
    case_sensitive: bool = False,
    max_sentence_length: int = 512,
) -> Path:
    write_saved_annotator(
        folder,
        onnx_bytes=graph,
        vocab=vocab,
        labels=labels,
        case_sensitive=case_sensitive,
        max_sentence_length=max_sentence_length,
    )
    return folder


def run_import(source: Path, model: str, repository: Path, **options):
    request = ImportRequest(
        source=source, model=model, repository=repository, options=NewModelOptions(**options)
    )
    return import_model(request, QUIET)


def read_stamp(repository: Path):
    return json.loads((repository / BUILD_STAMP).read_text(encoding="utf-8"))


def assert_nothing_written(repository: Path) -> None:
    leftovers = sorted(p.name for p in repository.iterdir()) if repository.exists() else []
    assert leftovers == [], f"a failed import left {leftovers} behind"


def test_saved_annotator_imports_into_its_catalog_entry(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "biomarker_en_4.0.0_3.0_1660000000000", vocab, binary_graph)
    repository = tmp_path / "repo"
    record = run_import(source, "biomarker", repository)

    assert record["source_kind"] == "sparknlp-saved"
    assert record["weights"] == f"sparknlp-saved:{source.name}"
    served = repository / "biomarker_onnx" / "1" / "model.onnx"
    # The graph is the annotator's own, with the cpu profile's padding trimming around it.
    served_graph = onnx.load(str(served))
    assert is_trimmed(served_graph) and untrim(served_graph).SerializeToString() == binary_graph
    tokenizer = Tokenizer.from_file(str(repository / "biomarker_tokenizer" / "1" / "tokenizer.json"))
    assert tokenizer.get_vocab() == {token: index for index, token in enumerate(vocab)}
    assert tokenizer.normalizer is not None
    assert tokenizer.normalizer.normalize_str("HER2 Naïve") == "her2 naive"  # caseSensitive=false
    ensemble = (repository / "biomarker" / "config.pbtxt").read_text(encoding="utf-8")
    assert 'string_value: "false"' in ensemble.split('key: "untrained"')[1].split("}")[0]
    assert (
        json.loads((repository / "biomarker_onnx" / "1" / "clinserve-import.json").read_text())["model"]
        == "biomarker"
    )
    assert read_stamp(repository)["imported"]["biomarker"]["weights"] == record["weights"]


def test_import_folder_becomes_a_new_model_with_flags_for_what_it_does_not_state(
    tmp_path, vocab, binary_graph
):
    source = tmp_path / "sparknlp_import"
    write_import_folder(source, onnx_bytes=binary_graph, vocab=vocab, labels=["no_change", "change"])
    record = run_import(source, "my_changes", tmp_path / "repo", cased=False, max_tokens=128)
    assert record["spec"]["labels"] == ["no_change", "change"]
    assert record["spec"]["max_tokens"] == 128
    config = (tmp_path / "repo" / "my_changes" / "config.pbtxt").read_text(encoding="utf-8")
    assert "no_change" in config


def test_saved_token_classifier_imports_into_the_ner_entry(tmp_path, vocab, catalog):
    spec = catalog["drug_development_trials"]
    source = tmp_path / "ner_saved"
    write_saved_annotator(
        source,
        onnx_bytes=graph_bytes(len(spec.labels), token_level=True),
        vocab=vocab,
        labels=list(spec.labels),
        case_sensitive=True,
        max_sentence_length=128,
        annotator=TOKEN_ANNOTATOR,
    )
    record = run_import(source, "drug_development_trials", tmp_path / "repo")
    assert record["graph"]["outputs"][0]["shape"][-1] == len(spec.labels)
    assert (tmp_path / "repo" / "drug_development_trials_postprocess" / "1" / "model.py").is_file()


def test_wrong_label_count_stops_before_writing(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph, labels=("0", "1", "2"))
    with pytest.raises(ImportFailure, match=r"3 labels .* biomarker has 2"):
        run_import(source, "biomarker", tmp_path / "repo")
    assert_nothing_written(tmp_path / "repo")


def test_head_size_that_does_not_match_the_labels_stops_before_writing(tmp_path, vocab, binary_graph):
    source = tmp_path / "sparknlp_import"
    write_import_folder(source, onnx_bytes=binary_graph, vocab=vocab, labels=["a", "b", "c"])
    with pytest.raises(ImportFailure, match="head size does not match the label count"):
        run_import(source, "three_labels", tmp_path / "repo", cased=False, max_tokens=64)
    assert_nothing_written(tmp_path / "repo")


def test_missing_vocabulary_stops_before_writing(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph)
    shutil.rmtree(source / "fields" / "vocabulary")
    with pytest.raises(ImportFailure, match="fields/vocabulary is missing"):
        run_import(source, "biomarker", tmp_path / "repo")
    assert_nothing_written(tmp_path / "repo")


def test_wrong_input_names_stop_before_writing_and_keep_the_old_entry(tmp_path, vocab, binary_graph):
    model = onnx.load_from_string(binary_graph)
    for tensor in model.graph.input:
        if tensor.name == "token_type_ids":
            tensor.name = "segment_ids"
    for node in model.graph.node:
        node.input[:] = ["segment_ids" if name == "token_type_ids" else name for name in node.input]
    source = saved_biomarker(tmp_path / "saved", vocab, model.SerializeToString())
    repository = tmp_path / "repo"
    good = saved_biomarker(tmp_path / "good", vocab, binary_graph)
    run_import(good, "biomarker", repository)
    before = {p: p.read_bytes() for p in sorted(repository.rglob("*")) if p.is_file()}

    with pytest.raises(ImportFailure, match=r"segment_ids.*re-export it with those names"):
        run_import(source, "biomarker", repository)
    after = {p: p.read_bytes() for p in sorted(repository.rglob("*")) if p.is_file()}
    assert after == before


def test_casing_mismatch_with_the_catalog_stops(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph, case_sensitive=True)
    with pytest.raises(ImportFailure, match="cased but biomarker is uncased"):
        run_import(source, "biomarker", tmp_path / "repo")
    assert_nothing_written(tmp_path / "repo")


def test_max_length_mismatch_with_the_catalog_stops(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph, max_sentence_length=128)
    with pytest.raises(ImportFailure, match=r"configured for 128 tokens .* set max_tokens = 128"):
        run_import(source, "biomarker", tmp_path / "repo")


def test_vocabulary_larger_than_the_embedding_table_stops(tmp_path, vocab):
    source = saved_biomarker(tmp_path / "saved", vocab, graph_bytes(2, vocab_size=1000))
    with pytest.raises(ImportFailure, match="graph embeds 1000 tokens"):
        run_import(source, "biomarker", tmp_path / "repo")
    assert_nothing_written(tmp_path / "repo")


def test_label_order_differing_from_the_catalog_is_refused(tmp_path, vocab, binary_graph):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph, labels=("1", "0"))
    with pytest.raises(ImportFailure, match="label order"):
        run_import(source, "biomarker", tmp_path / "repo")


def test_cli_reports_a_failed_check_with_exit_status_2(tmp_path, vocab, binary_graph, capsys):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph, case_sensitive=True)
    status = main([str(source), "--model", "biomarker", "--repository", str(tmp_path / "repo"), "--quiet"])
    assert status == 2
    assert "import failed:" in capsys.readouterr().err


def test_cli_import_prints_the_record(tmp_path, vocab, binary_graph, capsys):
    source = saved_biomarker(tmp_path / "saved", vocab, binary_graph)
    status = main([str(source), "--model", "biomarker", "--repository", str(tmp_path / "repo"), "--quiet"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["model"] == "biomarker"


def test_demo_builds_keep_imported_entries_unless_forced(tmp_path, vocab, binary_graph):
    repository = tmp_path / "repo"
    build(repository, "tiny")
    run_import(saved_biomarker(tmp_path / "saved", vocab, binary_graph), "biomarker", repository)
    # The import is version 2; the demo weights it replaced stay as version 1, for a rollback.
    served = repository / "biomarker_onnx" / "2" / "model.onnx"

    assert build(repository, "tiny") is False  # the demo part is up to date
    stamp = json.loads((repository / BUILD_STAMP).read_text())
    stamp["weights"] = "demo-base"  # as if the demo size changed
    (repository / BUILD_STAMP).write_text(json.dumps(stamp))
    assert build(repository, "tiny") is True
    # The graph is the annotator's own, with the cpu profile's padding trimming around it.
    served_graph = onnx.load(str(served))
    assert is_trimmed(served_graph) and untrim(served_graph).SerializeToString() == binary_graph
    assert "biomarker" in read_stamp(repository)["imported"]

    build(repository, "tiny", force=True)
    assert not served.exists() and (repository / "biomarker_onnx" / "1" / "model.onnx").is_file()
    assert "imported" not in read_stamp(repository)
