"""The limit: the same ONNX model run in-process by ONNX Runtime on the same texts.

No server, no IPC, no queue: tokenize with the served ``tokenizer.json``, then run the graph of
the served ``model.onnx`` with the served session options (``clinserve_runtime.ort_options``),
on the execution profile's provider (``benchmarks.sessions``: the GPU on the ``gpu`` profile),
under batching policies:

- ``sorted``: sort the texts by token count, cut into batches, pad each batch to its longest
  text: the least padding any batching can have, so the best throughput on a CPU;
- ``bucket``: pad each text to its length bucket (what the served tokenizer does) and batch
  texts of equal bucket: the served padding with perfect merging;
- ``fixed``: pad everything to ``max_tokens``: batching without any length policy.

A policy may add ``xN`` (``sorted:1x2``): N threads then share the batches and the one session,
as concurrent requests do in a server that runs ONNX Runtime per request. On two cores it does
not beat one caller with batches (docs/benchmarks.md), so the defaults have none.

Tokenization is timed apart from inference. The single-text latency (tokenize + one ORT call at
batch 1, padded to its own length) is the floor for the served latency at concurrency 1.

    python -m benchmarks.limit --repository build/bench_repository --model treatment_changes \
        --corpus build/bench/corpus.jsonl --output build/bench/limit.json [--profile gpu]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Same thread settings as the server's stub processes (clinserve_runtime.triton.server_environment):
# set before tokenizers and ONNX Runtime start their pools.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from benchmarks.sessions import open_session, runs_on
from benchmarks.stats import percentile
from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.encoding import bucket_length
from clinserve_runtime.configs import EXECUTION_PROFILES, ServingSettings
from lab.corpus import read_texts

POLICIES = ("sorted", "bucket", "fixed")
# The served padding lengths (ServingSettings' defaults for the cpu profile).
DEFAULT_BUCKETS = ServingSettings().buckets()
DEFAULT_POLICIES = ("sorted:1", "sorted:8", "sorted:32", "bucket:8")

Sequences = list[npt.NDArray[np.int64]]


@dataclass(frozen=True)
class PolicyResult:
    """One batching policy over the whole corpus."""

    policy: str
    batch_size: int
    callers: int
    texts: int
    infer_s: float
    padded_tokens: int
    real_tokens: int

    @property
    def texts_per_s(self) -> float:
        """Inference-only throughput."""
        return self.texts / self.infer_s

    @property
    def label(self) -> str:
        """``sorted:8``, or ``sorted:8x2`` with two callers."""
        return f"{self.policy}:{self.batch_size}" + (f"x{self.callers}" if self.callers > 1 else "")


class WholeTextTokenizer:
    """``[CLS] pieces… [SEP]`` truncated to ``max_tokens``, as the served tokenizer does per text."""

    def __init__(self, path: Path, max_tokens: int) -> None:
        """Load ``tokenizer.json``."""
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.cls_id, self.sep_id, self.pad_id = (
            self._id("[CLS]"),
            self._id("[SEP]"),
            self._id("[PAD]"),
        )

    def _id(self, token: str) -> int:
        value = self.tokenizer.token_to_id(token)
        if value is None:
            raise ValueError(f"the tokenizer's vocabulary has no {token} token")
        return int(value)

    def encode(self, texts: Sequence[str]) -> Sequences:
        """One id sequence per text, special tokens included."""
        budget = self.max_tokens - 2
        return [
            np.asarray([self.cls_id, *e.ids[:budget], self.sep_id], dtype=np.int64)
            for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ]


def pad_batch(sequences: Sequence[npt.NDArray[np.int64]], length: int, pad_id: int) -> dict[str, Any]:
    """ORT feeds for sequences padded to ``length``."""
    ids = np.full((len(sequences), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), length), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def plan_batches(
    lengths: Sequence[int], policy: str, batch_size: int, *, max_tokens: int, buckets: Sequence[int]
) -> list[tuple[list[int], int]]:
    """``(indices, padded_length)`` of each batch under ``policy`` (pure; see the module docs)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown batching policy {policy!r}; expected one of {POLICIES}")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    if policy == "fixed":
        order = list(range(len(lengths)))
        return [(order[i : i + batch_size], max_tokens) for i in range(0, len(order), batch_size)]
    if policy == "sorted":
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        return [(chunk, max(lengths[i] for i in chunk)) for chunk in chunks]
    by_bucket: dict[int, list[int]] = {}
    for index in order:
        by_bucket.setdefault(bucket_length(lengths[index], max_tokens, buckets), []).append(index)
    return [
        (members[i : i + batch_size], bucket)
        for bucket, members in sorted(by_bucket.items())
        for i in range(0, len(members), batch_size)
    ]


def run_policy(
    session: ort.InferenceSession,
    sequences: Sequences,
    policy: str,
    batch_size: int,
    *,
    max_tokens: int,
    pad_id: int,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    callers: int = 1,
) -> PolicyResult:
    """Time ORT over the whole corpus under one policy (feeds are built outside the clock).

    With ``callers`` > 1, that many threads take every ``callers``-th batch and run them
    concurrently on the one session (its thread pool is shared, as in a per-request server).
    """
    lengths = [len(s) for s in sequences]
    batches = plan_batches(lengths, policy, batch_size, max_tokens=max_tokens, buckets=buckets)
    feeds = [pad_batch([sequences[i] for i in indices], length, pad_id) for indices, length in batches]

    def run_share(share: Sequence[dict[str, Any]]) -> None:
        for feed in share:
            session.run(None, feed)

    started = time.perf_counter()
    if callers == 1:
        run_share(feeds)
    else:
        threads = [threading.Thread(target=run_share, args=(feeds[k::callers],)) for k in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - started
    return PolicyResult(
        policy=policy,
        batch_size=batch_size,
        callers=callers,
        texts=len(sequences),
        infer_s=elapsed,
        padded_tokens=sum(len(indices) * length for indices, length in batches),
        real_tokens=sum(lengths),
    )


def spread(texts: Sequence[str], count: int) -> list[str]:
    """``count`` texts evenly spaced over the corpus, so every class is represented in its share.

    Every limit measurement of a run times the same subset: single-text latency depends mostly
    on length, and a prefix of the shuffled corpus (as this once used, with a different length
    for the runs after each load level) can hold twice the corpus's share of abstracts.
    """
    if count >= len(texts):
        return list(texts)
    return [texts[i * len(texts) // count] for i in range(count)]


def single_text_latencies(
    session: ort.InferenceSession, tokenizer: WholeTextTokenizer, texts: Sequence[str]
) -> dict[str, list[float]]:
    """Per text: tokenize, then one ORT call at batch 1 padded to its own length (ms)."""
    tokenize_ms, infer_ms = [], []
    for text in texts:
        started = time.perf_counter()
        (sequence,) = tokenizer.encode([text])
        feed = pad_batch([sequence], len(sequence), tokenizer.pad_id)
        tokenized = time.perf_counter()
        session.run(None, feed)
        done = time.perf_counter()
        tokenize_ms.append((tokenized - started) * 1000)
        infer_ms.append((done - tokenized) * 1000)
    return {"tokenize_ms": tokenize_ms, "infer_ms": infer_ms}


def parse_policy(text: str) -> tuple[str, int, int]:
    """``"sorted:32"`` -> ``("sorted", 32, 1)``; ``"sorted:1x2"`` -> ``("sorted", 1, 2)``."""
    name, _, rest = text.partition(":")
    size, separator, callers = rest.partition("x")
    callers = callers if separator else "1"
    if (
        name not in POLICIES
        or not size.isdigit()
        or int(size) < 1
        or not callers.isdigit()
        or int(callers) < 1
    ):
        raise ValueError(
            f"policy must look like NAME:BATCH or NAME:BATCHxTHREADS with NAME one of {POLICIES},"
            f" got {text!r}"
        )
    return name, int(size), int(callers)


def measure(
    repository: Path,
    model: str,
    texts: Sequence[str],
    *,
    policies: Sequence[str] = DEFAULT_POLICIES,
    intra_op_threads: int = 0,
    single_texts: int = 48,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    profile: str = "cpu",
) -> dict[str, Any]:
    """Run the limit measurement on ``profile``'s provider; returns a JSON-ready record."""
    spec = load_catalog()[model]
    onnx_path = repository / spec.onnx_model / "1" / "model.onnx"
    tokenizer_path = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    for path in (onnx_path, tokenizer_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: build the benchmark repository first")
    tokenizer = WholeTextTokenizer(tokenizer_path, spec.max_tokens)
    session = open_session(onnx_path, profile, threads=intra_op_threads)

    tokenizer.encode(texts[:8])  # the first call pays the tokenizer's lazy set-up
    started = time.perf_counter()
    sequences = tokenizer.encode(texts)
    tokenize_s = time.perf_counter() - started
    # Warm-up: one call per distinct padded length the policies will use.
    for length in sorted({bucket_length(len(s), spec.max_tokens, buckets) for s in sequences}):
        session.run(None, pad_batch([s[:length] for s in sequences[:2]], length, tokenizer.pad_id))

    results = [
        run_policy(
            session,
            sequences,
            name,
            size,
            max_tokens=spec.max_tokens,
            pad_id=tokenizer.pad_id,
            buckets=buckets,
            callers=callers,
        )
        for name, size, callers in map(parse_policy, policies)
    ]
    best = max(results, key=lambda r: r.texts_per_s)
    single = single_text_latencies(session, tokenizer, spread(texts, single_texts))
    total_single = [a + b for a, b in zip(single["tokenize_ms"], single["infer_ms"], strict=True)]
    return {
        "model": model,
        "onnx": str(onnx_path),
        "profile": profile,
        **runs_on(session),
        "intra_op_threads": intra_op_threads,
        "buckets": list(buckets),
        "texts": len(texts),
        "tokenize_s": tokenize_s,
        "tokenize_ms_per_text": tokenize_s * 1000 / max(len(texts), 1),
        "policies": [{**asdict(r), "texts_per_s": r.texts_per_s, "label": r.label} for r in results],
        "best": {
            **asdict(best),
            "texts_per_s": best.texts_per_s,
            "label": best.label,
            "texts_per_s_with_tokenization": len(texts) / (best.infer_s + tokenize_s),
        },
        "single": {
            "texts": len(total_single),
            "p50_ms": percentile(total_single, 50),
            "p95_ms": percentile(total_single, 95),
            "tokenize_p50_ms": percentile(single["tokenize_ms"], 50),
            "infer_p50_ms": percentile(single["infer_ms"], 50),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (the orchestrator runs it in its own process)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--policies", nargs="+", default=list(DEFAULT_POLICIES), help="NAME:BATCH[xTHREADS] ..."
    )
    parser.add_argument("--intra-op-threads", type=int, default=0)
    parser.add_argument("--single-texts", type=int, default=48, help="texts timed one at a time")
    parser.add_argument("--buckets", type=int, nargs="+", default=list(DEFAULT_BUCKETS))
    parser.add_argument(
        "--profile", choices=EXECUTION_PROFILES, default="cpu", help="execution profile: gpu runs on the GPU"
    )
    args = parser.parse_args(argv)
    texts = [t.text for t in read_texts(args.corpus)]
    record = measure(
        args.repository,
        args.model,
        texts,
        policies=args.policies,
        intra_op_threads=args.intra_op_threads,
        single_texts=args.single_texts,
        buckets=args.buckets,
        profile=args.profile,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    best = record["best"]
    print(
        f"limit {args.model}: {best['texts_per_s']:.1f} texts/s ({best['label']}),"
        f" single text p50 {record['single']['p50_ms']:.1f} ms, on {record['provider']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
