"""Model versions on disk: an import adds one and keeps the served one; a rollback switches back.

Entries are written with the repository writer the importer and the demo builder use, from a
tiny demo graph; the configs are read back as Triton reads them (protobuf text format).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from tokenizers import Tokenizer
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec
from clinserve_ensemble.version_record import VERSION_RECORD, VersionRecord
from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer
from clinserve_runtime.configs import Provenance, ServingSettings
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.importer import main
from clinserve_runtime.importers import ImportFailure, ImportRequest, NewModelOptions, import_model
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.repository import file_digest, write_model_entry
from clinserve_runtime.versions import (
    EntryVersions,
    VersionError,
    entry_versions,
    plan_import,
    rollback,
    rollback_target,
    serve_version,
)

MODEL = "treatment_changes"


@pytest.fixture(scope="module")
def spec(catalog) -> ModelSpec:
    return catalog[MODEL]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tokenizer(demo_vocab) -> Tokenizer:
    return build_wordpiece_tokenizer(demo_vocab, cased=True)


def write_version(
    repository: Path,
    spec: ModelSpec,
    tokenizer: Tokenizer,
    version: int,
    weights: str,
    *,
    keep: tuple[int, ...] = (),
    settings: ServingSettings | None = None,
) -> VersionRecord:
    vocab_size = tokenizer.get_vocab_size()
    graph = build_bert_classifier(
        weights, 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=vocab_size
    )
    return write_model_entry(
        repository,
        spec,
        tokenizer=tokenizer,
        onnx_model=graph,
        provenance=Provenance(weights=weights, untrained=weights.startswith("demo"), version=version),
        settings=settings or ServingSettings(),
        keep_versions=keep,
    )


def versions_of(repository: Path) -> EntryVersions:
    versions = entry_versions(repository, MODEL)
    assert versions is not None
    return versions


def record_of(repository: Path, spec: ModelSpec, version: int) -> VersionRecord:
    record = VersionRecord.read(repository / spec.postprocess_model / str(version))
    assert record is not None
    return record


def config(repository: Path, model: str) -> model_config_pb2.ModelConfig:
    text = (repository / model / "config.pbtxt").read_text(encoding="utf-8")
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def params(repository: Path, model: str) -> dict[str, str]:
    return {k: v.string_value for k, v in config(repository, model).parameters.items()}


def served_by_policy(repository: Path, spec: ModelSpec) -> list[list[int]]:
    return [list(config(repository, step).version_policy.specific.versions) for step in spec.step_models]


@pytest.fixture
def two_versions(tmp_path, spec, tokenizer) -> Path:
    """Demo weights as version 1, then an import as version 2 that keeps version 1."""
    repository = tmp_path / "repo"
    write_version(repository, spec, tokenizer, 1, "demo-tiny")
    version, keep = plan_import(repository, MODEL, "cpu")
    assert (version, keep) == (2, (1,))
    write_version(repository, spec, tokenizer, version, "huggingface:new-weights", keep=keep)
    return repository  # type: ignore[no-any-return]


def test_a_first_write_is_version_1_with_its_record_and_a_specific_policy(tmp_path, spec, tokenizer):
    repository = tmp_path / "repo"
    assert plan_import(repository, MODEL, "cpu") == (1, ())
    record = write_version(repository, spec, tokenizer, 1, "demo-tiny")
    assert served_by_policy(repository, spec) == [[1], [1], [1]]
    assert not config(repository, MODEL).HasField("version_policy")  # the ensemble is always 1
    assert (repository / MODEL / "1").is_dir()
    graph = repository / spec.onnx_model / "1" / "model.onnx"
    assert record == VersionRecord(1, "demo-tiny", True, file_digest(graph), "cpu")
    assert record_of(repository, spec, 1) == record
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", record.weights_digest)
    for model in (MODEL, spec.postprocess_model):
        described = params(repository, model)
        assert (described["model_version"], described["weights_digest"]) == ("1", record.weights_digest)
    assert versions_of(repository).served == 1


def test_an_import_adds_a_version_and_keeps_the_served_one_by_hard_links(tmp_path, spec, tokenizer):
    repository = tmp_path / "repo"
    write_version(repository, spec, tokenizer, 1, "demo-tiny")
    kept_graph = repository / spec.onnx_model / "1" / "model.onnx"
    inode = kept_graph.stat().st_ino
    write_version(repository, spec, tokenizer, 2, "huggingface:new-weights", keep=(1,))
    assert kept_graph.stat().st_ino == inode  # the same file: no second copy of the weights
    versions = versions_of(repository)
    assert (versions.present, versions.served) == ((1, 2), 2)
    assert served_by_policy(repository, spec) == [[2], [2], [2]]
    described = params(repository, MODEL)
    assert (described["weights"], described["untrained"], described["model_version"]) == (
        "huggingface:new-weights",
        "false",
        "2",
    )
    # Each version keeps its own vocabulary, graph and record; the kept one is not copied.
    for step, name in ((spec.tokenizer_model, "tokenizer.json"), (spec.onnx_model, "model.onnx")):
        assert (repository / step / "1" / name).is_file() and (repository / step / "2" / name).is_file()
    old = record_of(repository, spec, 1)
    new = record_of(repository, spec, 2)
    assert (old.weights, new.weights) == ("demo-tiny", "huggingface:new-weights")
    assert old.weights_digest != new.weights_digest


def test_rollback_serves_the_previous_version_with_its_own_description(two_versions, spec):
    repository = two_versions
    result = rollback(repository, MODEL)
    assert (result["served_before"], result["served"], result["versions_present"]) == (2, 1, [1, 2])
    assert served_by_policy(repository, spec) == [[1], [1], [1]]
    old = record_of(repository, spec, 1)
    for model in (MODEL, spec.postprocess_model):
        described = params(repository, model)
        assert described["weights"] == "demo-tiny" and described["untrained"] == "true"
        assert (described["model_version"], described["weights_digest"]) == ("1", old.weights_digest)
    # Everything else in the configs is untouched.
    assert json.loads(params(repository, MODEL)["labels"]) == list(spec.labels)
    assert (repository / spec.onnx_model / "2" / "model.onnx").is_file()
    # --to-version serves the newer one again.
    assert rollback(repository, MODEL, to_version=2)["served"] == 2
    assert served_by_policy(repository, spec) == [[2], [2], [2]]


def test_rollback_without_an_earlier_version_names_the_model_and_the_versions(two_versions):
    rollback(two_versions, MODEL)
    with pytest.raises(VersionError) as refused:
        rollback(two_versions, MODEL)
    message = str(refused.value)
    assert f"{MODEL} has no version before the served one" in message
    assert "versions present: 1, 2 (serving 1)" in message
    assert "--to-version 2 serves the newer one again" in message


def test_rollback_of_a_model_imported_once_says_there_is_nothing_to_go_back_to(tmp_path, spec, tokenizer):
    write_version(tmp_path, spec, tokenizer, 1, "huggingface:only")
    with pytest.raises(VersionError, match=r"versions present: 1 \(serving 1\)"):
        rollback(tmp_path, MODEL)
    with pytest.raises(VersionError, match=r"has no version 7 \(versions present: 1"):
        rollback(tmp_path, MODEL, to_version=7)
    with pytest.raises(VersionError, match="has no model biomarker"):
        rollback(tmp_path, "biomarker")


def test_an_import_after_a_rollback_keeps_the_served_version_and_drops_the_rolled_back_one(
    two_versions, spec, tokenizer
):
    repository = two_versions
    rollback(repository, MODEL)
    version, keep = plan_import(repository, MODEL, "cpu")
    assert (version, keep) == (3, (1,))  # numbers are never reused: 3 always means these weights
    write_version(repository, spec, tokenizer, version, "huggingface:third", keep=keep)
    versions = versions_of(repository)
    assert (versions.present, versions.served) == ((1, 3), 3)
    assert rollback_target(versions) == 1


def test_an_import_may_drop_the_previous_version_and_still_numbers_on(two_versions):
    # An image's repository: the previous image is the rollback, the version number still grows.
    assert plan_import(two_versions, MODEL, "gpu", keep_previous=False) == (3, ())


def test_steps_that_disagree_on_their_versions_are_refused(two_versions, spec):
    shutil.rmtree(two_versions / spec.tokenizer_model / "1")
    with pytest.raises(VersionError, match=r"hold different versions .*treatment_changes_tokenizer: \[2\]"):
        entry_versions(two_versions, MODEL)


def test_configs_left_serving_different_versions_are_named_and_repaired_by_to_version(two_versions, spec):
    path = two_versions / spec.tokenizer_model / "config.pbtxt"
    path.write_text(path.read_text(encoding="utf-8").replace("versions: 2", "versions: 1"), encoding="utf-8")
    with pytest.raises(
        VersionError, match=r"do not serve one version together .*treatment_changes_tokenizer: \[1\]"
    ):
        entry_versions(two_versions, MODEL)
    assert rollback(two_versions, MODEL, to_version=2)["served"] == 2
    assert served_by_policy(two_versions, spec) == [[2], [2], [2]]


def test_a_version_for_another_execution_profile_is_not_kept_or_served(two_versions, spec):
    with pytest.raises(
        VersionError, match="written for the cpu execution profile; this import writes the gpu"
    ):
        plan_import(two_versions, MODEL, "gpu")
    record = record_of(two_versions, spec, 1)
    replace(record, execution_profile="gpu").write(two_versions / spec.postprocess_model / "1")
    with pytest.raises(VersionError, match="version 1 of treatment_changes was written for the gpu"):
        serve_version(two_versions, MODEL, 1)


def test_an_entry_written_before_versions_gets_its_record_from_its_configs(tmp_path, spec, tokenizer):
    write_version(tmp_path, spec, tokenizer, 1, "huggingface:legacy")
    # What older builds wrote: no version policy (Triton's default, the latest) and no record.
    for step in spec.step_models:
        path = tmp_path / step / "config.pbtxt"
        old = text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
        old.ClearField("version_policy")
        path.write_text(text_format.MessageToString(old), encoding="utf-8")
    (tmp_path / spec.postprocess_model / "1" / VERSION_RECORD).unlink()
    assert versions_of(tmp_path).served == 1
    assert plan_import(tmp_path, MODEL, "cpu") == (2, (1,))
    record = record_of(tmp_path, spec, 1)
    assert record is not None and (record.weights, record.untrained) == ("huggingface:legacy", False)
    assert record.weights_digest == file_digest(tmp_path / spec.onnx_model / "1" / "model.onnx")


def test_the_versions_command_lists_each_version_with_its_weights(two_versions, capsys):
    assert main(["versions", "--model", MODEL, "--repository", str(two_versions)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["served"] == 2
    assert [(v["model_version"], v["served"], v["weights"], v["untrained"]) for v in listed["versions"]] == [
        (1, False, "demo-tiny", True),
        (2, True, "huggingface:new-weights", False),
    ]
    assert main(["versions", "--model", "biomarker", "--repository", str(two_versions)]) == 2
    assert "has no model biomarker" in capsys.readouterr().err


def test_the_rollback_command_prints_the_switch_and_fails_with_the_versions(two_versions, capsys):
    assert main(["rollback", "--model", MODEL, "--repository", str(two_versions)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["served"] == 1
    assert "restart the server" in captured.err
    assert main(["rollback", "--model", MODEL, "--repository", str(two_versions)]) == 2
    assert "rollback failed: treatment_changes has no version before" in capsys.readouterr().err


def test_demo_weights_are_version_1_and_say_untrained(tmp_path, spec):
    from clinserve_runtime.build_demo import build

    build(tmp_path, "tiny", models=[MODEL])
    assert versions_of(tmp_path).present == (1,)
    record = record_of(tmp_path, spec, 1)
    assert (record.model_version, record.weights, record.untrained) == (1, "demo-tiny", True)
    described = params(tmp_path, MODEL)
    assert (described["untrained"], described["model_version"]) == ("true", "1")
    with pytest.raises(VersionError, match=r"versions present: 1 \(serving 1\)"):
        rollback(tmp_path, MODEL)


def test_an_import_that_changes_the_labels_is_refused_unless_it_keeps_nothing(tmp_path, demo_vocab):
    from tests.fixtures.spark_nlp_layouts import write_import_folder

    vocab = sorted(demo_vocab, key=demo_vocab.__getitem__)[:3000]
    graph = build_bert_classifier("labels", 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=3000)

    def source(name: str, labels: list[str]) -> Path:
        folder: Path = tmp_path / name
        write_import_folder(folder, onnx_bytes=graph.SerializeToString(), vocab=vocab, labels=labels)
        return folder

    def run(folder: Path, *, keep_previous: bool = True) -> dict[str, Any]:
        request = ImportRequest(
            source=folder,
            model="my_changes",
            repository=tmp_path / "repo",
            options=NewModelOptions(cased=False, max_tokens=128),
            keep_previous=keep_previous,
        )
        return import_model(request, Progress(quiet=True))

    run(source("first", ["no_change", "change"]))
    renamed = source("renamed", ["stay", "switch"])
    with pytest.raises(ImportFailure) as refused:
        run(renamed)
    assert "my_changes is served with another interface (labels: served ('no_change', 'change')," in str(
        refused.value
    )
    assert "import under a new name" in str(refused.value)
    assert versions_of_model(tmp_path / "repo", "my_changes").present == (1,)
    record = run(renamed, keep_previous=False)
    assert (record["model_version"], record["kept_versions"]) == (2, [])
    assert versions_of_model(tmp_path / "repo", "my_changes").present == (2,)


def versions_of_model(repository: Path, name: str) -> EntryVersions:
    versions = entry_versions(repository, name)
    assert versions is not None
    return versions
