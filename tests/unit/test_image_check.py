"""clinserve_runtime.image_check: what may be baked into a server image.

The image build (``REPOSITORY=context``) and ``make image`` run this check; demo weights get
into an image only through ``make image DEMO=1``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer, read_vocabulary
from clinserve_runtime.build_demo import build, demo_vocabulary_path
from clinserve_runtime.configs import Provenance, ServingSettings
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.image_check import RepositoryCheckError, check_repository, main
from clinserve_runtime.repository import write_model_entry

MODEL = "treatment_changes"


def write_entry(repository: Path, spec, *, untrained: bool, profile: str) -> None:
    graph = build_bert_classifier(spec.name, len(spec.labels), token_level=False, shape=DEMO_SIZES["tiny"])
    write_model_entry(
        repository,
        spec,
        tokenizer=build_wordpiece_tokenizer(read_vocabulary(demo_vocabulary_path()), cased=spec.cased),
        onnx_model=graph,
        provenance=Provenance(
            weights="demo-tiny" if untrained else "huggingface:checkpoint", untrained=untrained
        ),
        settings=ServingSettings(execution_profile=profile),
    )


def test_imported_weights_of_the_images_profile_pass(tmp_path, catalog):
    write_entry(tmp_path, catalog[MODEL], untrained=False, profile="gpu")
    (entry,) = check_repository(tmp_path, "gpu")
    assert (entry.name, entry.weights, entry.untrained) == (MODEL, "huggingface:checkpoint", False)
    assert main([str(tmp_path), "--profile", "gpu"]) == 0


def test_demo_weights_are_refused_unless_asked_for(tmp_path, capsys):
    build(tmp_path, "tiny", settings=ServingSettings(execution_profile="gpu"), models=[MODEL])
    with pytest.raises(
        RepositoryCheckError, match=r"demo weights \(UNTRAINED\): treatment_changes \(demo-tiny\)"
    ):
        check_repository(tmp_path, "gpu")
    assert main([str(tmp_path), "--profile", "gpu"]) == 1
    error = capsys.readouterr().err
    assert "clinserve import" in error and "make image DEMO=1" in error
    assert check_repository(tmp_path, "gpu", allow_demo=True)[0].untrained


def test_configs_of_another_profile_are_refused_by_name(tmp_path, catalog):
    write_entry(tmp_path, catalog[MODEL], untrained=False, profile="cpu")
    with pytest.raises(RepositoryCheckError, match=f"{MODEL} are not configured for the gpu profile"):
        check_repository(tmp_path, "gpu")
    assert check_repository(tmp_path, "cpu")


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p / "missing"], ids=["empty", "missing"])
def test_a_repository_without_models_is_refused_with_how_to_import(tmp_path, make):
    with pytest.raises(RepositoryCheckError, match="holds no models: import real weights first"):
        check_repository(make(tmp_path), "gpu")
