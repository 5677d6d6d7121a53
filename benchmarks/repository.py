"""The benchmark's model repositories and their serving-settings variants.

Demo weights are built once per size with only the benchmarked models
(``clinserve_runtime.build_demo.build(models=...)``). A *variant* is the same weights served
with other :class:`~clinserve_runtime.configs.ServingSettings`: its folder hard-links the
weights and tokenizer files and holds freshly rendered ``config.pbtxt`` files, so comparing
settings costs no rebuild and no copy of a 440 MB graph.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import Provenance, ServingSettings, render_all


@dataclass(frozen=True)
class Variant:
    """Named serving settings to measure side by side."""

    name: str
    settings: ServingSettings
    description: str

    def changes(self, reference: ServingSettings) -> dict[str, Any]:
        """Settings that differ from ``reference`` (name -> value)."""
        return {
            f.name: getattr(self.settings, f.name)
            for f in fields(ServingSettings)
            if getattr(self.settings, f.name) != getattr(reference, f.name)
        }


def build_weights(root: Path, size: str, models: Sequence[str]) -> Path:
    """Demo weights of ``size`` for ``models`` under ``root/<size>`` (skipped when up to date)."""
    repository = root / size
    build(repository, size, models=list(models))
    return repository


def materialize(source: Path, target: Path, models: Sequence[str], variant: Variant, *, weights: str) -> Path:
    """Write the variant's repository: hard-linked model files, configs rendered from its settings."""
    specs = load_catalog()
    if target.exists():
        shutil.rmtree(target)
    provenance = Provenance(weights=weights, untrained=True)
    for name in models:
        spec = specs[name]
        for model_name, config in render_all(spec, variant.settings, provenance).items():
            source_version = source / model_name / "1"
            if not source_version.is_dir():
                raise FileNotFoundError(f"{source_version} is missing: build the benchmark weights first")
            version = target / model_name / "1"
            version.mkdir(parents=True)
            for item in source_version.iterdir():
                if item.is_file():
                    _link_or_copy(item, version / item.name)
            (target / model_name / "config.pbtxt").write_text(config, encoding="utf-8")
    return target


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
