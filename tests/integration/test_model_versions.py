"""Versions end to end: import twice, serve the new one, roll back, restart, serve the old one.

Two Spark NLP ``loadSavedModel`` folders (tiny BERT graphs with different weights, a cased
vocabulary) are imported into ``treatment_changes`` of a fresh repository through
``clinserve import``; a real Triton server with that one entry answers through the ensemble,
and ``clinserve models`` reads the ensemble's parameters. Triton runs with model control mode
none, so the rollback takes effect at the restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tritonclient.grpc as grpcclient

from clinserve import ClinServeClient
from clinserve_ensemble.version_record import VersionRecord
from clinserve_runtime.build_demo import demo_vocabulary_path
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.triton import GRPC_ADMIN_KEY_HEADER, TritonServer, loopback_options
from tests.fixtures.spark_nlp_layouts import write_import_folder
from tests.fixtures.vocabularies import capitalized

pytestmark = pytest.mark.integration

MODEL = "treatment_changes"
VOCAB_SIZE = 3000
CLI = str(Path(sys.executable).with_name("clinserve"))
TEXTS = ["Switched from metformin to insulin after two weeks.", "No change to the current regimen."]


def clinserve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ)
    )


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """``treatment_changes`` imported twice: version 1 (``weights_a``), then 2 (``weights_b``)."""
    root: Path = tmp_path_factory.mktemp("versions")
    vocab = capitalized(demo_vocabulary_path().read_text(encoding="utf-8").splitlines()[:VOCAB_SIZE], 60)
    repository = root / "model_repository"
    for name in ("weights_a", "weights_b"):
        graph = build_bert_classifier(
            name, 2, token_level=False, shape=DEMO_SIZES["tiny"], vocab_size=VOCAB_SIZE
        )
        source = root / name
        write_import_folder(
            source, onnx_bytes=graph.SerializeToString(), vocab=vocab, labels=["negative", "positive"]
        )
        done = clinserve("import", str(source), "--model", MODEL, "--repository", str(repository), "--quiet")
        assert done.returncode == 0, done.stderr
    return repository


def serve_and_read(repository: Path, log: Path) -> dict[str, Any]:
    """Start a server on the repository; what a result, ``clinserve models`` and the index say."""
    options = loopback_options(repository)
    with TritonServer(options, log_path=log) as server:
        server.wait_until_ready(timeout_s=300)
        with ClinServeClient(server.grpc_url) as client:
            results = client.classify(MODEL, TEXTS)
        listed = clinserve("models", "--url", server.grpc_url, "--json")
        assert listed.returncode == 0, listed.stderr
        table = clinserve("models", "--url", server.grpc_url)
        triton = grpcclient.InferenceServerClient(server.grpc_url)
        try:
            index = triton.get_model_repository_index(
                headers={GRPC_ADMIN_KEY_HEADER: options.admin_key}, as_json=True
            )["models"]
        finally:
            triton.close()
    (info,) = [json.loads(line) for line in listed.stdout.splitlines() if json.loads(line)["name"] == MODEL]
    loaded = {(m["name"], m.get("version")) for m in index if m.get("state") == "READY"}
    return {"results": results, "info": info, "table": table.stdout, "loaded": loaded}


def record(repository: Path, version: int) -> VersionRecord:
    found = VersionRecord.read(repository / f"{MODEL}_postprocess" / str(version))
    assert found is not None
    return found


def test_the_new_version_is_served_and_a_rollback_serves_the_previous_one_after_a_restart(repository):
    first, second = record(repository, 1), record(repository, 2)
    assert (first.weights, second.weights) == ("sparknlp-import:weights_a", "sparknlp-import:weights_b")

    new = serve_and_read(repository, repository.parent / "triton-new.log")
    for result in new["results"]:
        assert (result.model_version, result.weights, result.weights_digest) == (
            2,
            second.weights,
            second.weights_digest,
        )
        assert result.untrained is False
    assert (new["info"]["model_version"], new["info"]["weights"]) == (2, second.weights)
    assert new["info"]["weights_digest"] == second.weights_digest
    assert second.weights_digest in new["table"]
    # Exactly the served version of each step is loaded (version_policy specific).
    for step in (f"{MODEL}_tokenizer", f"{MODEL}_onnx", f"{MODEL}_postprocess"):
        assert (step, "2") in new["loaded"] and (step, "1") not in new["loaded"], new["loaded"]

    done = clinserve("import", "rollback", "--model", MODEL, "--repository", str(repository))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["served"] == 1

    old = serve_and_read(repository, repository.parent / "triton-old.log")
    for result in old["results"]:
        assert (result.model_version, result.weights, result.weights_digest) == (
            1,
            first.weights,
            first.weights_digest,
        )
    assert (old["info"]["model_version"], old["info"]["weights"]) == (1, first.weights)
    for step in (f"{MODEL}_tokenizer", f"{MODEL}_onnx", f"{MODEL}_postprocess"):
        assert (step, "1") in old["loaded"] and (step, "2") not in old["loaded"], old["loaded"]
    # Other weights, other scores: the graph changed with the record, not only the label on it.
    assert [r.scores for r in old["results"]] != [r.scores for r in new["results"]]

    again = clinserve("import", "rollback", "--model", MODEL, "--repository", str(repository))
    assert again.returncode == 2
    assert "treatment_changes has no version before the served one" in again.stderr
    assert "versions present: 1, 2 (serving 1)" in again.stderr
