"""Casing from the vocabulary when the source does not state it (issue 16, finding 4 and item 3).

A Spark NLP ``loadSavedModel`` folder and a Hugging Face folder with only ``vocab.txt`` say
nothing about casing; their vocabulary shows it (upper-case word-pieces or none). A mismatch
with the catalog entry is refused before anything is exported or written, with the message a
stated casing gets.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clinserve_runtime.build_demo import demo_vocabulary_path
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.importers import ImportFailure, ImportRequest, NewModelOptions, import_model
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.source import vocabulary_casing
from tests.fixtures.spark_nlp_layouts import write_import_folder, write_saved_annotator
from tests.fixtures.vocabularies import capitalized

VOCAB_SIZE = 3000
QUIET = Progress(quiet=True)


@pytest.fixture(scope="module")
def uncased_vocab() -> list[str]:
    return demo_vocabulary_path().read_text(encoding="utf-8").splitlines()[:VOCAB_SIZE]


@pytest.fixture(scope="module")
def cased_vocab(uncased_vocab) -> list[str]:
    return capitalized(uncased_vocab, 60)


@pytest.fixture(scope="module")
def graph() -> bytes:
    model = build_bert_classifier(
        "casing", 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=VOCAB_SIZE
    )
    return bytes(model.SerializeToString())


def ids(vocab: list[str]) -> dict[str, int]:
    return {token: index for index, token in enumerate(vocab)}


def import_folder(folder: Path, vocab: list[str], graph: bytes, labels=("negative", "positive")) -> Path:
    write_import_folder(folder, onnx_bytes=graph, vocab=vocab, labels=list(labels))
    return folder


def run_import(source: Path, model: str, repository: Path, **options):
    request = ImportRequest(
        source=source, model=model, repository=repository, options=NewModelOptions(**options)
    )
    return import_model(request, QUIET)


def test_the_vocabulary_shows_its_casing_by_its_upper_case_pieces(uncased_vocab, cased_vocab):
    uncased = vocabulary_casing(ids(uncased_vocab))
    assert uncased.cased is False and uncased.upper == 0  # [CLS], [unused0]… do not count
    cased = vocabulary_casing(ids(cased_vocab))
    assert cased.cased is True and cased.upper == 60
    assert vocabulary_casing(ids(capitalized(uncased_vocab, 3))).cased is None  # too few to tell


def test_uncased_spark_import_folder_into_a_cased_entry_is_refused(tmp_path, uncased_vocab, graph):
    # The finding: accepted without a word, and 4 of 20 labels then differed from the model's own.
    source = import_folder(tmp_path / "sparknlp_import", uncased_vocab, graph)
    with pytest.raises(ImportFailure) as refused:
        run_import(source, "treatment_changes", tmp_path / "repo")
    message = str(refused.value)
    assert "the source's vocabulary is uncased but treatment_changes is cased in catalog.toml" in message
    assert "does not state its casing; none of its 2,001 word-pieces has an upper-case letter" in message
    assert "a wrong casing silently changes every prediction" in message
    assert not (tmp_path / "repo").exists()


def test_cased_spark_import_folder_into_an_uncased_entry_is_refused(tmp_path, cased_vocab, graph):
    source = import_folder(tmp_path / "sparknlp_import", cased_vocab, graph, labels=("0", "1"))
    with pytest.raises(ImportFailure, match=r"vocabulary is cased but biomarker is uncased .* 60 of its"):
        run_import(source, "biomarker", tmp_path / "repo")


def test_cased_spark_import_folder_into_a_cased_entry_is_served_cased(tmp_path, cased_vocab, graph):
    source = import_folder(tmp_path / "sparknlp_import", cased_vocab, graph)
    record = run_import(source, "treatment_changes", tmp_path / "repo")
    assert record["spec"]["cased"] is True


def test_a_new_model_takes_the_casing_its_vocabulary_shows(tmp_path, uncased_vocab, cased_vocab, graph):
    uncased = run_import(
        import_folder(tmp_path / "u", uncased_vocab, graph), "my_u", tmp_path / "repo", max_tokens=64
    )
    cased = run_import(
        import_folder(tmp_path / "c", cased_vocab, graph), "my_c", tmp_path / "repo", max_tokens=64
    )
    assert (uncased["spec"]["cased"], cased["spec"]["cased"]) == (False, True)


def test_a_flag_that_contradicts_the_vocabulary_is_refused(tmp_path, uncased_vocab, graph):
    source = import_folder(tmp_path / "sparknlp_import", uncased_vocab, graph)
    with pytest.raises(ImportFailure, match=r"--cased contradicts the source's vocabulary, which is uncased"):
        run_import(source, "my_model", tmp_path / "repo", cased=True, max_tokens=64)


def test_a_vocabulary_that_does_not_tell_asks_for_the_flag(tmp_path, uncased_vocab, graph):
    source = import_folder(tmp_path / "sparknlp_import", capitalized(uncased_vocab, 3), graph)
    with pytest.raises(ImportFailure, match=r"vocabulary does not tell .*: pass --cased or --uncased"):
        run_import(source, "my_model", tmp_path / "repo", max_tokens=64)
    assert (
        run_import(source, "my_model", tmp_path / "repo", cased=False, max_tokens=64)["spec"]["cased"]
        is False
    )


def test_hugging_face_folder_with_only_vocab_txt_into_the_wrong_casing_is_refused_before_export(
    tmp_path,
):
    # The finding-5 folder: no tokenizer.json or tokenizer_config.json, an uncased vocabulary.
    folder = tmp_path / "ckpt"
    folder.mkdir()
    config = {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "id2label": {"0": "negative", "1": "positive"},
        "vocab_size": 30522,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"never read: the casing check comes first")
    shutil.copyfile(demo_vocabulary_path(), folder / "vocab.txt")
    with pytest.raises(
        ImportFailure, match=r"uncased but treatment_changes is cased .*does not state its casing"
    ):
        run_import(folder, "treatment_changes", tmp_path / "repo")


def test_a_stated_casing_wins_over_the_vocabulary_with_a_note(tmp_path, uncased_vocab, catalog):
    spec = catalog["drug_development_trials"]
    model = build_bert_classifier(
        "ner", len(spec.labels), token_level=True, shape=DEMO_SIZES["tiny"], vocab_size=VOCAB_SIZE
    )
    source = tmp_path / "saved"
    write_saved_annotator(
        source,
        onnx_bytes=model.SerializeToString(),
        vocab=uncased_vocab,
        labels=list(spec.labels),
        case_sensitive=True,
        max_sentence_length=128,
        annotator="com.johnsnowlabs.nlp.annotators.classifier.dl.BertForTokenClassification",
    )
    record = run_import(source, "drug_development_trials", tmp_path / "repo")
    assert record["spec"]["cased"] is True
    assert any("states that it is cased, but none of its" in note for note in record["notes"])
