"""Model versions of an entry: which are on disk, which is served, and switching back.

An entry's three steps (tokenizer, ONNX graph, post-processor) hold one version folder each
per version, written together (``repository.write_model_entry``); the steps' configs load
exactly the served one (``version_policy { specific { versions: [V] } }``) and the ensemble,
always version 1, calls them with ``model_version: -1``. An import adds version
``max + 1`` and keeps the version it replaces; a rollback points the configs back at it.

Triton runs with ``--model-control-mode=none`` (``clinserve_runtime.triton``): it reads the
configs only at start, so a new or rolled-back version is served after a restart (locally) or
a rolling update (Kubernetes; docs/deploy.md).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.version_record import VersionRecord
from clinserve_runtime.repository import STAMP_IMPORTED, file_digest, read_stamp, write_stamp

# The parameters of the ensemble and the post-processor that describe the served version.
_VERSION_PARAMETERS = ("weights", "untrained", "model_version", "weights_digest")


class VersionError(Exception):
    """A versioning request that cannot be done; the message names the model and its versions."""


def step_models(name: str) -> tuple[str, str, str]:
    """Triton names of an entry's versioned steps (``ModelSpec.step_models`` without a spec)."""
    return (f"{name}_tokenizer", f"{name}_onnx", f"{name}_postprocess")


@dataclass(frozen=True)
class EntryVersions:
    """The versions of one entry on disk.

    Attributes:
        model: Public model name.
        present: Every version whose three step folders exist, ascending.
        served: The version the configs load.
    """

    model: str
    present: tuple[int, ...]
    served: int

    def describe(self) -> str:
        """``versions present: 1, 2 (serving 2)``, for messages."""
        listed = ", ".join(str(v) for v in self.present)
        return f"versions present: {listed} (serving {self.served})"


def _read_config(path: Path) -> model_config_pb2.ModelConfig:
    if not path.is_file():
        raise VersionError(f"{path} is missing")
    return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())


def _write_config(path: Path, config: model_config_pb2.ModelConfig) -> None:
    """Replace a config atomically: Triton, or a copy into an image, never sees half a file."""
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(str(text_format.MessageToString(config)), encoding="utf-8")
    os.replace(scratch, path)


def _numeric_versions(folder: Path) -> set[int]:
    # Versions are the numeric folders of Triton's repository layout; nothing else is one.
    return {int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and p.name[0] != "0"}


def _policy_versions(config: model_config_pb2.ModelConfig, present: set[int]) -> set[int]:
    """The versions a config makes Triton load, from those present."""
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "specific":
        return set(policy.specific.versions) & present
    if choice == "all":
        return present
    count = policy.latest.num_versions if choice == "latest" else 1
    return set(sorted(present)[-max(count, 1) :])


def present_versions(repository: Path, name: str) -> tuple[int, ...] | None:
    """The versions whose three step folders exist, ascending; None without such an entry.

    Raises:
        VersionError: When a version folder is missing in one of the steps.
    """
    folders = [repository / step for step in step_models(name)]
    if not all(folder.is_dir() for folder in folders):
        return None
    found = {folder.name: _numeric_versions(folder) for folder in folders}
    if len({frozenset(v) for v in found.values()}) != 1:
        listed = "; ".join(f"{step}: {sorted(v)}" for step, v in found.items())
        raise VersionError(
            f"the steps of {name} hold different versions ({listed}): a version is written to all"
            " three together; remove the incomplete version folders"
        )
    present = found[folders[0].name]
    if not present:
        raise VersionError(f"{name} has no version folder in {repository}")
    return tuple(sorted(present))


def entry_versions(repository: Path, name: str) -> EntryVersions | None:
    """The versions of entry ``name``, or None when the repository has no such entry.

    Raises:
        VersionError: When the steps disagree (a version folder missing in one of them, or
            configs that serve different versions): naming the steps and their versions.
    """
    present = present_versions(repository, name)
    if present is None:
        return None
    served = {
        step: _policy_versions(_read_config(repository / step / "config.pbtxt"), set(present))
        for step in step_models(name)
    }
    if len({frozenset(v) for v in served.values()}) != 1 or len(next(iter(served.values()))) != 1:
        listed = "; ".join(f"{step}: {sorted(v)}" for step, v in served.items())
        raise VersionError(
            f"the configs of {name} do not serve one version together ({listed});"
            f" set it with: clinserve import rollback --model {name} --to-version N"
        )
    (version,) = next(iter(served.values()))
    return EntryVersions(model=name, present=present, served=version)


def served_version(repository: Path, name: str) -> int:
    """The version the configs of ``name`` serve (1 where the repository has no such entry)."""
    versions = entry_versions(repository, name)
    return versions.served if versions else 1


def version_record(repository: Path, name: str, version: int) -> VersionRecord | None:
    """The record of one version (None for a version written before records existed)."""
    try:
        return VersionRecord.read(repository / f"{name}_postprocess" / str(version))
    except ValueError as exc:
        raise VersionError(str(exc)) from exc


def ensure_record(repository: Path, name: str, version: int) -> VersionRecord:
    """The version's record, written from the served configs for a version that lacks one.

    A repository built before versions existed has one version and no record; its configs
    still say which weights it serves, so the record of that (served) version is recoverable.
    """
    record = version_record(repository, name, version)
    if record is not None:
        return record
    params = _parameters(_read_config(repository / name / "config.pbtxt"))
    record = VersionRecord(
        model_version=version,
        weights=params.get("weights", "unknown"),
        untrained=params.get("untrained", "false") == "true",
        weights_digest=file_digest(repository / f"{name}_onnx" / str(version) / "model.onnx"),
        execution_profile=configs_profile(repository, name),
    )
    record.write(repository / f"{name}_postprocess" / str(version))
    return record


def configs_profile(repository: Path, name: str) -> str:
    """The execution profile the entry's configs are rendered for (GPU instances: ``gpu``)."""
    onnx_config = _read_config(repository / f"{name}_onnx" / "config.pbtxt")
    kinds = {group.kind for group in onnx_config.instance_group}
    return "gpu" if model_config_pb2.ModelInstanceGroup.KIND_GPU in kinds else "cpu"


def _parameters(config: model_config_pb2.ModelConfig) -> dict[str, str]:
    return {key: value.string_value for key, value in config.parameters.items()}


def plan_import(
    repository: Path, name: str, execution_profile: str, *, keep_previous: bool = True
) -> tuple[int, tuple[int, ...]]:
    """``(new version, versions to keep)`` for an import of ``name``.

    The new version is one above every version present (a number is never reused, so it
    always names the same weights); the version served now is kept for a rollback (unless
    ``keep_previous`` is False), and older ones are dropped (each holds a whole graph).

    Raises:
        VersionError: When the kept version was written for another execution profile: a
            rollback would serve its graph under configs it was not made for.
    """
    versions = entry_versions(repository, name)
    if versions is None:
        return 1, ()
    if not keep_previous:
        return max(versions.present) + 1, ()
    kept = ensure_record(repository, name, versions.served)
    if kept.execution_profile != execution_profile:
        raise VersionError(
            f"{name} serves version {kept.model_version}, written for the {kept.execution_profile}"
            f" execution profile; this import writes the {execution_profile} profile, and a rollback"
            f" would serve that graph under {execution_profile} configs: import into a repository"
            f" built for {execution_profile} (build_demo --profile {execution_profile}), or remove"
            f" the four {name}* folders first"
        )
    return max(versions.present) + 1, (versions.served,)


def rollback_target(versions: EntryVersions, to_version: int | None = None) -> int:
    """The version a rollback serves: ``to_version``, else the newest one below the served one.

    Raises:
        VersionError: Naming the model and the versions present when there is none.
    """
    if to_version is not None:
        if to_version not in versions.present:
            raise VersionError(f"{versions.model} has no version {to_version} ({versions.describe()})")
        return to_version
    earlier = [v for v in versions.present if v < versions.served]
    if not earlier:
        raise VersionError(
            f"{versions.model} has no version before the served one to roll back to"
            f" ({versions.describe()}); an import keeps the version it replaces, so a model"
            " imported once into an empty repository has none"
            + (
                f"; --to-version {max(versions.present)} serves the newer one again"
                if max(versions.present) > versions.served
                else ""
            )
        )
    return max(earlier)


def serve_version(repository: Path, name: str, version: int) -> VersionRecord:
    """Point the entry's configs at ``version``: its steps load it, its parameters describe it.

    Raises:
        VersionError: When the version is absent or was written for another execution profile.
    """
    # Only the folders are read here, not the policies: this also repairs configs that a crash
    # left serving different versions.
    present = present_versions(repository, name)
    if present is None:
        raise VersionError(f"{repository} has no model {name}")
    if version not in present:
        listed = ", ".join(str(v) for v in present)
        raise VersionError(f"{name} has no version {version} (versions present: {listed})")
    profile = configs_profile(repository, name)
    record = version_record(repository, name, version)
    if record is None:
        raise VersionError(
            f"version {version} of {name} has no {repository / f'{name}_postprocess' / str(version)}"
            "/clinserve-version.json, so which weights it holds is not known; re-import them"
        )
    if record.execution_profile != profile:
        raise VersionError(
            f"version {version} of {name} was written for the {record.execution_profile} execution"
            f" profile, the configs serve {profile}"
        )
    values: dict[str, Any] = {
        "weights": record.weights,
        "untrained": "true" if record.untrained else "false",
        "model_version": str(record.model_version),
        "weights_digest": record.weights_digest,
    }
    for step in step_models(name):
        path = repository / step / "config.pbtxt"
        config = _read_config(path)
        config.version_policy.specific.ClearField("versions")
        config.version_policy.specific.versions.append(version)
        if step.endswith("_postprocess"):
            _set_parameters(config, values)
        _write_config(path, config)
    ensemble_path = repository / name / "config.pbtxt"
    ensemble = _read_config(ensemble_path)
    _set_parameters(ensemble, values)
    _write_config(ensemble_path, ensemble)
    _record_in_stamp(repository, name, record)
    return record


def _set_parameters(config: model_config_pb2.ModelConfig, values: dict[str, str]) -> None:
    for key in _VERSION_PARAMETERS:
        config.parameters[key].string_value = values[key]


def _record_in_stamp(repository: Path, name: str, record: VersionRecord) -> None:
    """Keep the build stamp's note of an imported entry in step with the served version."""
    stamp = read_stamp(repository)
    imported = dict(stamp.get(STAMP_IMPORTED) or {}) if stamp else {}  # type: ignore[call-overload]
    if stamp is None or name not in imported:
        return
    imported[name] = {**imported[name], "weights": record.weights, "model_version": record.model_version}
    stamp[STAMP_IMPORTED] = imported
    write_stamp(repository, stamp)


def rollback(repository: Path, name: str, to_version: int | None = None) -> dict[str, Any]:
    """Serve the version before the served one (or ``to_version``); returns what changed.

    ``to_version`` also repairs configs that serve different versions (an interrupted switch).
    """
    present = present_versions(repository, name)
    if present is None:
        raise VersionError(f"{repository} has no model {name} (no {name}_onnx folder)")
    try:
        versions: EntryVersions | None = entry_versions(repository, name)
    except VersionError:
        if to_version is None:
            raise
        versions = None
    target = rollback_target(versions, to_version) if versions else to_version
    if target is None:  # cannot happen: without readable versions to_version is set
        raise VersionError(f"{name}: no version to serve")
    record = serve_version(repository, name, target)
    return {
        "model": name,
        "served_before": versions.served if versions else None,
        "served": target,
        "versions_present": list(present),
        "weights": record.weights,
        "untrained": record.untrained,
        "weights_digest": record.weights_digest,
        "takes_effect": "at the next server start (model control mode none): restart it, or roll out"
        " the image",
    }


def describe_versions(repository: Path, name: str) -> dict[str, Any]:
    """Every version of ``name`` on disk with its record, and which one is served."""
    versions = entry_versions(repository, name)
    if versions is None:
        raise VersionError(f"{repository} has no model {name} (no {name}_onnx folder)")
    listed = []
    for version in versions.present:
        record = version_record(repository, name, version)
        listed.append(
            {
                "model_version": version,
                "served": version == versions.served,
                **({k: v for k, v in asdict(record).items() if k != "model_version"} if record else {}),
            }
        )
    return {"model": name, "served": versions.served, "versions": listed}
