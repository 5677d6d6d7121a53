"""What ONNX Runtime threads cost when instances run side by side, in process.

    .venv/bin/python -m tools.core_sharing_cost build/bench/weights/base-int8

Runs a repository's ``<model>_onnx`` graph on corpus texts (each call ``--texts-per-call``
texts padded to their served length bucket, as the batched serving path merges them) from one
process, then from two processes at once (as two Triton instances of the stand-in run), with
every run on all cores' threads and with one thread per run. Prints texts/s summed over the
processes and the median time per call; with ``--memory``, first what a session and a second
session of the graph take (the cost of core sharing). The numbers behind the stand-in's core
sharing (``clinserve_runtime.core_sharing``, docs/benchmarks.md); the session options are the
served ones.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import onnxruntime as ort

from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.contract import MODEL_INPUTS
from clinserve_preprocess.encoding import TextEncoder
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.ort_options import available_cores, session_options
from clinserve_runtime.processes import rss_kib
from lab.corpus import generate_corpus

TEXTS = 80


def _feeds(repository: Path, model: str, texts_per_call: int) -> list[dict[str, Any]]:
    spec = load_catalog()[model]
    tokenizer = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    encoder = TextEncoder.from_file(tokenizer, spec.max_tokens, buckets=ServingSettings().buckets())
    texts = [item.text for item in generate_corpus(TEXTS)]
    calls = [texts[i : i + texts_per_call] for i in range(0, len(texts), texts_per_call)]
    return [{name: getattr(encoder.encode(call), name) for name in MODEL_INPUTS} for call in calls]


def _worker(
    repository: Path,
    model: str,
    threads: int,
    seconds: float,
    offset: int,
    texts_per_call: int,
    start: Any,
    out: Any,
) -> None:
    spec = load_catalog()[model]
    graph = repository / spec.onnx_model / "1" / "model.onnx"
    options = session_options({"intra_op_thread_count": str(threads)})
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    feeds = _feeds(repository, model, texts_per_call)
    for warm in feeds[:3]:
        session.run(None, warm)
    start.wait()
    began, calls, times = time.perf_counter(), 0, []
    while time.perf_counter() - began < seconds:
        call = time.perf_counter()
        session.run(None, feeds[(calls + offset) % len(feeds)])
        times.append(time.perf_counter() - call)
        calls += 1
    out.put((calls * texts_per_call / (time.perf_counter() - began), statistics.median(times) * 1000))


def _session_memory(repository: Path, model: str, out: Any) -> None:
    spec = load_catalog()[model]
    graph = str(repository / spec.onnx_model / "1" / "model.onnx")
    rss = [rss_kib(os.getpid())]
    sessions = []
    for threads in (0, 1):  # a lone run's session, then the shared one beside it
        options = session_options({"intra_op_thread_count": str(threads)})
        sessions.append(ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"]))
        rss.append(rss_kib(os.getpid()))
    out.put(((rss[1] - rss[0]) / 1024, (rss[2] - rss[1]) / 1024))


def session_memory(repository: Path, model: str) -> tuple[float, float]:
    """MiB one session of the graph takes in a fresh process, and MiB a second one adds."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    worker = context.Process(target=_session_memory, args=(repository, model, out))
    worker.start()
    result: tuple[float, float] = out.get(timeout=600)
    worker.join()
    return result


def measure(
    repository: Path, model: str, processes: int, threads: int, seconds: float, texts_per_call: int = 1
) -> tuple[float, float]:
    """(texts/s summed over ``processes``, median ms per call) with ``threads`` per session."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_worker, args=(repository, model, threads, seconds, 37 * i, texts_per_call, start, out)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    # Every process loads its session before the clock starts for any of them.
    time.sleep(2 + processes * 2)
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(r[0] for r in results), statistics.median(r[1] for r in results)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository", type=Path)
    parser.add_argument("--model", default="treatment_changes")
    parser.add_argument("--seconds", type=float, default=12.0, help="measured time per way")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--texts-per-call", type=int, default=1, help="texts padded together into one call (a merged batch)"
    )
    parser.add_argument(
        "--memory", action="store_true", help="also the memory of a session and of the second one"
    )
    args = parser.parse_args(argv)
    if args.memory:
        one, second = session_memory(args.repository, args.model)
        print(f"memory: one session {one:.0f} MiB, the shared-cores session beside it +{second:.0f} MiB")
    cores = available_cores()
    ways = [(1, cores), (1, 1), (2, cores), (2, 1)]
    for round_index in range(args.rounds):
        for processes, threads in ways:
            rate, per_call = measure(
                args.repository, args.model, processes, threads, args.seconds, args.texts_per_call
            )
            print(
                f"round {round_index + 1}: {processes} process(es) x {threads} thread(s):"
                f" {rate:6.1f} texts/s, {per_call:6.1f} ms per call",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
