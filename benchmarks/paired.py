"""Single-text latency of the served ensemble against the limit, interleaved text by text.

    python -m benchmarks.paired --target current=127.0.0.1:8001 --model treatment_changes \
        --repository build/bench/weights/base --corpus build/bench/corpus.jsonl --output paired.json

The latency target (p50 at concurrency 1 within 3 ms of the limit's single-text latency) is
smaller than the drift of a shared two-core machine between two measurements taken a minute
apart (docs/benchmarks.md, "What is measured", gives the spread seen). So this
measures both in one loop, in one process, on the same texts: for every text, one gRPC call to
the served ensemble and one in-process limit call (tokenize, then one ONNX Runtime call at batch
1 padded to the text's own length, as ``benchmarks.limit`` does, on the same provider), in
rotating order so no side
always runs first. Background load then falls on both alike, and the paired differences say how
much the served path adds to the same text at the same moment. With several ``--target``
servers (serving-settings variants), each gets its call per text in the same rotation, so their
latencies compare as fairly as their excesses over the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.limit import WholeTextTokenizer, pad_batch, spread
from benchmarks.sessions import open_session, runs_on
from benchmarks.stats import percentile
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.configs import EXECUTION_PROFILES
from lab.corpus import read_texts

REQUEST_TIMEOUT_S = 60.0
WARMUP_TEXTS = 4


def call_order(sides: int, round_index: int, text_index: int) -> list[int]:
    """The order of the ``sides`` calls for one text: rotated by one from each text to the next
    and from each round to the next, so every side runs first equally often."""
    start = (round_index + text_index) % sides
    return [(start + k) % sides for k in range(sides)]


def summarize(served_ms: Sequence[float], limit_ms: Sequence[float]) -> dict[str, Any]:
    """Percentiles of both sides and of their per-text differences."""
    differences = [s - lim for s, lim in zip(served_ms, limit_ms, strict=True)]
    return {
        "calls": len(served_ms),
        "served_p50_ms": percentile(served_ms, 50),
        "served_p95_ms": percentile(served_ms, 95),
        "limit_p50_ms": percentile(limit_ms, 50),
        "limit_p95_ms": percentile(limit_ms, 95),
        "excess_p50_ms": percentile(served_ms, 50) - percentile(limit_ms, 50),
        "difference_p50_ms": percentile(differences, 50),
    }


def measure(
    targets: Mapping[str, str],
    model: str,
    repository: Path,
    texts: Sequence[str],
    *,
    rounds: int = 2,
    intra_op_threads: int = 0,
    profile: str = "cpu",
) -> dict[str, Any]:
    """Interleave the limit (on ``profile``'s provider) and every target (name -> gRPC URL) over
    ``texts``; a JSON-ready record."""
    import tritonclient.grpc as grpcclient

    spec = load_catalog()[model]
    tokenizer = WholeTextTokenizer(
        repository / spec.tokenizer_model / "1" / "tokenizer.json", spec.max_tokens
    )
    session = open_session(
        repository / spec.onnx_model / "1" / "model.onnx", profile, threads=intra_op_threads
    )
    clients = {name: grpcclient.InferenceServerClient(url) for name, url in targets.items()}

    def served(client: Any) -> Callable[[str], None]:
        def call(text: str) -> None:
            data = grpcclient.InferInput("TEXT", [1], "BYTES")
            data.set_data_from_numpy(np.array([text.encode("utf-8")], dtype=np.object_))
            response = client.infer(
                model,
                [data],
                outputs=[grpcclient.InferRequestedOutput("RESULT")],
                client_timeout=REQUEST_TIMEOUT_S,
            )
            results = response.as_numpy("RESULT")
            if results is None or len(results) != 1 or json.loads(results[0]).get("model") != model:
                raise RuntimeError(f"{model}: unexpected answer {results!r:.200}")

        return call

    def limit(text: str) -> None:
        (sequence,) = tokenizer.encode([text])
        session.run(None, pad_batch([sequence], len(sequence), tokenizer.pad_id))

    sides: list[tuple[str, Callable[[str], None]]] = [("limit", limit)]
    sides += [(name, served(client)) for name, client in clients.items()]
    times: dict[str, list[float]] = {name: [] for name, _ in sides}
    try:
        for text in texts[:WARMUP_TEXTS]:
            for _, call in sides:
                call(text)
        for round_index in range(rounds):
            for text_index, text in enumerate(texts):
                for side in call_order(len(sides), round_index, text_index):
                    name, call = sides[side]
                    started = time.perf_counter()
                    call(text)
                    times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for client in clients.values():
            client.close()
    return {
        "model": model,
        "texts": len(texts),
        "rounds": rounds,
        "limit_runs_on": runs_on(session),
        "targets": {name: summarize(times[name], times["limit"]) for name in targets},
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (the orchestrator runs it in its own process)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="NAME=HOST:PORT",
        help="a served ensemble (repeatable)",
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--repository", type=Path, required=True, help="where the served weights are")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=48, help="texts spread over the corpus")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--profile",
        choices=EXECUTION_PROFILES,
        default="cpu",
        help="execution profile of the limit's session",
    )
    args = parser.parse_args(argv)
    if args.texts < 1 or args.rounds < 1:
        parser.error("--texts and --rounds must be >= 1")
    targets = dict(item.partition("=")[::2] for item in args.target)
    if any(not name or not url or name == "limit" for name, url in targets.items()):
        parser.error("--target takes NAME=HOST:PORT (NAME not 'limit')")
    texts = spread([t.text for t in read_texts(args.corpus)], args.texts)
    record = measure(targets, args.model, args.repository, texts, rounds=args.rounds, profile=args.profile)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, side in record["targets"].items():
        print(
            f"single text, interleaved ({side['calls']} calls each), [{name}]: served p50"
            f" {side['served_p50_ms']:.1f} ms, limit p50 {side['limit_p50_ms']:.1f} ms,"
            f" excess {side['excess_p50_ms']:+.2f} ms"
            f" (per-text difference p50 {side['difference_p50_ms']:+.2f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
