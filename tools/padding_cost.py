"""What bucket padding costs one text, and what a trimmed graph gives back, in process.

    .venv/bin/python tools/padding_cost.py build/bench/weights/base-int8 --tokens 24 --bucket 32

Times one sequence of ``--tokens`` real tokens through a repository's ``<model>_onnx`` graph three
ways, interleaved call by call: the plain graph padded to ``--bucket``, the plain graph at its
own length, and the trimmed graph (``clinserve_runtime.padding_trim``) padded to the bucket.
Prints the median of each. The session options are the served ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.ort_options import session_options
from clinserve_runtime.padding_trim import trim_padding, untrim


def feeds(tokens: int, length: int) -> dict[str, npt.NDArray[np.int64]]:
    """One sequence of ``tokens`` real ids padded to ``length``."""
    ids = np.zeros((1, length), dtype=np.int64)
    ids[0, :tokens] = np.arange(1000, 1000 + tokens)
    mask = (ids != 0).astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def measure(repository: Path, model: str, tokens: int, bucket: int, calls: int) -> dict[str, float]:
    """Median ms of each way (see the module docs)."""
    spec = load_catalog()[model]
    plain = untrim(onnx.load(str(repository / spec.onnx_model / "1" / "model.onnx")))
    trimmed = trim_padding(plain, token_level=spec.is_token_classifier)

    def session(graph: onnx.ModelProto) -> ort.InferenceSession:
        options = session_options({"intra_op_thread_count": "0"})
        return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])

    ways = {
        f"plain, padded to {bucket}": (session(plain), feeds(tokens, bucket)),
        f"plain, at its own {tokens}": (session(plain), feeds(tokens, tokens)),
        f"trimmed, padded to {bucket}": (session(trimmed), feeds(tokens, bucket)),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_index in range(calls + 3):
        for name, (sess, inputs) in ways.items():
            started = time.perf_counter()
            sess.run(None, inputs)
            if round_index >= 3:  # the first rounds warm the sessions up
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path)
    parser.add_argument("--model", default="treatment_changes")
    parser.add_argument("--tokens", type=int, default=24, help="real tokens, [CLS] and [SEP] included")
    parser.add_argument("--bucket", type=int, default=32, help="the padded length")
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args(argv)
    if not 1 <= args.tokens <= args.bucket:
        parser.error("--tokens must be between 1 and --bucket")
    for name, ms in measure(args.repository, args.model, args.tokens, args.bucket, args.calls).items():
        print(f"{name:28s} {ms:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
