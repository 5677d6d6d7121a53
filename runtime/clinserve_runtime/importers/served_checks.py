"""Checks of the graph in the form it will be served, run at import before anything is written.

- Agreement of an optimized graph (``cpu``: int8, ``gpu``: fp16) with the fp32 graph, and for
  ``cpu`` both speeds side by side.
- Batch independence of the served graph, on every profile (``batch_independence``).

Both run on the graphs as :func:`~clinserve_runtime.repository.served_graph` writes them (the
``cpu`` execution profile trims padding), so what is checked is what Triton will run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from clinserve_ensemble.catalog import ModelSpec
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.importers.batch_independence import NEIGHBOURS, batch_causes, check_batch_independence
from clinserve_runtime.importers.check_causes import agreement_causes
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.parity import encode_chunks, profile_comparison
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.ort_providers import local_providers
from clinserve_runtime.repository import served_graph


@dataclass
class ServedChecks:
    """What the checks found: facts for the import record and one line per failure cause."""

    facts: dict[str, Any] = field(default_factory=dict)
    causes: list[str] = field(default_factory=list)


def write_served_form(graph: Path, spec: ModelSpec, settings: ServingSettings, target: Path) -> Path:
    """Write ``graph`` as the settings serve it (trimmed of padding or plain) to ``target``."""
    onnx.save_model(served_graph(graph, spec, settings), str(target))
    return target


def summary(report: dict[str, Any]) -> str:
    """One line of a comparison: max |Δ logit| and agreement rates."""
    parts = [
        f"max |Δ logit| {report['max_abs_logit_diff']:.2e}",
        f"agreement {report['decision_agreement']:.1%}",
    ]
    if report.get("units") == "words":
        parts.append(f"word agreement {report['unit_agreement']:.1%}")
    return ", ".join(parts)


def check_served(
    *,
    profile: str,
    spec: ModelSpec,
    tokenizer_path: Path,
    reference: Path,
    served: Path,
    texts: Sequence[str],
    progress: Progress,
) -> ServedChecks:
    """Compare ``served`` with the fp32 ``reference`` (other profiles) and check batch independence.

    Args:
        profile: The import profile.
        spec: The model entry.
        tokenizer_path: The served tokenizer.json.
        reference: The fp32 graph in its served form.
        served: The graph to serve (``reference`` itself on the fp32 profile).
        texts: The check texts.
        progress: Progress lines.
    """
    checks = ServedChecks()
    # The gpu profile's fp16 graph is compared where it will run, on the GPU, when this machine
    # and its ONNX Runtime build have one (make serve ORT=gpu); fp16 kernels may be missing from
    # ONNX Runtime on some CPUs, and the record says where each side ran and why.
    may_not_run_on_cpu = profile == "gpu"
    where = local_providers(prefer_gpu=profile == "gpu")
    if profile != "fp32":
        timed = profile == "cpu"  # fp16 is not faster on CPU: the gpu profile is compared only
        what = "compare with fp32 and time both" if timed else f"compare with fp32 on {where.names[0]}"
        with progress.step(f"profile {profile}: {what}"):
            try:
                chunks = encode_chunks(tokenizer_path, spec, texts)
                comparison = profile_comparison(spec, chunks, reference, served, timed=timed, providers=where)
            except ImportFailure:
                raise
            except Exception as exc:  # onnxruntime raises its own exception types
                if not may_not_run_on_cpu:
                    raise
                comparison = {
                    "executed": False,
                    "reason": f"ONNX Runtime on {where.names[0]} cannot run it: {exc}",
                }
        comparison["provider_choice"] = where.reason
        if "providers" in comparison:
            ran = comparison["providers"]
            progress.note(
                f"profile {profile}: fp32 reference on {ran['reference']}, {profile} graph on"
                f" {ran['candidate']} ({where.reason})"
            )
        if not timed:
            comparison["note"] = "agreement only: GPU speed is not measured at import"
        checks.facts["comparison"] = comparison
        if "decision_agreement" in comparison:
            speed = (
                f", speed-up x{comparison['speedup']} ({comparison['fp32_sequences_per_s']} ->"
                f" {comparison['optimized_sequences_per_s']} seq/s)"
                if timed
                else ""
            )
            progress.note(f"profile {profile}: {summary(comparison)}{speed}")
            checks.causes += [f"{profile} profile vs fp32: {c}" for c in agreement_causes(spec, comparison)]
    with progress.step(f"batch independence: each text alone vs beside {NEIGHBOURS} others"):
        try:
            independence = check_batch_independence(spec, tokenizer_path, served, texts)
        except Exception as exc:  # onnxruntime raises its own exception types
            if not may_not_run_on_cpu:
                raise
            independence = {"executed": False, "reason": f"ONNX Runtime on CPU cannot run it: {exc}"}
    checks.facts["batch_independence"] = independence
    if "passed" in independence:
        progress.note(
            f"batch independence: max |Δ score| {independence['max_abs_score_diff']:.1e},"
            f" {independence['decisions']} changed on {independence['decisions_changed']} of"
            f" {independence['texts']} texts, passed={independence['passed']}"
        )
        checks.causes += [f"batch independence ({profile} profile): {c}" for c in batch_causes(independence)]
    return checks
