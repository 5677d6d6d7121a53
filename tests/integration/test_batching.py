"""Triton's dynamic batcher merges concurrent requests into larger ONNX executions."""

from __future__ import annotations

import threading

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import GRPC_ADMIN_KEY_HEADER
from tests.integration.triton_calls import text_input

pytestmark = pytest.mark.integration
# As many concurrent requests as the tokenizer's queue accepts at once (beyond it Triton sheds
# the excess by design, which tests/integration/test_reliability_short.py covers).
CONCURRENT_REQUESTS = min(96, ServingSettings().python_max_queue_size or 96)


def onnx_stats(client: grpcclient.InferenceServerClient, model: str, admin_key: str) -> tuple[int, int]:
    stats = client.get_inference_statistics(model, headers={GRPC_ADMIN_KEY_HEADER: admin_key}, as_json=True)
    entry = stats["model_stats"][0]
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0))


def test_concurrent_requests_share_onnx_executions(triton_server, seed_samples):
    model = "treatment_changes"
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        before = onnx_stats(client, f"{model}_onnx", triton_server.admin_key)
        done = threading.Semaphore(0)
        errors: list[Exception] = []

        def on_done(result, error):
            if error is not None:
                errors.append(error)
            done.release()

        # Same text everywhere: one shape, so every request is batchable with every other.
        text = seed_samples[model][0]
        for _ in range(CONCURRENT_REQUESTS):
            client.async_infer(model, [text_input([text])], callback=on_done)
        for _ in range(CONCURRENT_REQUESTS):
            assert done.acquire(timeout=120)
        assert not errors, [str(e) for e in errors[:3]]
        after = onnx_stats(client, f"{model}_onnx", triton_server.admin_key)

    inferences = after[0] - before[0]
    executions = after[1] - before[1]
    assert inferences == CONCURRENT_REQUESTS
    # "Well below": on average at least two requests per ONNX Runtime call (measured 2.9 with the
    # default two instances and no queue delay; docs/benchmarks.md explains those settings).
    assert executions * 2 <= inferences, f"{executions} executions for {inferences} inferences"


def test_statistics_need_the_admin_key(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        with pytest.raises(InferenceServerException) as info:
            client.get_inference_statistics("treatment_changes_onnx")
        assert "restricted" in str(info.value)
