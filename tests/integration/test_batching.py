"""Triton's dynamic batcher merges concurrent requests into larger ONNX executions."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import GRPC_ADMIN_KEY_HEADER
from tests.integration.triton_calls import onnx_inputs, text_input

pytestmark = pytest.mark.integration
# As many concurrent requests as the tokenizer's queue accepts at once (beyond it Triton sheds
# the excess by design, which tests/integration/test_reliability_short.py covers).
CONCURRENT_REQUESTS = min(96, ServingSettings().python_max_queue_size or 96)


def onnx_stats(client: grpcclient.InferenceServerClient, model: str, admin_key: str) -> tuple[int, int]:
    stats = client.get_inference_statistics(model, headers={GRPC_ADMIN_KEY_HEADER: admin_key}, as_json=True)
    entry = stats["model_stats"][0]
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0))


def counts_after(
    client: grpcclient.InferenceServerClient, model: str, admin_key: str, before: tuple[int, int]
) -> tuple[int, int]:
    """(inferences, executions) since ``before``, once all ``CONCURRENT_REQUESTS`` are counted.

    A backend reports an execution's statistics after it has sent the responses, so a client can
    hold every answer while the last execution is not counted yet (seen: 32 of 96 inferences).
    """
    deadline = time.monotonic() + 10
    while True:
        now = onnx_stats(client, model, admin_key)
        counts = (now[0] - before[0], now[1] - before[1])
        if counts[0] >= CONCURRENT_REQUESTS or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def send_concurrently(client: grpcclient.InferenceServerClient, model: str, inputs_for_one) -> None:
    """``CONCURRENT_REQUESTS`` asynchronous requests at once; waits for all, fails on any error."""
    done = threading.Semaphore(0)
    errors: list[Exception] = []

    def on_done(result, error):
        if error is not None:
            errors.append(error)
        done.release()

    for _ in range(CONCURRENT_REQUESTS):
        client.async_infer(model, inputs_for_one(), callback=on_done)
    for _ in range(CONCURRENT_REQUESTS):
        assert done.acquire(timeout=120)
    assert not errors, [str(e) for e in errors[:3]]


def token_ids(length: int) -> np.ndarray:
    ids = np.full((1, length), 1000, dtype=np.int64)
    ids[0, 0], ids[0, -1] = 2, 3
    return ids


def test_the_dynamic_batcher_merges_concurrent_requests_to_the_onnx_step(triton_server):
    # Straight to the ONNX step, same shape everywhere: requests arrive far faster than an
    # execution ends, so the two instances' queue is never short of company. (Through the
    # ensemble the tokenizer paces arrivals, and how many meet in the queue depends on the
    # machine: 2.9 per execution on a quiet machine, 1.85 on a busy CI runner.)
    model = "treatment_changes_onnx"
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        before = onnx_stats(client, model, triton_server.admin_key)
        send_concurrently(client, model, lambda: onnx_inputs(token_ids(32)))
        inferences, executions = counts_after(client, model, triton_server.admin_key, before)
    assert inferences == CONCURRENT_REQUESTS
    assert executions * 2 <= inferences, f"{executions} executions for {inferences} inferences"


def test_ensemble_requests_reach_the_batcher_together(triton_server, seed_samples):
    model = "treatment_changes"
    # Same text everywhere: one shape, so every request is batchable with every other.
    text = seed_samples[model][0]
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        before = onnx_stats(client, f"{model}_onnx", triton_server.admin_key)
        send_concurrently(client, model, lambda: [text_input([text])])
        inferences, executions = counts_after(client, f"{model}_onnx", triton_server.admin_key, before)
    assert inferences == CONCURRENT_REQUESTS
    # Merging happens behind the ensemble too; how much depends on the machine (see above).
    assert executions < inferences, f"{executions} executions for {inferences} inferences: nothing merged"


def test_statistics_need_the_admin_key(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        with pytest.raises(InferenceServerException) as info:
            client.get_inference_statistics("treatment_changes_onnx")
        assert "restricted" in str(info.value)
