"""Write Triton model directories: configs, thin adapters, tokenizer and ONNX weights.

A catalog entry becomes four directories::

    <name>/config.pbtxt, 1/                     ensemble (public name)
    <name>_tokenizer/config.pbtxt, 1/model.py, 1/tokenizer.json
    <name>_onnx/config.pbtxt, 1/model.onnx
    <name>_postprocess/config.pbtxt, 1/model.py

Each entry is written into a scratch directory first and moved into place only when complete,
so an interrupted or failed build never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import onnx
from tokenizers import Tokenizer

from clinserve_ensemble.catalog import ModelSpec
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
) -> None:
    """Write (or replace) the four model directories of one catalog entry.

    Args:
        repository: The model repository root.
        spec: The catalog entry.
        tokenizer: Tokenizer with the model's vocabulary and casing.
        onnx_model: The graph, in memory or as a file to copy.
        provenance: Weight origin, recorded in the configs and every result.
        settings: Serving settings rendered into the configs.
    """
    repository.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".building-{spec.name}-", dir=repository) as scratch:
        root = Path(scratch)
        for model_name, text in render_all(spec, settings, provenance).items():
            version = root / model_name / "1"
            version.mkdir(parents=True)
            (root / model_name / "config.pbtxt").write_text(text, encoding="utf-8")
        (root / spec.tokenizer_model / "1" / "model.py").write_text(ADAPTERS["tokenizer"])
        (root / spec.postprocess_model / "1" / "model.py").write_text(ADAPTERS["postprocess"])
        tokenizer.save(str(root / spec.tokenizer_model / "1" / "tokenizer.json"))
        target = root / spec.onnx_model / "1" / "model.onnx"
        onnx.save_model(served_graph(onnx_model, spec, settings), str(target))
        for model_name in spec.triton_models:
            final = repository / model_name
            if final.exists():
                shutil.rmtree(final)
            (root / model_name).rename(final)


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
