"""What one Python-backend step costs per call, against a running server.

    make serve                                   # in another terminal (tiny demo weights)
    .venv/bin/python tools/step_overhead.py --url 127.0.0.1:8001

Calls the tokenizer step of one model directly (a Python-backend model, reachable like any other)
asking for 1, 3, 7 and 10 of its output tensors, then the whole ensemble, and prints the median
round trip of each. It answers two questions the benchmark's per-stage timings raised: whether
the number of tensors a step hands on matters (it does not, measurably), and what a Python hop
costs next to the work done in it (``TextEncoder.encode`` of one tweet takes about 0.17 ms
in-process; the direct call about 1.5 ms, gRPC included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient

TEXT = "Switched from metformin to insulin last week, feeling much better now #diabetes"
TOKENIZER_OUTPUTS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "sequence_text_index",
    "sequence_segment",
    "sequence_spans",
    "dropped_tokens",
    "token_offsets",
    "word_ids",
    "sequence_pieces",
)


def median_ms(client: grpcclient.InferenceServerClient, model: str, outputs: list[str], calls: int) -> float:
    """Median round trip of ``calls`` single-text requests (after a warm-up)."""
    data = grpcclient.InferInput("TEXT", [1], "BYTES")
    data.set_data_from_numpy(np.array([TEXT.encode("utf-8")], dtype=np.object_))
    requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
    for _ in range(min(50, calls)):
        client.infer(model, [data], outputs=requested)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.infer(model, [data], outputs=requested)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="127.0.0.1:8001", help="the server's gRPC HOST:PORT")
    parser.add_argument("--model", default="treatment_changes", help="a sequence classifier of the catalog")
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args(argv)
    client = grpcclient.InferenceServerClient(args.url)
    try:
        for count in (1, 3, 7, 10):
            outputs = list(TOKENIZER_OUTPUTS[:count])
            ms = median_ms(client, f"{args.model}_tokenizer", outputs, args.calls)
            print(f"{args.model}_tokenizer, {count:2d} output tensor(s): {ms:6.3f} ms")
        ms = median_ms(client, args.model, ["RESULT"], args.calls)
        print(f"{args.model} (ensemble: 3 steps):      {ms:6.3f} ms")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
