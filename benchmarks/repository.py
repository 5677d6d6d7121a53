"""The benchmark's model repositories and their serving-settings variants.

Demo weights are built once per size with only the benchmarked models
(``clinserve_runtime.build_demo.build(models=...)``). A *variant* is the same weights served
with other :class:`~clinserve_runtime.configs.ServingSettings`: its folder hard-links the
weights and tokenizer files and holds freshly rendered ``config.pbtxt`` files, so comparing
settings costs no rebuild and no copy of a 440 MB graph. Only a variant whose settings want
the other graph form (``trim_padding``, see ``clinserve_runtime.padding_trim``) gets its own
rewritten copy of the graph.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import onnx
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec, load_catalog
from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.ort_options import SHARE_CORES
from clinserve_runtime.padding_trim import is_trimmed, untrim
from clinserve_runtime.repository import served_graph


@dataclass(frozen=True)
class Variant:
    """Named serving settings to measure side by side.

    Attributes:
        share_cores: The stand-in's core sharing (``clinserve_runtime.core_sharing``), its own
            default. ``False`` writes the stand-in-only ``share_cores: "false"`` into the
            variant's cpu-profile ONNX configs (:func:`variant_configs`); no generated config
            carries it.
    """

    name: str
    settings: ServingSettings
    description: str
    share_cores: bool = True

    def changes(self, reference: ServingSettings) -> dict[str, Any]:
        """Settings that differ from ``reference`` (name -> value), and the stand-in's sharing when off."""
        changed = {
            f.name: getattr(self.settings, f.name)
            for f in fields(ServingSettings)
            if getattr(self.settings, f.name) != getattr(reference, f.name)
        }
        return changed if self.share_cores else {**changed, SHARE_CORES: False}

    def on_profile(self, profile: str) -> Variant:
        """The same variant on the execution profile ``profile`` (``cpu`` or ``gpu``)."""
        return replace(self, settings=replace(self.settings, execution_profile=profile))


# A size ending in this suffix serves its fp32 size's weights through the importer's ``cpu``
# profile (fused transformer subgraphs, static int8 quantization calibrated on the importer's
# calibration texts): what a CPU deployment runs.
INT8_SUFFIX = "-int8"
_INT8_STAMP = "int8-source.json"
# Part of the stamp: int8 weights written by another quantization are rebuilt.
QUANTIZATION = "static-qdq-minmax"
_QUANTIZATION_KEY = "_quantization"


def fp32_size(size: str) -> str:
    """The size whose fp32 weights ``size`` derives from (itself for an fp32 size)."""
    return size.removesuffix(INT8_SUFFIX)


def build_weights(
    root: Path,
    size: str,
    models: Sequence[str],
    *,
    source_models: Sequence[str] | None = None,
    profile: str = "cpu",
) -> Path:
    """Demo weights of ``size`` for ``models`` under ``root/<size>`` (skipped when up to date).

    For an int8 size, ``source_models`` are the models its fp32 size is built with (default:
    ``models``): building that repository with another list would rebuild it. The graphs are
    written in ``profile``'s form (trimmed of padding on ``cpu``, plain on ``gpu``), so the
    in-process sessions run the graph the servers run; keep one ``root`` per profile.

    Raises:
        ValueError: For an int8 size on another profile than ``cpu`` (its graph is the cpu
            import profile's).
    """
    repository = root / size
    if size.endswith(INT8_SUFFIX):
        if profile != "cpu":
            raise ValueError(f"{size} is the cpu import profile's int8 graph: it has no {profile} form")
        source = build_weights(root, fp32_size(size), source_models or models)
        return quantize_weights(source, repository, models)
    build(repository, size, models=list(models), settings=ServingSettings(execution_profile=profile))
    return repository


def quantize_weights(source: Path, target: Path, models: Sequence[str]) -> Path:
    """``source`` with every ONNX step's graph replaced by its ``cpu`` import profile.

    The other files are hard-linked. Skipped when the stamp names the same source graphs and
    the same quantization.
    """
    from clinserve_runtime.importers.calibration_texts import CALIBRATION_TEXTS
    from clinserve_runtime.importers.parity import encode_chunks, model_feeds
    from clinserve_runtime.importers.profiles import optimize_cpu
    from clinserve_runtime.importers.progress import Progress

    specs = load_catalog()
    graphs = {name: source / specs[name].onnx_model / "1" / "model.onnx" for name in models}
    identity: dict[str, Any] = {name: [g.stat().st_size, g.stat().st_mtime_ns] for name, g in graphs.items()}
    identity[_QUANTIZATION_KEY] = QUANTIZATION
    stamp = target / _INT8_STAMP
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == identity:
        return target
    if target.exists():
        shutil.rmtree(target)
    for model_dir in source.iterdir():
        if model_dir.is_dir():
            shutil.copytree(model_dir, target / model_dir.name, copy_function=_link_or_copy_paths)
    progress = Progress()
    for name, graph in graphs.items():
        work = target / ".int8-work" / name
        work.mkdir(parents=True)
        # The optimizer matches BERT patterns from the graph inputs: give it the plain graph,
        # then write the result in the form the default settings serve, as an import would.
        plain = work / "fp32.onnx"
        onnx.save_model(untrim(onnx.load(str(graph))), str(plain))
        # Calibrated as an import calibrates it: the served tokenizer, the built-in texts.
        tokenizer = source / specs[name].tokenizer_model / "1" / "tokenizer.json"
        calibration = [model_feeds(c.batch) for c in encode_chunks(tokenizer, specs[name], CALIBRATION_TEXTS)]
        quantized, _facts = optimize_cpu(plain, work, progress, calibration)
        served = target / specs[name].onnx_model / "1" / "model.onnx"
        served.unlink()  # a hard link to the fp32 graph: replace it, never write through it
        onnx.save_model(served_graph(quantized, specs[name], ServingSettings()), str(served))
    shutil.rmtree(target / ".int8-work")
    stamp.write_text(json.dumps(identity), encoding="utf-8")
    return target


def int8_agreement(
    fp32_repository: Path, int8_repository: Path, model: str, texts: Sequence[str]
) -> dict[str, Any]:
    """Decisions and logits of the int8 graph against the fp32 one on ``texts`` (the importer's check)."""
    from clinserve_runtime.importers.parity import encode_chunks, profile_comparison

    spec = load_catalog()[model]
    chunks = encode_chunks(fp32_repository / spec.tokenizer_model / "1" / "tokenizer.json", spec, texts)
    return profile_comparison(
        spec,
        chunks,
        fp32_repository / spec.onnx_model / "1" / "model.onnx",
        int8_repository / spec.onnx_model / "1" / "model.onnx",
        timed=False,
    )


def materialize(source: Path, target: Path, models: Sequence[str], variant: Variant, *, weights: str) -> Path:
    """Write the variant's repository: hard-linked model files, configs rendered from its settings."""
    specs = load_catalog()
    if target.exists():
        shutil.rmtree(target)
    provenance = Provenance(weights=weights, untrained=True)
    for name in models:
        spec = specs[name]
        for model_name, config in variant_configs(spec, variant, provenance).items():
            source_version = source / model_name / "1"
            if not source_version.is_dir():
                raise FileNotFoundError(f"{source_version} is missing: build the benchmark weights first")
            version = target / model_name / "1"
            version.mkdir(parents=True)
            for item in source_version.iterdir():
                if item.name == "model.onnx" and is_trimmed(
                    onnx.load(str(item), load_external_data=False)
                ) != (variant.settings.trims_padding()):
                    onnx.save_model(served_graph(item, spec, variant.settings), str(version / item.name))
                elif item.is_file():
                    _link_or_copy(item, version / item.name)
            (target / model_name / "config.pbtxt").write_text(config, encoding="utf-8")
    return target


def variant_configs(spec: ModelSpec, variant: Variant, provenance: Provenance) -> dict[str, str]:
    """Triton model name -> ``config.pbtxt`` a variant serves for one catalog entry.

    The generated configs, plus, for a variant without core sharing on the ``cpu`` profile, the
    stand-in's own ``share_cores: "false"`` on the ONNX model (the gpu profile's instances run
    on the GPU, where the stand-in does not share cores).
    """
    configs = render_all(spec, variant.settings, provenance)
    if variant.share_cores or variant.settings.execution_profile != "cpu":
        return configs
    config = text_format.Parse(configs[spec.onnx_model], model_config_pb2.ModelConfig())
    config.parameters[SHARE_CORES].string_value = "false"
    return {**configs, spec.onnx_model: str(text_format.MessageToString(config))}


def _link_or_copy_paths(source: str, target: str) -> None:
    _link_or_copy(Path(source), Path(target))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copy2(source, target)


def describe(settings: ServingSettings) -> dict[str, Any]:
    """JSON-ready settings."""
    record = asdict(settings)
    record["length_buckets"] = list(settings.buckets())
    return record
