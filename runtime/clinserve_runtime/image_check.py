"""Check a model repository before it is baked into a server image.

    python -m clinserve_runtime.image_check build/image-repository --profile gpu
    python -m clinserve_runtime.image_check /models --profile gpu --allow-demo

The image build (deploy/docker/Dockerfile, ``REPOSITORY=context``) and ``make image`` run it, so
that an image never carries untrained demo weights unless it was asked for (``make image
DEMO=1``, tagged ``-demo``), and never carries configs of the wrong execution profile (a
cpu-profile repository in a GPU image would run every model on the CPU).

It reads what the configs say: each ensemble's ``untrained`` and ``weights`` parameters (written
from :class:`clinserve_runtime.configs.Provenance`) and each ONNX step's instance kind.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_runtime.configs import EXECUTION_PROFILES

KIND_OF_PROFILE = {
    "cpu": model_config_pb2.ModelInstanceGroup.KIND_CPU,
    "gpu": model_config_pb2.ModelInstanceGroup.KIND_GPU,
}
HOW_TO_IMPORT = (
    "import real weights first (clinserve import <checkpoint> --model <name> --repository {repository}"
    " --profile {profile}; docs/import.md), or build a demo image on purpose (make image DEMO=1)"
)


@dataclass(frozen=True)
class Entry:
    """One served model of the repository, as its configs describe it."""

    name: str
    weights: str
    untrained: bool
    onnx_kinds: tuple[int, ...]


class RepositoryCheckError(Exception):
    """The repository is not fit for the image that was asked for."""


def _read_config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())


def read_entries(repository: Path) -> list[Entry]:
    """Every ensemble of ``repository`` with its weights and its ONNX step's instance kinds."""
    entries = []
    for config_path in sorted(repository.glob("*/config.pbtxt")):
        config = _read_config(config_path)
        if config.platform != "ensemble":
            continue
        parameters = {key: value.string_value for key, value in config.parameters.items()}
        onnx_steps = [
            step.model_name
            for step in config.ensemble_scheduling.step
            if (repository / step.model_name / "config.pbtxt").is_file()
            and _read_config(repository / step.model_name / "config.pbtxt").backend == "onnxruntime"
        ]
        kinds = tuple(
            group.kind
            for step in onnx_steps
            for group in _read_config(repository / step / "config.pbtxt").instance_group
        )
        entries.append(
            Entry(
                name=config.name,
                weights=parameters.get("weights", "unknown"),
                untrained=parameters.get("untrained", "true") != "false",
                onnx_kinds=kinds,
            )
        )
    return entries


def check_repository(repository: Path, profile: str, *, allow_demo: bool = False) -> list[Entry]:
    """The entries of a repository fit for an image of ``profile``.

    Raises:
        RepositoryCheckError: With every problem found: no models, demo weights (unless
            ``allow_demo``), ONNX steps configured for another profile.
    """
    if profile not in EXECUTION_PROFILES:
        choices = ", ".join(EXECUTION_PROFILES)
        raise RepositoryCheckError(f"--profile must be one of {choices}, not {profile!r}")
    how = HOW_TO_IMPORT.format(repository=repository, profile=profile)
    entries = read_entries(repository) if repository.is_dir() else []
    if not entries:
        raise RepositoryCheckError(f"{repository} holds no models: {how}")
    problems = []
    demo = [e for e in entries if e.untrained]
    if demo and not allow_demo:
        listed = ", ".join(f"{e.name} ({e.weights})" for e in demo)
        problems.append(f"{repository} holds demo weights (UNTRAINED): {listed}; {how}")
    wrong = [e.name for e in entries if set(e.onnx_kinds) != {KIND_OF_PROFILE[profile]}]
    if wrong:
        problems.append(
            f"the ONNX steps of {', '.join(wrong)} are not configured for the {profile} profile:"
            f" re-import them with --profile {profile}, or build the image with the matching PROFILE"
        )
    if problems:
        raise RepositoryCheckError("\n".join(problems))
    return entries


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 when the repository is fit, 1 with the reasons when not."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path, help="model repository to check")
    parser.add_argument("--profile", choices=EXECUTION_PROFILES, required=True, help="the image's profile")
    parser.add_argument("--allow-demo", action="store_true", help="accept demo weights (a demo image)")
    args = parser.parse_args(argv)
    try:
        entries = check_repository(args.repository, args.profile, allow_demo=args.allow_demo)
    except RepositoryCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(f"{e.name} ({e.weights})" for e in entries)
    print(f"{args.repository}: {len(entries)} models for the {args.profile} profile: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
