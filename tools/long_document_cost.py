"""Measure how serving cost grows with document length (docs/long-documents.md).

    .venv/bin/python tools/long_document_cost.py [--size tiny|base] [--repeats 3]

Starts a Triton server on a demo repository, sends clinical-style documents of 1k, 5k and 10k
characters (one request each, within the cpu profile's token budget) and one of 40k (under the
character limit, past the token budget: the row shows the refusal and the limit it names) to
the token classifier (windows mode) and the per-sentence classifier, and prints the best-of-N
latency, microseconds per character, entities or sentences found, and the server's resident
memory (tritonserver plus its stub processes) after each size. Documents longer than one
request go through the client library's splitting: ``tools/client_long_document.py`` measures
those.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from clinserve_runtime.build_demo import build
from clinserve_runtime.processes import rss_mib
from clinserve_runtime.triton import TritonServer, loopback_options

SIZES = (1_000, 5_000, 10_000, 40_000)
SENTENCE = (
    "On day {i}, {n} patients on topotecan 4.{d} mg (median survival {n}.5 months) reported fatigue; "
    "H. pylori was negative and the CR rate was {n}%. "
)


def document(chars: int) -> str:
    """A deterministic clinical-style text of exactly ``chars`` characters."""
    rng = np.random.default_rng(chars)
    parts, total, i = [], 0, 0
    while total < chars:
        part = SENTENCE.format(i=i, n=int(rng.integers(2, 99)), d=i % 10)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)[: chars - 1].rstrip() + "."


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=("tiny", "base"), default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repository = Path("build") / f"cost_repository_{args.size}"
    build(repository, args.size)
    server = TritonServer(loopback_options(repository), log_path=Path("build") / "cost-triton.log")
    server.start()
    try:
        server.wait_until_ready(600)
        assert server.process is not None
        client = grpcclient.InferenceServerClient(server.grpc_url)
        print(f"demo-{args.size}; best of {args.repeats}; RSS = tritonserver + stubs after the size")
        print("| model | mode | chars | latency ms | µs/char | entities or sentences | RSS MiB |")
        print("|---|---|---|---|---|---|---|")
        for model, mode, key in (
            ("drug_development_trials", "windows", "entities"),
            ("biomarker", "sentences", "sentences"),
        ):
            for chars in SIZES:
                text = document(chars)
                tensor = grpcclient.InferInput("TEXT", [1], "BYTES")
                tensor.set_data_from_numpy(np.array([text.encode()], dtype=np.object_))
                best, result = float("inf"), {}
                try:
                    for _ in range(args.repeats):
                        started = time.perf_counter()
                        response = client.infer(
                            model, [tensor], parameters={"mode": mode}, client_timeout=600
                        )
                        best = min(best, time.perf_counter() - started)
                        result = json.loads(response.as_numpy("RESULT")[0])
                    count = len(result[key])
                    print(
                        f"| {model} | {mode} | {chars:,} | {best * 1000:.0f} | {best * 1e6 / chars:.0f}"
                        f" | {count} | {rss_mib(server.process.pid):.0f} |",
                        flush=True,
                    )
                except Exception as exc:
                    print(f"| {model} | {mode} | {chars:,} | refused: {str(exc)[:200]} | | | |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
