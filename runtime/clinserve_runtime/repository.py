"""Write Triton model directories: configs, thin adapters, tokenizer and ONNX weights.

A catalog entry becomes four directories (``V`` is the served version, 1 for demo weights)::

    <name>/config.pbtxt, 1/                     ensemble (public name)
    <name>_tokenizer/config.pbtxt, V/model.py, V/tokenizer.json
    <name>_onnx/config.pbtxt, V/model.onnx
    <name>_postprocess/config.pbtxt, V/model.py, V/clinserve-version.json

Every version of the three steps is written together, so a version's graph never meets another
version's vocabulary (``clinserve_runtime.versions``). Each entry is written into a scratch
directory first and moved into place only when complete, so an interrupted or failed build
never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import onnx
from tokenizers import Tokenizer

from clinserve_ensemble.catalog import ModelSpec
from clinserve_ensemble.version_record import VersionRecord
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.padding_trim import trim_padding, untrim

BUILD_STAMP = "clinserve-build.json"
# Stamp key of the entries imported with real weights (clinserve-import); demo builds keep them.
STAMP_IMPORTED = "imported"

# Thin adapters: the implementation lives once, in an importable package. The guarded import
# applies PYTHONPATH in the local runtime, whose embedded Python ignores it (see
# runtime/backends/python/clinserve_site_path.py); in the NGC image the module is absent.
_ADAPTER = """\"\"\"Triton adapter; the implementation is {module}.\"\"\"

import contextlib

with contextlib.suppress(ImportError):
    import clinserve_site_path  # noqa: F401

from {module} import TritonPythonModel  # noqa: E402, F401
"""
ADAPTERS = {
    "tokenizer": _ADAPTER.format(module="clinserve_preprocess.triton_tokenizer"),
    "postprocess": _ADAPTER.format(module="clinserve_ensemble.triton_postprocess"),
}

Progress = Callable[[str], None]


def write_model_entry(
    repository: Path,
    spec: ModelSpec,
    *,
    tokenizer: Tokenizer,
    onnx_model: onnx.ModelProto | Path,
    provenance: Provenance,
    settings: ServingSettings,
    keep_versions: Sequence[int] = (),
) -> VersionRecord:
    """Write (or replace) the four model directories of one catalog entry.

    Args:
        repository: The model repository root.
        spec: The catalog entry.
        tokenizer: Tokenizer with the model's vocabulary and casing.
        onnx_model: The graph, in memory or as a file to copy.
        provenance: Weight origin and the version to write, recorded in the configs, in the
            version's record and in every result; the configs serve this version.
        settings: Serving settings rendered into the configs.
        keep_versions: Versions of the existing entry to keep beside the new one (for a
            rollback); every other version is removed.

    Returns:
        The new version's record.
    """
    repository.mkdir(parents=True, exist_ok=True)
    version = str(provenance.version)
    with tempfile.TemporaryDirectory(prefix=f".building-{spec.name}-", dir=repository) as scratch:
        root = Path(scratch)
        for model_name in spec.triton_models:
            (root / model_name / ("1" if model_name == spec.name else version)).mkdir(parents=True)
        (root / spec.tokenizer_model / version / "model.py").write_text(ADAPTERS["tokenizer"])
        (root / spec.postprocess_model / version / "model.py").write_text(ADAPTERS["postprocess"])
        tokenizer.save(str(root / spec.tokenizer_model / version / "tokenizer.json"))
        target = root / spec.onnx_model / version / "model.onnx"
        onnx.save_model(served_graph(onnx_model, spec, settings), str(target))
        provenance = replace(provenance, digest=file_digest(target))
        record = VersionRecord(
            model_version=provenance.version,
            weights=provenance.weights,
            untrained=provenance.untrained,
            weights_digest=provenance.digest,
            execution_profile=settings.execution_profile,
        )
        record.write(root / spec.postprocess_model / version)
        for model_name, text in render_all(spec, settings, provenance).items():
            (root / model_name / "config.pbtxt").write_text(text, encoding="utf-8")
        for kept in keep_versions:
            for model_name in spec.step_models:
                _link_tree(repository / model_name / str(kept), root / model_name / str(kept))
        for model_name in spec.triton_models:
            final = repository / model_name
            if final.exists():
                shutil.rmtree(final)
            (root / model_name).rename(final)
    return record


def file_digest(path: Path) -> str:
    """``sha256:`` and the first 16 hex digits of a file (how results name a graph)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()[:16]}"


def _link_tree(source: Path, target: Path) -> None:
    """Copy a kept version folder by hard links: no second copy of its weights on disk."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is missing: the version to keep is incomplete")

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # a filesystem without hard links
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def served_graph(
    onnx_model: onnx.ModelProto | Path, spec: ModelSpec, settings: ServingSettings
) -> onnx.ModelProto:
    """The graph as the settings serve it: trimmed of padding on the ``cpu`` profile, plain else.

    A graph that cannot be trimmed (an opset before 13, say) is served plain, with a warning:
    it gives the same results, it only computes the padding.
    """
    model = onnx.load(str(onnx_model)) if isinstance(onnx_model, Path) else onnx_model
    if not settings.trims_padding():
        return untrim(model)
    try:
        return trim_padding(model, token_level=spec.is_token_classifier)
    except ValueError as exc:
        warnings.warn(f"{spec.onnx_model} is served without padding trimming: {exc}", stacklevel=2)
        return model


def graph_form(settings: ServingSettings) -> str:
    """What :func:`served_graph` makes of a graph under ``settings`` (part of the fingerprint)."""
    return "trimmed" if settings.trims_padding() else "plain"


def catalog_fingerprint(specs: dict[str, ModelSpec], settings: ServingSettings | None = None) -> str:
    """Hash of the catalog entries and of what the build writes from them.

    Covers the rendered configs and the adapters too, so that a change to the catalog, the
    serving settings or the config rendering code makes an existing repository stale.
    """
    settings = settings or ServingSettings()
    marker = Provenance(weights="fingerprint", untrained=True)
    blob = json.dumps(
        {
            "catalog": {n: asdict(s) for n, s in sorted(specs.items())},
            "configs": {n: render_all(s, settings, marker) for n, s in sorted(specs.items())},
            "adapters": ADAPTERS,
            "graphs": graph_form(settings),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_stamp(repository: Path) -> dict[str, object] | None:
    """The build record of a repository, or None when it was never built."""
    path = repository / BUILD_STAMP
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def write_stamp(repository: Path, record: dict[str, object]) -> None:
    """Record what a build produced (weights kind, catalog fingerprint, settings)."""
    (repository / BUILD_STAMP).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
