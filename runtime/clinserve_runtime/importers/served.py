"""The ``parity`` command: re-check an imported model against its PyTorch original, later.

It reads what is *served* (the ensemble's config parameters, the tokenizer step's
tokenizer.json, the ONNX step's graph), compares it in-process and, given a server URL, through
the running ensemble, and stores the report as ``<name>_onnx/<version>/parity.json`` (the
served version's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec
from clinserve_runtime.importers.check_causes import parity_causes, served_causes
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.parity import (
    AGREEMENT_TARGET,
    LOGIT_TOLERANCE,
    pytorch_parity,
    served_parity,
)
from clinserve_runtime.importers.pipeline import IMPORT_RECORD, PARITY_REPORT, _write_json
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.versions import VersionError, entry_versions


def served_spec(repository: Path, name: str) -> ModelSpec:
    """The model entry as the ensemble config describes it to clients."""
    config_path = repository / name / "config.pbtxt"
    if not config_path.is_file():
        raise ImportFailure(f"{config_path} is missing: is {name} in {repository}?")
    config = text_format.Parse(config_path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
    params = {key: value.string_value for key, value in config.parameters.items()}
    try:
        task = params["task"]
        threshold = float(params["threshold"]) if "threshold" in params else None
        return ModelSpec(
            name=name,
            source_model=params.get("source_model", ""),
            seed_card="",
            description="",
            task=task,
            labels=tuple(json.loads(params["labels"])),
            cased=True,  # parity encodes with the served tokenizer.json, which carries the casing
            max_tokens=int(params["max_tokens"]),
            activation="sigmoid" if task == "multi_label" else "softmax",
            threshold=threshold,
            per_sentence=params.get("per_sentence") == "true",
        )
    except (KeyError, ValueError) as exc:
        raise ImportFailure(f"{config_path}: parameters do not describe the model ({exc})") from exc


def parity_command(
    repository: Path,
    name: str,
    source: Path,
    *,
    server_url: str | None,
    texts: Sequence[str],
    progress: Progress,
) -> dict[str, Any]:
    """Compare the served model with its Hugging Face original; store and return the report."""
    spec = served_spec(repository, name)
    try:
        versions = entry_versions(repository, name)
    except VersionError as exc:
        raise ImportFailure(str(exc)) from exc
    version = str(versions.served if versions else 1)
    onnx_dir = repository / spec.onnx_model / version
    record_path = onnx_dir / IMPORT_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    profile = str(record.get("profile", "fp32"))
    exact = profile == "fp32"
    graph = onnx_dir / "model.onnx"
    tokenizer = repository / spec.tokenizer_model / version / "tokenizer.json"
    if profile == "gpu" and not server_url:
        raise ImportFailure(
            f"{name} was imported with the gpu profile (fp16 for TensorRT): check it through a GPU"
            " server with --server-url"
        )
    report: dict[str, Any] = {
        "model": name,
        "model_version": int(version),
        "profile": profile,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": {
            "max_abs_logit_diff": LOGIT_TOLERANCE if exact else None,
            "decision_agreement": 1.0 if exact else AGREEMENT_TARGET,
        },
    }
    passed = True
    causes: list[str] = []
    if profile != "gpu":  # the fp16 graph is meant for a GPU; it is compared through the server
        with progress.step(f"parity: served graph in-process vs PyTorch on {len(texts)} texts"):
            in_process = pytorch_parity(source.resolve(), graph, tokenizer, spec, texts)
        if not exact:
            in_process["passed"] = (
                in_process["decision_agreement"] >= AGREEMENT_TARGET
                and in_process["tokenizer"]["differing"] == 0
            )
        report["in_process"] = in_process
        passed = bool(in_process["passed"])
        if not in_process["passed"]:
            found = parity_causes(spec, in_process, agreement_target=None if exact else AGREEMENT_TARGET)
            causes += [f"served graph in-process vs PyTorch: {c}" for c in found]
    if server_url:
        with progress.step(f"parity: served ensemble at {server_url} vs PyTorch"):
            served = served_parity(server_url, source.resolve(), tokenizer, spec, texts)
        within = served.get("max_abs_logit_diff_from_scores", 0.0) <= LOGIT_TOLERANCE or not exact
        served["passed"] = within and served["decision_agreement"] >= (1.0 if exact else AGREEMENT_TARGET)
        report["served"] = served
        passed = passed and served["passed"]
        found = served_causes(spec, served, exact=exact, agreement_target=AGREEMENT_TARGET)
        causes += [f"served ensemble at {server_url} vs PyTorch: {c}" for c in found]
    report["passed"] = passed
    report["failure_causes"] = causes
    _write_json(onnx_dir / PARITY_REPORT, report)
    return report
