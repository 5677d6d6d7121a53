"""What one model version is: the record the post-processor reports in every result.

Each version of an entry (``<name>_tokenizer/<v>``, ``<name>_onnx/<v>``, ``<name>_postprocess/<v>``)
is written together, and ``<name>_postprocess/<v>/clinserve-version.json`` says which weights it
holds. The post-processor reads the record of the version Triton loaded it as, so a result names
the weights that actually produced it, whichever version the configs serve
(``clinserve_runtime.versions`` switches them; docs/import.md, "Versions and rollback").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION_RECORD = "clinserve-version.json"


@dataclass(frozen=True)
class VersionRecord:
    """The facts of one written model version.

    Attributes:
        model_version: The Triton version number (the name of the version folders).
        weights: Where the weights came from (``demo-tiny``, ``huggingface:<name>``, ...).
        untrained: True for generated demo weights.
        weights_digest: ``sha256:`` and the first 16 hex digits of the served ``model.onnx``:
            two versions imported from folders of the same name still differ here.
        execution_profile: ``cpu`` or ``gpu``: the configs this version's graph was written for.
    """

    model_version: int
    weights: str
    untrained: bool
    weights_digest: str
    execution_profile: str

    def write(self, folder: Path) -> Path:
        """Store the record in a version folder; returns its path."""
        path = folder / VERSION_RECORD
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> VersionRecord | None:
        """The record of a version folder, or None when it has none (written before versions).

        Raises:
            ValueError: When the file exists but does not hold a record (naming the file).
        """
        path = folder / VERSION_RECORD
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                model_version=int(data["model_version"]),
                weights=str(data["weights"]),
                untrained=bool(data["untrained"]),
                weights_digest=str(data["weights_digest"]),
                execution_profile=str(data["execution_profile"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a model version record ({type(exc).__name__}: {exc})") from exc
