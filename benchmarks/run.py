"""Orchestration of ``make bench``: everything measured side by side in one bounded run.

For each model size (``base``: BioBERT-base shape; ``base-int8``: the same weights through the
importer's ``cpu`` profile, int8; ``tiny``; ``tiny-int8`` on request), on the same corpus:

1. build demo weights for the benchmarked models only (skipped when up to date), quantized for
   an ``-int8`` size, with their decisions compared against the fp32 graph's;
2. the limit (``benchmarks.limit``, its own process);
3. each serving variant: a Triton server on free loopback ports, loaded by ``benchmarks.loadgen``
   from a separate client process at every concurrency, with Triton's statistics;
4. the peers: the ``transformers`` pipeline (always on the fp32 weights) and the per-request
   ONNX Runtime server (on the size's graph); then every served variant and peer again with
   ``--batch-texts`` texts per request (a service that batches on its side);
5. on the base size, long-document token classification (``benchmarks.long_docs``);

then ``results.json``, ``REPORT.md`` and the PNG plots, and the key ratios on stdout. Steps
run in that order under one time budget; a step that no longer fits is skipped and the
report says so.

``--profile`` (``auto`` by default: ``gpu`` where ONNX Runtime would run the models on a GPU,
else ``cpu``, as ``clinserve_runtime.build_demo`` resolves it) is the execution profile of
everything measured: the variants' configs (``KIND_GPU`` and TensorRT on ``gpu``), the graph
form of the weights, and the provider of every in-process session (``benchmarks.sessions``), so
the limit, the ONNX Runtime peer and the served path run on the GPU together or not at all. On
``gpu`` the int8 sizes (cpu import profile graphs) and the variants that serve what another
serves there are left out, each with a line saying why. Where every session actually ran is
recorded (the served path's from the stand-in's log line) and printed in the report.

    python -m benchmarks                      # what `make bench` runs (`make bench ORT=gpu` on a GPU host)
    python -m benchmarks --variants all       # every settings experiment (longer than the budget)
    python -m benchmarks --sizes tiny --concurrency 1 --duration 1 --output-dir /tmp/smoke
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import machine
from benchmarks.limit import WholeTextTokenizer, spread
from benchmarks.peers.hf_checkpoint import STAMP
from benchmarks.peers.serve import PeerServer
from benchmarks.report import policy_label, write_report
from benchmarks.repository import (
    INT8_SUFFIX,
    Variant,
    build_weights,
    describe,
    fp32_size,
    int8_agreement,
    materialize,
)
from benchmarks.results import strip_raw
from benchmarks.sessions import session_providers
from benchmarks.stats import percentile
from benchmarks.variants import DEFAULT_VARIANTS, on_profile, select
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.build_demo import AUTO_PROFILE, resolve_profile
from clinserve_runtime.configs import EXECUTION_PROFILES, ServingSettings
from clinserve_runtime.ort_providers import CUDA, onnxruntime_build, providers_in_log
from clinserve_runtime.triton import PROJECT_ROOT, ServerOptions, TritonServer, free_ports
from lab.corpus import DEFAULT_MIX, generate_corpus, save_corpus

MAIN_MODEL = "treatment_changes"
LONG_DOC_MODEL = "drug_development_trials"
# base-int8: the base weights through the importer's cpu profile (int8), as a CPU deployment
# would serve them; its transformers peer keeps the fp32 weights (what a team writes first).
SIZES = ("base", "base-int8", "tiny", "tiny-int8")
DEFAULT_SIZES = ("base", "base-int8", "tiny")
DEFAULT_BUDGET_S = 20 * 60
AGREEMENT_TEXTS = 48
# Window per concurrency level, by size: the base model answers tens of texts/s on two cores.
DEFAULT_DURATION_S = {"base": 8.0, "base-int8": 4.0, "tiny": 3.0, "tiny-int8": 3.0}
DEFAULT_WARMUP_S = {"base": 2.0, "base-int8": 2.0, "tiny": 1.0, "tiny-int8": 1.0}
# The workload of several texts per request. A base request of 8 texts takes about a second
# here (docs/benchmarks.md, "Reading the report"): at c=8 it would only measure the 2 s
# queue timeout, and a base window holds a handful of requests, the first ones still paying a
# new shape's set-up. So base sizes run c=1 alone, with three times the window and warm-up;
# tiny runs c=1 and c=8 on its window.
DEFAULT_BATCH_CONCURRENCY = {"base": [1], "base-int8": [1], "tiny": [1, 8], "tiny-int8": [1, 8]}
BATCHED_WINDOW_FACTOR = {"base": 3.0, "base-int8": 3.0, "tiny": 1.0, "tiny-int8": 1.0}


@dataclass
class Plan:
    """What one run measures."""

    sizes: list[str]
    variants: list[Variant]
    concurrency: list[int]
    duration_s: dict[str, float]
    warmup_s: dict[str, float]
    corpus_size: int
    seed: int
    peers: bool
    long_docs: bool
    long_doc_sizes: list[int]
    long_doc_repeats: int
    work_dir: Path
    output_dir: Path
    budget_s: float
    command: str
    background_sample_s: float = 3.0
    paired_texts: int = 48
    batch_texts: int = 8
    # Concurrency of the batched workload by size; --batch-concurrency sets every size's.
    batch_concurrency: dict[str, list[int]] = field(default_factory=lambda: dict(DEFAULT_BATCH_CONCURRENCY))
    skipped: list[str] = field(default_factory=list)
    # Execution profile of the configs and of every in-process session (resolved, never auto).
    profile: str = "cpu"

    @property
    def weights_root(self) -> Path:
        """Where the demo weights are built: one folder per profile (their graph forms differ)."""
        return self.work_dir / ("weights" if self.profile == "cpu" else f"weights-{self.profile}")


class Clock:
    """The run's time budget."""

    def __init__(self, budget_s: float) -> None:
        self.started = time.monotonic()
        self.budget_s = budget_s

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def fits(self, estimate_s: float) -> bool:
        """True when a step of about ``estimate_s`` still ends inside the budget."""
        return self.elapsed + estimate_s <= self.budget_s


def log(message: str) -> None:
    """Progress on stdout (the run is a command-line tool)."""
    print(f"[bench] {message}", flush=True)


def run_child(command: list[str], *, log_path: Path, timeout_s: float) -> None:
    """Run a measurement module in its own process; its stdout goes to the log and ours."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as sink:
        sink.write(f"$ {shlex.join(command)}\n")
        sink.flush()
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=sink, text=True, timeout=timeout_s
        )
        sink.write(completed.stdout)
    for line in completed.stdout.splitlines():
        print(f"        {line}", flush=True)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(command[:4])} … failed with code {completed.returncode}; see {log_path}"
        )


def corpus_summary(texts: Sequence[Any], tokenizer: WholeTextTokenizer | None) -> dict[str, Any]:
    """Characters (and tokens, when a tokenizer is given) per length class."""
    summary: dict[str, Any] = {}
    for kind in DEFAULT_MIX:
        members = [t.text for t in texts if t.kind == kind]
        if not members:
            continue
        chars = [len(t) for t in members]
        entry: dict[str, Any] = {
            "count": len(members),
            "chars_p50": percentile(chars, 50),
            "chars_min": min(chars),
            "chars_max": max(chars),
        }
        if tokenizer is not None:
            tokens = [len(s) for s in tokenizer.encode(members)]
            entry.update({"tokens_p50": percentile(tokens, 50), "tokens_max": max(tokens)})
        summary[kind] = entry
    return summary


def variant_record(variant: Variant) -> dict[str, Any]:
    """What the report says about a variant's settings (changes against its profile's defaults)."""
    changes = variant.changes(ServingSettings(execution_profile=variant.settings.execution_profile))
    return {
        "name": variant.name,
        "description": variant.description,
        "settings": describe(variant.settings),
        "share_cores": variant.share_cores,
        "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
    }


def triton_log(plan: Plan, size: str, variant: Variant) -> Path:
    """The Triton log of one variant's server (appended to by every run)."""
    return plan.work_dir / "logs" / f"triton-{size}-{variant.name}.log"


def served_providers(log_path: Path, offset: int, onnx_model: str) -> list[str]:
    """The providers the stand-in's instances of ``onnx_model`` logged after ``offset`` (this run's)."""
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", errors="replace")
    return sorted(set(providers_in_log(text, onnx_model)))


def local_variant(plan: Plan, size: str, variant: Variant) -> Variant:
    """``variant`` as this run serves it: on the gpu profile with a TensorRT engine cache of its own.

    The configs' default cache path is the image's, not writable here; one cache per server,
    since servers starting together would race to create a shared one
    (``ServingSettings.gpu_onnx_instances``). Kept under the work dir: a later run loads the
    engines instead of building them again.
    """
    if variant.settings.execution_profile != "gpu":
        return variant
    cache = plan.work_dir / "tensorrt" / f"{size}-{variant.name}"
    cache.mkdir(parents=True, exist_ok=True)
    return replace(variant, settings=replace(variant.settings, trt_cache_dir=str(cache.resolve())))


def start_triton(plan: Plan, size: str, weights: Path, variant: Variant, models: list[str]) -> TritonServer:
    """A Triton server for one variant on free loopback ports (started, not yet ready)."""
    repository = materialize(
        weights,
        plan.work_dir / "variants" / f"{size}-{variant.name}",
        models,
        local_variant(plan, size, variant),
        weights=f"demo-{size}",
    )
    http_port, grpc_port, metrics_port = free_ports(3)
    options = ServerOptions(
        model_repository=repository.resolve(),
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        admin_key=secrets.token_hex(16),
        exit_timeout_secs=5,
    )
    server = TritonServer(options, log_path=triton_log(plan, size, variant))
    server.start()
    return server


def load_estimate(plan: Plan, size: str, targets: int) -> float:
    """Rough seconds for the interleaved load run (warm-up, window, drain per target and level)."""
    return targets * len(plan.concurrency) * (plan.duration_s[size] + plan.warmup_s[size] + 4)


def fit_variants(plan: Plan, clock: Clock, size: str, peers: int, reserve_s: float) -> list[Variant]:
    """The variants that fit the remaining budget; the first and the last are always kept."""
    variants = list(plan.variants)
    if size.endswith(INT8_SUFFIX) and tuple(v.name for v in variants) == DEFAULT_VARIANTS:
        # Before/after settings are the fp32 size's business; here only the defaults are served.
        plan.skipped += [f"{size} served [{v.name}]: measured on the fp32 size only" for v in variants[:-1]]
        return variants[-1:]
    while len(variants) > 2 and not clock.fits(load_estimate(plan, size, len(variants) + peers) + reserve_s):
        dropped = variants.pop(-2)
        plan.skipped.append(f"{size} served [{dropped.name}]: out of time budget")
    return variants


def weight_models(plan: Plan, size: str) -> list[str]:
    """The models a size's weights are built with: long documents run on the first size only."""
    return [MAIN_MODEL] + ([LONG_DOC_MODEL] if plan.long_docs and size == plan.sizes[0] else [])


def measure_size(plan: Plan, clock: Clock, size: str, corpus: Sequence[Any]) -> dict[str, Any]:
    """Limit, then every served variant and peer at once, loaded by one interleaving client."""
    long_docs_here = plan.long_docs and size == plan.sizes[0]
    models = weight_models(plan, size)
    source_models = weight_models(plan, fp32_size(size))
    log(f"{size}: demo weights for {', '.join(models)} ({plan.profile} profile)")
    weights = build_weights(
        plan.weights_root, size, models, source_models=source_models, profile=plan.profile
    )
    fp32_weights = build_weights(plan.weights_root, fp32_size(size), source_models, profile=plan.profile)
    spec = load_catalog()[MAIN_MODEL]
    tokenizer = WholeTextTokenizer(weights / spec.tokenizer_model / "1" / "tokenizer.json", spec.max_tokens)
    result: dict[str, Any] = {"model": MAIN_MODEL, "corpus": corpus_summary(corpus, tokenizer), "peers": {}}
    if weights != fp32_weights:
        # 48 texts spread over the corpus: the whole corpus took a minute of the 15 (fp32 BERT-base
        # on two cores); the importer checks real weights on their own text set anyway.
        texts = spread([t.text for t in corpus], AGREEMENT_TEXTS)
        log(f"{size}: int8 against fp32 decisions on {len(texts)} corpus texts")
        result["int8_agreement"] = int8_agreement(fp32_weights, weights, MAIN_MODEL, texts)
    logs = plan.work_dir / "logs"
    corpus_path = plan.work_dir / "corpus.jsonl"

    def measure_limit(name: str, *extra: str) -> dict[str, Any]:
        limit_output = plan.work_dir / f"{name}-{size}.json"
        run_child(
            [
                sys.executable, "-m", "benchmarks.limit", "--repository", str(weights), "--model", MAIN_MODEL,
                "--corpus", str(corpus_path), "--output", str(limit_output), "--profile", plan.profile,
                "--buckets", *map(str, ServingSettings(execution_profile=plan.profile).buckets()), *extra,
            ],
            log_path=logs / "limit.log",
            timeout_s=900,
        )  # fmt: skip
        record: dict[str, Any] = json.loads(limit_output.read_text(encoding="utf-8"))
        return record

    log(f"{size} limit: ONNX Runtime in-process, same texts, every batching policy")
    result["limit"] = measure_limit("limit")

    peer_kinds = ["transformers", "onnx"] if plan.peers else []
    variants = fit_variants(plan, clock, size, len(peer_kinds), reserve_s=90 if long_docs_here else 30)
    result["variants"] = [variant_record(v) for v in variants]
    checkpoint = plan.work_dir / "hf" / fp32_size(size) / MAIN_MODEL
    with contextlib.ExitStack() as stack:
        log(f"{size}: starting {len(variants)} Triton server(s) and {len(peer_kinds)} peer(s)")
        started = time.monotonic()
        servers = {}
        log_offsets = {}
        for variant in variants:
            log_path = triton_log(plan, size, variant)
            log_offsets[variant.name] = log_path.stat().st_size if log_path.is_file() else 0
            server = start_triton(plan, size, weights, variant, models)
            stack.callback(server.stop)
            servers[variant.name] = server
        peers = {}
        for kind in peer_kinds:
            peer = PeerServer(
                kind,
                model=MAIN_MODEL,
                # The transformers peer always runs the fp32 weights (it converts their graph).
                repository=fp32_weights if kind == "transformers" else weights,
                checkpoint=checkpoint,
                profile=plan.profile,
                log_path=logs / f"peer-{kind}-{size}.log",
            )
            peer.start()
            stack.callback(peer.stop)
            peers[kind] = peer
        for server in servers.values():
            server.wait_until_ready(timeout_s=600)
        for peer in peers.values():
            peer.wait_until_ready(timeout_s=600)
        log(f"{size}: ready in {time.monotonic() - started:.0f}s (the transformers peer converts first)")

        targets: list[dict[str, Any]] = [
            {
                "name": f"triton:{name}",
                "url": f"grpc://{server.grpc_url}/{MAIN_MODEL}",
                "admin_key": server.options.admin_key,
                "pid": server.pid,
            }
            for name, server in servers.items()
        ] + [{"name": f"peer:{kind}", "url": peer.url, "pid": peer.pid} for kind, peer in peers.items()]
        targets_path = plan.work_dir / f"targets-{size}.json"
        targets_path.write_text(json.dumps(targets), encoding="utf-8")
        best = result["limit"]["best"]
        best_policy = policy_label(best)
        loads: dict[str, dict[str, Any]] = {t["name"]: {"target": t["url"], "levels": []} for t in targets}
        result["limit_windows"] = []
        for concurrency in plan.concurrency:
            output = plan.work_dir / f"load-{size}-c{concurrency}.json"
            log(f"{size}: c={concurrency}, every target in turn (gRPC to Triton, HTTP to the peers)")
            run_child(
                [
                    sys.executable, "-m", "benchmarks.loadgen", "--targets", str(targets_path),
                    "--corpus", str(corpus_path),
                    "--concurrency", str(concurrency),
                    "--duration", str(plan.duration_s[size]),
                    "--warmup", str(plan.warmup_s[size]),
                    "--output", str(output),
                ],
                log_path=logs / "loadgen.log",
                timeout_s=load_estimate(plan, size, len(targets)) * 6 / len(plan.concurrency) + 300,
            )  # fmt: skip
            for name, record in json.loads(output.read_text(encoding="utf-8"))["targets"].items():
                loads[name]["levels"] += record["levels"]
            # The limit again, right after the level, so the ratio compares neighbours in time.
            log(f"{size}: limit after c={concurrency} ({best_policy})")
            window = measure_limit(
                f"limit-c{concurrency}",
                "--policies",
                best_policy,
            )
            result["limit_windows"].append({"after_concurrency": concurrency, **window})
        batched: dict[str, dict[str, Any]] = {}
        if plan.batch_texts:
            output = plan.work_dir / f"load-{size}-batched.json"
            batch_levels = plan.batch_concurrency[size]
            window_factor = BATCHED_WINDOW_FACTOR[size]
            log(f"{size}: {plan.batch_texts} texts per request, c={batch_levels}, every target")
            run_child(
                [
                    sys.executable, "-m", "benchmarks.loadgen", "--targets", str(targets_path),
                    "--corpus", str(corpus_path),
                    "--concurrency", *map(str, batch_levels),
                    "--texts-per-request", str(plan.batch_texts),
                    "--duration", str(plan.duration_s[size] * window_factor),
                    "--warmup", str(plan.warmup_s[size] * window_factor),
                    "--output", str(output),
                ],
                log_path=logs / "loadgen.log",
                timeout_s=load_estimate(plan, size, len(targets)) * 6 + 300,
            )  # fmt: skip
            batched = json.loads(output.read_text(encoding="utf-8"))["targets"]
        for record in result["variants"]:
            # What ONNX Runtime ran the served model on, as each instance logged it.
            server = servers[record["name"]]
            if server.log_path is not None:
                record["runs_on"] = served_providers(
                    server.log_path, log_offsets[record["name"]], spec.onnx_model
                )
            record["load"] = loads[f"triton:{record['name']}"]
            if batched:
                record["load_batched"] = batched[f"triton:{record['name']}"]
        for kind, peer in peers.items():
            result["peers"][kind] = {"kind": kind, "runs_on": peer.runs_on, "load": loads[f"peer:{kind}"]}
            if batched:
                result["peers"][kind]["load_batched"] = batched[f"peer:{kind}"]
        if "transformers" in peers:
            result["peers"]["transformers"]["parity"] = json.loads((checkpoint / STAMP).read_text())["parity"]

        final = servers[variants[-1].name]
        if plan.paired_texts:
            paired_output = plan.work_dir / f"paired-{size}.json"
            log(f"{size}: single texts, every served variant and the limit interleaved")
            run_child(
                [
                    sys.executable, "-m", "benchmarks.paired",
                    *[f"--target={name}={server.grpc_url}" for name, server in servers.items()],
                    "--model", MAIN_MODEL, "--repository", str(weights),
                    "--corpus", str(corpus_path), "--texts", str(plan.paired_texts),
                    "--profile", plan.profile, "--output", str(paired_output),
                ],
                log_path=logs / "paired.log",
                timeout_s=900,
            )  # fmt: skip
            result["paired"] = json.loads(paired_output.read_text(encoding="utf-8"))
        if long_docs_here:
            long_output = plan.work_dir / f"long-docs-{size}.json"
            log(
                f"{size} long documents {plan.long_doc_sizes} chars ({LONG_DOC_MODEL}, [{variants[-1].name}])"
            )
            run_child(
                [
                    sys.executable, "-m", "benchmarks.long_docs", "--url", final.grpc_url,
                    "--model", LONG_DOC_MODEL,
                    "--sizes", *map(str, plan.long_doc_sizes),
                    "--repeats", str(plan.long_doc_repeats),
                    "--admin-key", final.options.admin_key,
                    "--output", str(long_output),
                ],
                log_path=logs / "long_docs.log",
                timeout_s=900,
            )  # fmt: skip
            result["variants"][-1]["long_docs"] = json.loads(long_output.read_text(encoding="utf-8"))
    return result


def run(plan: Plan) -> dict[str, Any]:
    """Measure everything in ``plan``; returns the results record (also written to disk)."""
    clock = Clock(plan.budget_s)
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    in_process = session_providers(plan.profile)
    log(f"{plan.profile} profile, {onnxruntime_build()}; in-process sessions ask for {in_process.names[0]}")
    for line in plan.skipped:
        log(f"left out: {line}")
    log(f"sampling background load for {plan.background_sample_s:g} s")
    results: dict[str, Any] = {
        "command": plan.command,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(PROJECT_ROOT),
        "execution": {
            "profile": plan.profile,
            "onnxruntime": onnxruntime_build(),
            "in_process": {"providers": in_process.names, "reason": in_process.reason},
        },
        "background_busy_before": machine.background_busy(plan.background_sample_s),
        "config": {
            "concurrency": plan.concurrency,
            "duration_s": plan.duration_s,
            "warmup_s": plan.warmup_s,
            "corpus_size": plan.corpus_size,
            "seed": plan.seed,
            "mix": dict(DEFAULT_MIX),
            "budget_s": plan.budget_s,
        },
        "sizes": {},
    }
    corpus = generate_corpus(plan.corpus_size, seed=plan.seed)
    save_corpus(corpus, plan.work_dir / "corpus.jsonl")
    for size in plan.sizes:
        results["sizes"][size] = measure_size(plan, clock, size, corpus)
    results["long_docs"] = next(
        (
            {"size": size, **v["long_docs"]}
            for size, record in results["sizes"].items()
            for v in record["variants"]
            if "long_docs" in v
        ),
        None,
    )
    results["background_busy_after"] = machine.background_busy(plan.background_sample_s)
    results["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    results["duration_s"] = clock.elapsed
    results["skipped"] = plan.skipped
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    (plan.output_dir / "results.json").write_text(
        json.dumps(strip_raw(results), indent=1) + "\n", encoding="utf-8"
    )
    (plan.work_dir / "results-full.json").write_text(json.dumps(results) + "\n", encoding="utf-8")
    ratios = write_report(results, plan.output_dir)
    log(f"done in {clock.elapsed:.0f}s; report: {plan.output_dir / 'REPORT.md'}")
    for line in ratios:
        print(line, flush=True)
    return results


def parse_args(argv: list[str] | None) -> Plan:
    """The command line as a :class:`Plan`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--profile",
        choices=(AUTO_PROFILE, *EXECUTION_PROFILES),
        default=AUTO_PROFILE,
        help="execution profile of the served configs and of the in-process sessions: cpu, gpu (KIND_GPU,"
        " TensorRT FP16; the limit and the ONNX Runtime peer on the CUDA provider), or auto: gpu when the"
        " installed ONNX Runtime has CUDA and this machine a GPU (make bench ORT=gpu), else cpu",
    )
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), help="names, or 'all'")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--duration", type=float, help="seconds per level (default: 8 base, 3 tiny)")
    parser.add_argument(
        "--warmup", type=float, help="minimum warm-up seconds per level (default: 2 base, 1 tiny)"
    )
    parser.add_argument("--corpus-size", type=int, default=160)
    parser.add_argument(
        "--paired-texts",
        type=int,
        default=48,
        help="texts for the interleaved single-text comparison (benchmarks.paired); 0 skips it",
    )
    parser.add_argument(
        "--batch-texts",
        type=int,
        default=8,
        help="texts per request of the batched workload (a service batching on its side); 0 skips it",
    )
    parser.add_argument(
        "--batch-concurrency",
        type=int,
        nargs="+",
        help="concurrency of the batched workload, every size (default: 1 on base sizes, 1 and 8 on tiny)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peers", action="store_true", help="skip the FastAPI peers")
    parser.add_argument("--no-long-docs", action="store_true", help="skip long-document token classification")
    parser.add_argument("--long-doc-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--long-doc-repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "build" / "bench")
    parser.add_argument("--output-dir", type=Path, default=PROJECT_ROOT / "benchmarks" / "reports")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds for the whole run")
    parser.add_argument(
        "--background-sample", type=float, default=3.0, help="seconds of idle CPU sampling before and after"
    )
    args = parser.parse_args(argv)
    try:
        variants = select(args.variants)
    except ValueError as exc:
        parser.error(str(exc))
    profile = resolve_profile(args.profile)
    if profile == "gpu":
        choice = session_providers(profile)
        if choice.names[0] != CUDA:
            # Triton refuses KIND_GPU instances without a GPU, and on the CPU provider the limit
            # and the peers would measure the CPU under the gpu profile's name.
            parser.error(
                f"--profile gpu measures the GPU, but {choice.reason} (make bench ORT=gpu on a GPU host)"
            )
    variants, skipped = on_profile(variants, profile)
    sizes = [s for s in args.sizes if profile == "cpu" or not s.endswith(INT8_SUFFIX)]
    skipped += [
        f"{s}: the cpu import profile's int8 graph, not served on the {profile} profile"
        for s in args.sizes
        if s not in sizes
    ]
    if not variants or not sizes:
        parser.error(f"nothing left to measure on the {profile} profile: " + "; ".join(skipped))
    if any(c < 1 for c in args.concurrency + (args.batch_concurrency or [])) or args.corpus_size < 1:
        parser.error("concurrency levels and the corpus size must be >= 1")
    if args.paired_texts < 0 or args.batch_texts < 0:
        parser.error("--paired-texts and --batch-texts must be >= 0")
    duration = {s: args.duration or DEFAULT_DURATION_S[s] for s in SIZES}
    warmup = {s: args.warmup if args.warmup is not None else DEFAULT_WARMUP_S[s] for s in SIZES}
    return Plan(
        sizes=sizes,
        variants=variants,
        concurrency=args.concurrency,
        duration_s=duration,
        warmup_s=warmup,
        corpus_size=args.corpus_size,
        seed=args.seed,
        peers=not args.no_peers,
        long_docs=not args.no_long_docs,
        long_doc_sizes=args.long_doc_sizes,
        long_doc_repeats=args.long_doc_repeats,
        work_dir=args.work_dir,
        output_dir=args.output_dir,
        budget_s=args.budget,
        command=shlex.join(["python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        background_sample_s=args.background_sample,
        paired_texts=args.paired_texts,
        batch_texts=args.batch_texts,
        batch_concurrency={s: args.batch_concurrency or DEFAULT_BATCH_CONCURRENCY[s] for s in SIZES},
        skipped=skipped,
        profile=profile,
    )


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds the `finally` blocks that stop the servers this run started.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    plan = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    run(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
