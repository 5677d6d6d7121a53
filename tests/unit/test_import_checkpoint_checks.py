"""Hugging Face checkpoint folders that cannot be served are refused before PyTorch is loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clinserve_runtime.build_demo import demo_vocabulary_path
from clinserve_runtime.importer import read_texts
from clinserve_runtime.importers import (
    ImportFailure,
    ImportRequest,
    NewModelOptions,
    import_model,
    read_source,
)
from clinserve_runtime.importers.progress import Progress


def checkpoint(folder: Path, **config_overrides) -> Path:
    folder.mkdir()
    config = {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "id2label": {"0": "negative", "1": "positive"},
        "max_position_embeddings": 512,
        "vocab_size": 30522,
    }
    config.update(config_overrides)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"not read by these checks")
    shutil.copyfile(demo_vocabulary_path(), folder / "vocab.txt")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    return folder


def test_checkpoint_facts_are_read_without_pytorch(tmp_path):
    info = read_source(checkpoint(tmp_path / "ckpt", problem_type="multi_label_classification"))
    assert info.kind == "huggingface"
    assert info.labels == ("negative", "positive")
    assert info.cased is True
    assert info.token_level is False
    assert info.multi_label is True
    assert info.max_positions == 512


def test_missing_id2label_is_refused_with_the_fix(tmp_path):
    folder = checkpoint(tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    del config["id2label"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ImportFailure, match="no id2label; add the label names"):
        read_source(folder)


def test_missing_weights_are_refused(tmp_path):
    folder = checkpoint(tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ImportFailure, match="has no weights"):
        read_source(folder)


def test_missing_vocabulary_is_refused(tmp_path):
    folder = checkpoint(tmp_path / "ckpt")
    (folder / "vocab.txt").unlink()
    with pytest.raises(ImportFailure, match=r"neither vocab\.txt nor tokenizer\.json"):
        read_source(folder)


def test_non_wordpiece_tokenizer_is_refused(tmp_path):
    folder = checkpoint(tmp_path / "ckpt")
    (folder / "vocab.txt").unlink()
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}}}))
    with pytest.raises(ImportFailure, match="not BERT WordPiece"):
        read_source(folder)


def test_other_model_families_and_heads_are_refused(tmp_path):
    with pytest.raises(ImportFailure, match="model_type 'roberta'"):
        read_source(checkpoint(tmp_path / "roberta", model_type="roberta"))
    with pytest.raises(ImportFailure, match="has no classification head"):
        read_source(checkpoint(tmp_path / "encoder", architectures=["BertModel"]))


def test_vocabulary_larger_than_the_model_is_refused(tmp_path):
    with pytest.raises(ImportFailure, match="embeds only 1000 tokens"):
        read_source(checkpoint(tmp_path / "ckpt", vocab_size=1000))


def test_catalog_mismatch_stops_before_the_export(tmp_path):
    # treatment_changes is cased with labels negative/positive: a lowercasing source is refused.
    folder = checkpoint(tmp_path / "ckpt")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    request = ImportRequest(source=folder, model="treatment_changes", repository=tmp_path / "repo")
    with pytest.raises(ImportFailure, match="uncased but treatment_changes is cased"):
        import_model(request, Progress(quiet=True))
    assert not (tmp_path / "repo").exists()


def test_catalog_entries_refuse_overrides(tmp_path):
    request = ImportRequest(
        source=checkpoint(tmp_path / "ckpt"),
        model="treatment_changes",
        repository=tmp_path / "repo",
        options=NewModelOptions(max_tokens=256),
    )
    with pytest.raises(ImportFailure, match=r"catalog entry.*--max-tokens"):
        import_model(request, Progress(quiet=True))


def test_unknown_folders_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFailure, match="holds no model this importer knows"):
        read_source(tmp_path / "empty")


def test_texts_file_is_read_as_lines_or_json(tmp_path):
    lines = tmp_path / "texts.txt"
    lines.write_text("first text\n\nsecond text\n")
    assert read_texts(lines) == ("first text", "second text")
    listed = tmp_path / "texts.json"
    listed.write_text(json.dumps(["a", "b"]))
    assert read_texts(listed) == ("a", "b")
    listed.write_text(json.dumps({"a": 1}))
    with pytest.raises(ImportFailure, match="JSON list of strings"):
        read_texts(listed)
