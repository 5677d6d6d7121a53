"""int8 with calibrated scales (the ``cpu`` profile) against dynamic int8 and fp32, side by side.

    .venv/bin/python tools/int8_compare.py REPOSITORY --model NAME [--texts FILE] [--seconds 20] [--threads 0]

Takes the fp32 graph of ``<NAME>_onnx`` in a model repository (an fp32 import, or demo weights),
builds the ``cpu`` profile's int8 graph from it (fusions, static quantization calibrated on the
importer's calibration texts) and, for comparison, the dynamically quantized graph the profile
wrote before (same fusions). Each graph is served as the default settings serve it (trimmed of
padding) and measured on the importer's check texts (or ``--texts``): agreement with fp32,
batch independence (each text alone vs beside 30 others), and speed, with passes over the texts
alternating between the three graphs in one process and the median pass taken. Prints a
Markdown table and the full JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.importer import read_texts
from clinserve_runtime.importers.batch_independence import check_batch_independence
from clinserve_runtime.importers.calibration_texts import CALIBRATION_TEXTS
from clinserve_runtime.importers.parity import compare_runners, encode_chunks, model_feeds, onnx_runner
from clinserve_runtime.importers.profiles import optimize_cpu
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.served import served_spec
from clinserve_runtime.padding_trim import untrim
from clinserve_runtime.repository import served_graph
from clinserve_runtime.versions import served_version


def quantize_dynamically(fused: Path, target: Path) -> Path:
    """The cpu profile's quantization before issue 16: activation scales from each execution."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        fused,
        target,
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return target


def compare(
    repository: Path, model: str, texts: tuple[str, ...], seconds: float, threads: int = 0
) -> dict[str, Any]:
    """The three graphs' agreement, batch independence and speed (see the module docs)."""
    spec = served_spec(repository, model)
    version = str(served_version(repository, model))  # the graph an import wrote (docs/import.md)
    tokenizer = repository / spec.tokenizer_model / version / "tokenizer.json"
    settings = ServingSettings()
    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="int8-compare-") as scratch:
        work = Path(scratch)
        plain = work / "fp32.onnx"
        onnx.save_model(
            untrim(onnx.load(str(repository / spec.onnx_model / version / "model.onnx"))), str(plain)
        )
        calibration = [model_feeds(c.batch) for c in encode_chunks(tokenizer, spec, CALIBRATION_TEXTS)]
        static, _facts = optimize_cpu(plain, work, progress, calibration)
        dynamic = quantize_dynamically(work / "model.fused.onnx", work / "dynamic.onnx")
        graphs = {"fp32": plain, "int8 static (cpu profile)": static, "int8 dynamic (before)": dynamic}
        served: dict[str, Path] = {}
        for name, graph in graphs.items():
            served[name] = work / f"{len(served)}.served.onnx"
            onnx.save_model(served_graph(graph, spec, settings), str(served[name]))
        chunks = encode_chunks(tokenizer, spec, texts)
        runners = {name: onnx_runner(path, threads=threads) for name, path in served.items()}
        results: dict[str, Any] = {"model": model, "texts": len(texts), "threads": threads, "graphs": {}}
        for name, path in served.items():
            with progress.step(f"{name}: agreement with fp32 and batch independence"):
                agreement = compare_runners(spec, chunks, runners["fp32"], runners[name])
                independence = check_batch_independence(spec, tokenizer, path, texts)
            results["graphs"][name] = {"agreement": agreement, "batch_independence": independence}
        passes: dict[str, list[float]] = {name: [] for name in runners}
        deadline = time.perf_counter() + seconds
        with progress.step(f"time the three graphs, alternating passes, {seconds:.0f} s"):
            while time.perf_counter() < deadline or len(passes["fp32"]) < 3:
                for name, run in runners.items():
                    started = time.perf_counter()
                    for chunk in chunks:
                        run(chunk.batch)
                    passes[name].append(time.perf_counter() - started)
        sequences = sum(c.batch.num_sequences for c in chunks)
        fp32_rate = sequences / float(np.median(passes["fp32"]))
        for name, values in passes.items():
            rate = sequences / float(np.median(values))
            results["graphs"][name]["sequences_per_s"] = round(rate, 1)
            results["graphs"][name]["speedup"] = round(rate / fp32_rate, 2)
            results["graphs"][name]["timing_passes"] = len(values)
        results["sequences"] = sequences
    return results


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| graph | seq/s | vs fp32 | agreement with fp32 | max \\|Δ logit\\|"
        " | alone vs batched: max \\|Δ score\\|, changed |",
        "|---|---|---|---|---|---|",
    ]
    for name, facts in results["graphs"].items():
        agreement, independence = facts["agreement"], facts["batch_independence"]
        lines.append(
            f"| {name} | {facts['sequences_per_s']} | x{facts['speedup']} |"
            f" {agreement['units_compared'] - agreement['units_differing']}/{agreement['units_compared']}"
            f" | {agreement['max_abs_logit_diff']:.3f} | {independence['max_abs_score_diff']:.1e},"
            f" {independence['decisions_changed']} of {independence['texts']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", type=Path, help="texts to measure on (.json list or lines)")
    parser.add_argument("--seconds", type=float, default=20.0, help="timing budget")
    parser.add_argument(
        "--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: one per core)"
    )
    args = parser.parse_args(argv)
    results = compare(args.repository, args.model, read_texts(args.texts), args.seconds, args.threads)
    print(table(results))
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
