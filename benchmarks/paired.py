"""Single-text latency of the served ensemble against the limit, interleaved text by text.

    python -m benchmarks.paired --url 127.0.0.1:8001 --model treatment_changes \
        --repository build/bench/weights/base --corpus build/bench/corpus.jsonl --output paired.json

The latency target (p50 at concurrency 1 within 3 ms of the limit's single-text latency) is
smaller than the drift of a shared two-core machine between two measurements taken a minute
apart: limit runs of the same 48 texts gave p50s from 21 to 32 ms in one benchmark run. So this
measures both in one loop, in one process, on the same texts: for every text, one gRPC call to
the served ensemble and one in-process limit call (tokenize, then one ONNX Runtime call at batch
1 padded to the text's own length, as ``benchmarks.limit`` does), in alternating order (ABBA)
so neither side always runs first. Background load then falls on both alike, and the paired
differences say how much the served path adds to the same text at the same moment.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.corpus import load_corpus
from benchmarks.limit import WholeTextTokenizer, pad_batch, spread
from benchmarks.stats import percentile
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.ort_options import session_options

REQUEST_TIMEOUT_S = 60.0
WARMUP_TEXTS = 4


def served_first(round_index: int, text_index: int) -> bool:
    """ABBA order: the served call goes first on every other text, swapped every other round."""
    return (round_index + text_index) % 2 == 0


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
    url: str,
    model: str,
    repository: Path,
    texts: Sequence[str],
    *,
    rounds: int = 2,
    intra_op_threads: int = 0,
) -> dict[str, Any]:
    """Interleave served and limit calls over ``texts`` for ``rounds`` rounds; a JSON-ready record."""
    import tritonclient.grpc as grpcclient

    spec = load_catalog()[model]
    tokenizer = WholeTextTokenizer(
        repository / spec.tokenizer_model / "1" / "tokenizer.json", spec.max_tokens
    )
    options = session_options({"intra_op_thread_count": str(intra_op_threads)})
    session = ort.InferenceSession(
        str(repository / spec.onnx_model / "1" / "model.onnx"),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    client = grpcclient.InferenceServerClient(url)

    def served(text: str) -> None:
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

    def limit(text: str) -> None:
        (sequence,) = tokenizer.encode([text])
        session.run(None, pad_batch([sequence], len(sequence), tokenizer.pad_id))

    def timed(call: Callable[[str], None], text: str) -> float:
        started = time.perf_counter()
        call(text)
        return (time.perf_counter() - started) * 1000

    try:
        for text in texts[:WARMUP_TEXTS]:
            served(text)
            limit(text)
        served_ms: list[float] = []
        limit_ms: list[float] = []
        for round_index in range(rounds):
            for text_index, text in enumerate(texts):
                if served_first(round_index, text_index):
                    served_ms.append(timed(served, text))
                    limit_ms.append(timed(limit, text))
                else:
                    limit_ms.append(timed(limit, text))
                    served_ms.append(timed(served, text))
    finally:
        client.close()
    return {"model": model, "texts": len(texts), "rounds": rounds, **summarize(served_ms, limit_ms)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (the orchestrator runs it in its own process)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="the server's gRPC HOST:PORT")
    parser.add_argument("--model", required=True)
    parser.add_argument("--repository", type=Path, required=True, help="where the served weights are")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=48, help="texts spread over the corpus")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.texts < 1 or args.rounds < 1:
        parser.error("--texts and --rounds must be >= 1")
    texts = spread([t.text for t in load_corpus(args.corpus)], args.texts)
    record = measure(args.url, args.model, args.repository, texts, rounds=args.rounds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(
        f"single text, interleaved ({record['calls']} pairs): served p50 {record['served_p50_ms']:.1f} ms,"
        f" limit p50 {record['limit_p50_ms']:.1f} ms, excess {record['excess_p50_ms']:+.2f} ms"
        f" (per-text difference p50 {record['difference_p50_ms']:+.2f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
