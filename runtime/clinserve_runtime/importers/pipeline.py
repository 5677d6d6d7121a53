"""One import: read a source, check it, export/optimize the graph, prove parity, write the entry.

The graph is checked in the form it will be served (``served_checks``): an optimized graph
against fp32, and every graph for batch independence. A failed check is reported as one line
per cause (``check_causes``), in the exception's message or, with ``accept_failed_checks``, as
warnings and in the record's ``checks_failed``.

Everything before :func:`~clinserve_runtime.repository.write_model_entry` happens in a work
folder; any failure stops there, so the repository is never left with a half-written model.
The import is then recorded in the repository's build stamp (so ``make repository`` keeps it)
and in ``<name>_onnx/<version>/clinserve-import.json`` next to the graph it wrote. An import
writes a new version of the entry and keeps the one it replaces (``clinserve_runtime.versions``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnxruntime

from clinserve_ensemble.catalog import ModelSpec
from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer
from clinserve_runtime.configs import Provenance, ServingSettings
from clinserve_runtime.importers.calibration_texts import CALIBRATION_TEXTS
from clinserve_runtime.importers.check_causes import parity_causes
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.huggingface import read_checkpoint
from clinserve_runtime.importers.parity import encode_chunks, model_feeds, pytorch_parity
from clinserve_runtime.importers.parity_texts import DEFAULT_TEXTS
from clinserve_runtime.importers.profiles import PROFILES, Feeds, apply_profile
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.served_checks import check_served, summary, write_served_form
from clinserve_runtime.importers.source import SourceInfo, detect_kind
from clinserve_runtime.importers.spark_nlp import read_import_folder, read_saved_annotator
from clinserve_runtime.importers.validation import NewModelOptions, casing_note, resolve_spec, validate_graph
from clinserve_runtime.repository import STAMP_IMPORTED, read_stamp, write_model_entry, write_stamp
from clinserve_runtime.versions import VersionError, plan_import

IMPORT_RECORD = "clinserve-import.json"
PARITY_REPORT = "parity.json"
PROFILE_WEIGHT_SUFFIX = {"fp32": "", "cpu": "+int8", "gpu": "+fp16"}


@dataclass(frozen=True)
class ImportRequest:
    """What to import, and how.

    Attributes:
        source: The model folder.
        model: Catalog entry or new model name.
        repository: Model repository root.
        profile: ``fp32``, ``cpu`` (fusion + int8) or ``gpu`` (fp16 + TensorRT).
        options: Facts for a new model (task, casing, length, …).
        check_parity: Compare with the PyTorch original (Hugging Face sources).
        texts: The text set for parity, profile and batch-independence checks.
        calibration_texts: The texts the ``cpu`` profile fits its int8 activation scales on.
        accept_failed_checks: Write the model even when a check (parity, profile agreement,
            batch independence) misses its target (the record and stderr still say why).
        settings: Serving settings; the ``gpu`` profile switches the execution profile.
        keep_previous: Keep the version served until now beside the new one, for a rollback
            (``False`` for an image, where the previous image is the rollback).
    """

    source: Path
    model: str
    repository: Path
    profile: str = "fp32"
    options: NewModelOptions = field(default_factory=NewModelOptions)
    check_parity: bool = True
    texts: Sequence[str] = DEFAULT_TEXTS
    calibration_texts: Sequence[str] = CALIBRATION_TEXTS
    accept_failed_checks: bool = False
    settings: ServingSettings = field(default_factory=ServingSettings)
    keep_previous: bool = True


def read_source(path: Path) -> SourceInfo:
    """Read any supported source folder."""
    kind = detect_kind(path)
    if kind == "huggingface":
        return read_checkpoint(path)
    if kind == "sparknlp-saved":
        return read_saved_annotator(path)
    return read_import_folder(path)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file atomically (temporary file, then rename)."""
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(scratch, path)


def _spec_dict(spec: ModelSpec) -> dict[str, Any]:
    return {
        "task": spec.task,
        "labels": list(spec.labels),
        "cased": spec.cased,
        "max_tokens": spec.max_tokens,
        "per_sentence": spec.per_sentence,
        "threshold": spec.threshold,
        "activation": spec.activation,
    }


def import_model(request: ImportRequest, progress: Progress | None = None) -> dict[str, Any]:
    """Run one import end to end and return its record (also written next to the model).

    Raises:
        ImportFailure: When a check fails; nothing has been written then.
    """
    progress = progress or Progress()
    if request.profile not in PROFILES:
        raise ImportFailure(f"--profile must be one of {PROFILES}, not {request.profile!r}")
    started = time.perf_counter()
    with progress.step(f"read {request.source}"):
        info = read_source(request.source.resolve())
    progress.note(f"source: {info.kind}, {len(info.labels)} labels, vocabulary of {len(info.vocab)}")
    notes = [*info.notes, *filter(None, [casing_note(info)])]
    for note in notes:
        progress.note(f"note: {note}")
    spec = resolve_spec(request.model, info, request.options)
    settings = request.settings
    if request.profile == "gpu" and settings.execution_profile != "gpu":
        settings = ServingSettings(**{**settings.__dict__, "execution_profile": "gpu"})
    tokenizer = build_wordpiece_tokenizer(info.vocab, cased=spec.cased)
    # Before any work: an entry whose served version cannot be kept is refused now.
    try:
        version, keep = plan_import(
            request.repository, spec.name, settings.execution_profile, keep_previous=request.keep_previous
        )
    except VersionError as exc:
        raise ImportFailure(str(exc)) from exc
    if keep:
        _check_same_interface(request.repository, spec)
    record: dict[str, Any] = {
        "model": spec.name,
        "source": str(info.path),
        "source_kind": info.kind,
        "profile": request.profile,
        "spec": _spec_dict(spec),
        "notes": notes,
    }
    with tempfile.TemporaryDirectory(prefix="clinserve-import-") as scratch:
        work = Path(scratch)
        with progress.step("export ONNX (PyTorch)" if info.kind == "huggingface" else "extract ONNX"):
            fp32 = info.materialize(work, progress)
        with progress.step("validate graph against the Triton config"):
            record["graph"] = validate_graph(fp32, spec, info.vocab, settings)
        tokenizer_path = work / "tokenizer.json"
        tokenizer.save(str(tokenizer_path))
        causes: list[str] = []  # one line per reason a check failed
        if info.kind == "huggingface" and request.check_parity:
            with progress.step(f"parity: ONNX fp32 vs PyTorch on {len(request.texts)} texts"):
                parity = pytorch_parity(info.path, fp32, tokenizer_path, spec, request.texts)
            progress.note(
                f"parity: {summary(parity)}, passed={parity['passed']}"
                f" (PyTorch on CPU, ONNX on {parity['providers']['candidate']})"
            )
            record["parity"] = parity
            causes += [f"parity with the PyTorch checkpoint: {c}" for c in parity_causes(spec, parity)]
        calibration: list[Feeds] = []
        if request.profile == "cpu":
            calibration = [
                model_feeds(c.batch) for c in encode_chunks(tokenizer_path, spec, request.calibration_texts)
            ]
        optimized, profile_facts = apply_profile(request.profile, fp32, work, progress, calibration)
        if calibration:
            profile_facts["calibration"]["texts"] = len(request.calibration_texts)
        # The checks below run on the graphs as they will be served (trimmed of padding on the
        # cpu execution profile), and the entry is written from the checked file.
        reference = write_served_form(fp32, spec, settings, work / "fp32.served.onnx")
        served = (
            reference
            if request.profile == "fp32"
            else write_served_form(optimized, spec, settings, work / f"{request.profile}.served.onnx")
        )
        checks = check_served(
            profile=request.profile,
            spec=spec,
            tokenizer_path=tokenizer_path,
            reference=reference,
            served=served,
            texts=request.texts,
            progress=progress,
        )
        record["batch_independence"] = checks.facts.pop("batch_independence")
        profile_facts.update(checks.facts)
        causes += checks.causes
        record["profile_facts"] = profile_facts
        if causes and not request.accept_failed_checks:
            raise ImportFailure(
                f"the checks found {len(causes)} problem(s); nothing was written:\n"
                + "".join(f"  {cause}\n" for cause in causes)
                + "Fix the source, or pass --accept-failed-checks to serve it anyway"
            )
        for cause in causes:
            progress.warn(f"check failed, served anyway (--accept-failed-checks): {cause}")
        record["checks_failed"] = causes
        weights = f"{info.description}{PROFILE_WEIGHT_SUFFIX[request.profile]}"
        record["weights"] = weights
        record["imported_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["versions"] = {"onnxruntime": onnxruntime.__version__, **_torch_versions(info.kind)}
        with progress.step(f"write {spec.name} version {version} into {request.repository}"):
            written = write_model_entry(
                request.repository,
                spec,
                tokenizer=tokenizer,
                onnx_model=served,
                provenance=Provenance(weights=weights, untrained=False, version=version),
                settings=settings,
                keep_versions=keep,
            )
    record["model_version"] = version
    record["weights_digest"] = written.weights_digest
    record["kept_versions"] = list(keep)
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["timings"] = dict(progress.timings)
    _write_json(request.repository / spec.onnx_model / str(version) / IMPORT_RECORD, record)
    _record_in_stamp(request.repository, spec.name, record)
    return record


def _check_same_interface(repository: Path, spec: ModelSpec) -> None:
    """Refuse a new version whose task, labels or limits differ from the served entry's.

    The configs (labels, output shape, length) are shared by every version of an entry, so a
    kept version must fit the new configs for a rollback to serve it.
    """
    from clinserve_runtime.importers.served import served_spec  # served imports this module

    if not (repository / spec.name / "config.pbtxt").is_file():
        return
    served = served_spec(repository, spec.name)
    fields = ("task", "labels", "max_tokens", "per_sentence", "threshold")
    differ = [f for f in fields if getattr(served, f) != getattr(spec, f)]
    if differ:
        shown = "; ".join(f"{f}: served {getattr(served, f)!r}, new {getattr(spec, f)!r}" for f in differ)
        raise ImportFailure(
            f"{spec.name} is served with another interface ({shown}); every version of a model"
            " shares its configs, so the version kept for a rollback would no longer fit: import"
            f" under a new name, or remove the four {spec.name}* folders first"
        )


def _torch_versions(kind: str) -> dict[str, str]:
    if kind != "huggingface":
        return {}
    import torch
    import transformers

    return {"torch": str(torch.__version__), "transformers": str(transformers.__version__)}


def _record_in_stamp(repository: Path, name: str, record: dict[str, Any]) -> None:
    """Mark the entry as imported so the demo builder keeps it (see build_demo)."""
    stamp = read_stamp(repository) or {}
    imported = dict(stamp.get(STAMP_IMPORTED) or {})  # type: ignore[call-overload]
    imported[name] = {
        "weights": record["weights"],
        "model_version": record["model_version"],
        "source": record["source"],
        "profile": record["profile"],
        "imported_at": record["imported_at"],
    }
    stamp[STAMP_IMPORTED] = imported
    write_stamp(repository, stamp)
