"""What one Python-backend step costs per call, and how much of it is the work done in it.

    .venv/bin/python tools/step_overhead.py --start build/test_repository    # its own server
    .venv/bin/python tools/step_overhead.py --url 127.0.0.1:8001             # a running one

Calls, one request at a time, and prints the median round trip of each:

- ``python_identity`` (only with ``--start``, which adds it to a throw-away copy of the
  repository): a Python-backend model that hands its input back. It is the floor of any Python
  step: gRPC, Triton's scheduling, the stub's IPC and the Python backend's tensor handling;
- the tokenizer step of one model directly, asking for 1, 3, 5 and all 7 of its output tensors
  (whether the number of tensors a step hands on matters: it does not, measurably);
- the whole ensemble;

and, with an admin key (``--start`` has one), the server-side time of each step from Triton's
statistics, beside the hot in-process times of ``TextEncoder.encode`` and of the served graph
on the same text. The gaps are what running the same code once per request inside a stub costs;
for the ONNX step, that is the stand-in's share, which the native backend in the image replaces.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.contract import Step, produced_by
from clinserve_preprocess.encoding import TextEncoder

TEXT = "Switched from metformin to insulin last week, feeling much better now #diabetes"
IDENTITY_MODEL = "python_identity"
TOKENIZER_OUTPUTS = tuple(t.name for t in produced_by(Step.TOKENIZER))
IDENTITY_CONFIG = f"""name: "{IDENTITY_MODEL}"
backend: "python"
max_batch_size: 0
input {{ name: "TEXT" data_type: TYPE_STRING dims: -1 }}
output {{ name: "OUT" data_type: TYPE_STRING dims: -1 }}
instance_group {{ count: 1 kind: KIND_CPU }}
"""
IDENTITY_MODEL_PY = '''"""Hands TEXT back as OUT: the floor cost of a Python-backend step."""

import contextlib

with contextlib.suppress(ImportError):
    import clinserve_site_path  # noqa: F401  (the stub ignores PYTHONPATH: docs/runtime.md)

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", text)]))
        return responses
'''


# step -> kind -> (count, ns), as Triton reports them.
Snapshot = dict[str, dict[str, tuple[int, int]]]


@dataclass(frozen=True)
class Target:
    """A server to measure: where it listens and the key that unlocks its statistics."""

    url: str
    admin_key: str = ""


def median_ms(client: grpcclient.InferenceServerClient, model: str, outputs: list[str], calls: int) -> float:
    """Median round trip of ``calls`` single-text requests (after a warm-up)."""
    # A batched step (the tokenizer) takes one row of one text; the ensemble takes a list of texts.
    batched = int(client.get_model_config(model, as_json=True)["config"].get("max_batch_size", 0)) > 0
    shape = [1, 1] if batched else [1]
    data = grpcclient.InferInput("TEXT", shape, "BYTES")
    data.set_data_from_numpy(np.array([TEXT.encode("utf-8")], dtype=np.object_).reshape(shape))
    requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
    for _ in range(min(50, calls)):
        client.infer(model, [data], outputs=requested)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.infer(model, [data], outputs=requested)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def server_counters(
    client: grpcclient.InferenceServerClient, model: str, admin_key: str
) -> dict[str, tuple[int, int]]:
    """Triton's cumulative ``(count, ns)`` of ``model`` for success, queue and compute_infer."""
    headers = {"triton-grpc-protocol-admin-key": admin_key}
    stats = client.get_inference_statistics(model, headers=headers, as_json=True)["model_stats"][0]
    inference = stats["inference_stats"]
    return {
        kind: (int(inference.get(kind, {}).get("count", 0)), int(inference.get(kind, {}).get("ns", 0)))
        for kind in ("success", "queue", "compute_infer")
    }


def server_ms_per_request(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, float]:
    """Mean ms per request between two snapshots, by kind."""
    result = {}
    for kind in before:
        count = after[kind][0] - before[kind][0]
        result[kind] = (after[kind][1] - before[kind][1]) / max(count, 1) / 1e6
    return result


def onnx_run_ms(repository: Path, model: str, *, pace_s: float = 0.004) -> tuple[float, float]:
    """The served graph on the encoded text, in process: a hot loop, and calls ``pace_s`` apart.

    Returns the best mean of three hot loops and the median of the paced calls, in ms; the
    text is padded to its served bucket, and the session options are a lone run's in the
    stand-in (``clinserve_runtime.ort_options``). A served request at c=1 finds ONNX Runtime's
    threads and caches as cold as the paced calls do, so the ONNX step's server-side infer time
    minus the paced figure is what the stand-in adds around ONNX Runtime, which the native
    backend in the image replaces.
    """
    import onnxruntime as ort

    from clinserve_preprocess.contract import MODEL_INPUTS
    from clinserve_runtime.configs import ServingSettings
    from clinserve_runtime.ort_options import session_options

    spec = load_catalog()[model]
    path = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    encoded = TextEncoder.from_file(path, spec.max_tokens, buckets=ServingSettings().buckets()).encode([TEXT])
    feeds = {name: getattr(encoded, name) for name in MODEL_INPUTS}
    graph = repository / spec.onnx_model / "1" / "model.onnx"
    options = session_options({"intra_op_thread_count": "0"})
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    loops = 200
    hot = min(timeit.repeat(lambda: session.run(None, feeds), number=loops, repeat=3)) / loops
    paced = []
    for _ in range(loops):
        time.sleep(pace_s)
        started = time.perf_counter()
        session.run(None, feeds)
        paced.append(time.perf_counter() - started)
    return hot * 1000, statistics.median(paced) * 1000


def hot_encode_ms(repository: Path, model: str) -> float:
    """``TextEncoder.encode`` of the text, in this process, in a hot loop (best of 3)."""
    spec = load_catalog()[model]
    path = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    encoder = TextEncoder.from_file(path, spec.max_tokens)
    loops = 500
    return min(timeit.repeat(lambda: encoder.encode([TEXT]), number=loops, repeat=3)) / loops * 1000


@contextmanager
def own_server(repository: Path, model: str) -> Iterator[Target]:
    """A loopback server on a throw-away repository: ``model``'s four steps plus the identity."""
    from clinserve_runtime.triton import TritonServer, loopback_options

    spec = load_catalog()[model]
    with tempfile.TemporaryDirectory(prefix="step-overhead-") as folder:
        root = Path(folder)
        for name in spec.triton_models:
            if not (repository / name).is_dir():
                raise SystemExit(
                    f"{repository / name} is missing: build the repository first (make repository)"
                )
            (root / name).symlink_to((repository / name).resolve(), target_is_directory=True)
        identity = root / IDENTITY_MODEL
        (identity / "1").mkdir(parents=True)
        (identity / "config.pbtxt").write_text(IDENTITY_CONFIG)
        (identity / "1" / "model.py").write_text(IDENTITY_MODEL_PY)
        options = loopback_options(root)
        print(f"starting a server on {model} and {IDENTITY_MODEL} ...", file=sys.stderr, flush=True)
        with TritonServer(options, log_path=root / "triton.log") as server:
            server.wait_until_ready(300)
            yield Target(url=f"127.0.0.1:{options.grpc_port}", admin_key=options.admin_key)


def snapshot(client: grpcclient.InferenceServerClient, steps: Sequence[str], admin_key: str) -> Snapshot:
    """Every step's counters at once."""
    return {step: server_counters(client, step, admin_key) for step in steps}


def settled_snapshot(
    client: grpcclient.InferenceServerClient, before: Snapshot, admin_key: str, expected: int
) -> Snapshot:
    """A snapshot once every step has counted ``expected`` more requests (10 s at most).

    Triton counts a request after answering it (docs/runtime.md, lesson 7).
    """
    deadline = time.monotonic() + 10
    after = snapshot(client, list(before), admin_key)
    while time.monotonic() < deadline and any(
        after[step]["success"][0] - before[step]["success"][0] < expected for step in before
    ):
        time.sleep(0.1)
        after = snapshot(client, list(before), admin_key)
    return after


def measure_line(
    client: grpcclient.InferenceServerClient,
    target: Target,
    label: str,
    model: str,
    outputs: list[str],
    *,
    steps: Sequence[str],
    calls: int,
) -> str:
    """One report line: the median round trip, and each step's server-side time when possible."""
    before = snapshot(client, steps, target.admin_key) if target.admin_key else {}
    text = f"{label:50s} {median_ms(client, model, outputs, calls):6.3f} ms"
    if not target.admin_key:
        return text
    after = settled_snapshot(client, before, target.admin_key, min(50, calls) + calls)
    parts = []
    for step in steps:
        t = server_ms_per_request(before[step], after[step])
        parts.append(f"{step} {t['success']:.3f} (queue {t['queue']:.3f}, infer {t['compute_infer']:.3f})")
    return text + "   server ms/request: " + "; ".join(parts)


def measure(target: Target, model: str, calls: int, *, identity: bool) -> list[str]:
    """The report's lines, measured against ``target``."""
    spec = load_catalog()[model]
    client = grpcclient.InferenceServerClient(target.url)
    lines = []
    try:
        if identity:
            label = f"{IDENTITY_MODEL} (does nothing):"
            lines.append(
                measure_line(
                    client, target, label, IDENTITY_MODEL, ["OUT"], steps=[IDENTITY_MODEL], calls=calls
                )
            )
        for count in (1, 3, 5, len(TOKENIZER_OUTPUTS)):
            label = f"{spec.tokenizer_model}, {count:2d} output tensor(s):"
            outputs = list(TOKENIZER_OUTPUTS[:count])
            tokenizer = spec.tokenizer_model
            lines.append(
                measure_line(client, target, label, tokenizer, outputs, steps=[tokenizer], calls=calls)
            )
        label = f"{spec.name} (ensemble: 3 steps):"
        steps = spec.triton_models[1:]
        lines.append(measure_line(client, target, label, spec.name, ["RESULT"], steps=steps, calls=calls))
    finally:
        client.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default="127.0.0.1:8001", help="a running server's gRPC HOST:PORT")
    where.add_argument(
        "--start",
        type=Path,
        metavar="REPOSITORY",
        help="start a server on a copy of REPOSITORY's model plus the identity step, and stop it after",
    )
    parser.add_argument("--admin-key", default="", help="with --url: read Triton's statistics too")
    parser.add_argument("--model", default="treatment_changes", help="a sequence classifier of the catalog")
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args(argv)
    lines: list[str]
    if args.start is not None:
        with own_server(args.start, args.model) as target:
            lines = measure(target, args.model, args.calls, identity=True)
        label = "TextEncoder.encode in process, hot loop:"
        lines.append(f"{label:50s} {hot_encode_ms(args.start, args.model):6.3f} ms")
        hot, paced = onnx_run_ms(args.start, args.model)
        label = "ONNX Runtime run in process, hot loop:"
        lines.append(f"{label:50s} {hot:6.3f} ms   one call every 4 ms: {paced:.3f} ms")
    else:
        lines = measure(Target(args.url, args.admin_key), args.model, args.calls, identity=False)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
