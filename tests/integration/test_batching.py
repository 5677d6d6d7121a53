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
    """(requests answered, executions) of ``model`` so far."""
    stats = client.get_inference_statistics(model, headers={GRPC_ADMIN_KEY_HEADER: admin_key}, as_json=True)
    entry = stats["model_stats"][0]
    # Requests (successful ones), not inference_count: that counts rows, 8 per request below.
    requests = int(entry["inference_stats"].get("success", {}).get("count", 0))
    return requests, int(entry.get("execution_count", 0))


def counts_after(
    client: grpcclient.InferenceServerClient, model: str, admin_key: str, before: tuple[int, int]
) -> tuple[int, int]:
    """(requests, executions) since ``before``, once all ``CONCURRENT_REQUESTS`` are counted.

    A backend reports an execution's statistics after it has sent the responses, so a client can
    hold every answer while the last execution is not counted yet (seen: 32 of 96 requests).
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
    # Straight to the ONNX step, same shape everywhere. Each request is 8 sequences of 128
    # tokens, so one execution takes several times as long as the client needs to submit the
    # next requests, and the two instances' queue is never short of company. (With one
    # 32-token sequence per request an execution took about as long as one submission: a clean
    # clone merged only 96 requests into 62 executions on 2026-12-06. Through the ensemble the
    # tokenizer paces arrivals, and how many meet in the queue depends on the machine: 2.9 per
    # execution on a quiet machine, 1.85 on a busy CI runner.)
    model = "treatment_changes_onnx"
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        before = onnx_stats(client, model, triton_server.admin_key)
        send_concurrently(client, model, lambda: onnx_inputs(np.repeat(token_ids(128), 8, axis=0)))
        requests, executions = counts_after(client, model, triton_server.admin_key, before)
    assert requests == CONCURRENT_REQUESTS
    assert executions * 2 <= requests, f"{executions} executions for {requests} requests"


def test_ensemble_requests_reach_the_batcher_together(triton_server, seed_samples):
    model = "treatment_changes"
    # Same text everywhere: one shape, so every request is batchable with every other.
    text = seed_samples[model][0]
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        before = onnx_stats(client, f"{model}_onnx", triton_server.admin_key)
        send_concurrently(client, model, lambda: [text_input([text])])
        requests, executions = counts_after(client, f"{model}_onnx", triton_server.admin_key, before)
    assert requests == CONCURRENT_REQUESTS
    # Merging happens behind the ensemble too; how much depends on the machine (see above).
    assert executions < requests, f"{executions} executions for {requests} requests: nothing merged"


def test_statistics_need_the_admin_key(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        with pytest.raises(InferenceServerException) as info:
            client.get_inference_statistics("treatment_changes_onnx")
        assert "restricted" in str(info.value)


def _mixed_requests(seed_samples) -> list[tuple[str, list[str | bytes], str | None]]:
    """31 requests of different models, lengths, text counts and modes."""
    base = [t for texts in seed_samples.values() for t in texts]
    plans = [
        ("treatment_changes", None),
        ("biomarker", "sentences"),
        ("biomarker", "document"),
        ("pubmed_multilabel", None),
        ("drug_development_trials", "windows"),
        ("drug_development_trials", "sentences"),
        ("response_to_treatment", "whole"),
    ]
    requests: list[tuple[str, list[str | bytes], str | None]] = []
    for index in range(31):
        model, mode = plans[index % len(plans)]
        count = 1 + index % 3
        texts: list[str | bytes] = [
            " ".join(base[(index + k + j) % len(base)] for j in range(1 + (index * 7 + k) % 4))
            for k in range(count)
        ]
        requests.append((model, texts, mode))
    return requests


def _send_all_at_once(client, requests) -> list[object]:
    """Every request at the same moment; each one's RESULT bytes, or its error."""
    outcomes: list[object] = [None] * len(requests)
    done = threading.Semaphore(0)

    def on_done(position, result, error):
        outcomes[position] = error if error is not None else [bytes(x) for x in result.as_numpy("RESULT")]
        done.release()

    for position, (model, texts, mode) in enumerate(requests):
        client.async_infer(
            model,
            [text_input(texts)],
            callback=lambda result, error, position=position: on_done(position, result, error),
            parameters={"mode": mode} if mode else None,
        )
    for _ in requests:
        assert done.acquire(timeout=120)
    return outcomes


def _python_step_counts(client, admin_key: str) -> tuple[int, int]:
    """(requests, executions) of every tokenizer and post-processor so far."""
    stats = client.get_inference_statistics("", headers={GRPC_ADMIN_KEY_HEADER: admin_key}, as_json=True)
    steps = [m for m in stats["model_stats"] if m["name"].endswith(("_tokenizer", "_postprocess"))]
    requests = sum(int(m["inference_stats"]["success"].get("count", 0)) for m in steps)
    return requests, sum(int(m.get("execution_count", 0)) for m in steps)


def test_a_request_gets_the_same_bytes_alone_and_merged_with_thirty_others(triton_server, seed_samples):
    requests = _mixed_requests(seed_samples)
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        alone = [_send_all_at_once(client, [request])[0] for request in requests]
        assert not [a for a in alone if isinstance(a, Exception)]
        before = _python_step_counts(client, triton_server.admin_key)
        merged = [_send_all_at_once(client, requests) for _ in range(3)]
        # A step reports an execution's statistics after its responses (docs/runtime.md, lesson 7).
        deadline = time.monotonic() + 10
        while (after := _python_step_counts(client, triton_server.admin_key))[0] - before[0] < 6 * len(
            requests
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
    for round_outcomes in merged:
        for position, outcome in enumerate(round_outcomes):
            assert outcome == alone[position], (
                f"request {position} ({requests[position][0]}) differs when merged"
            )
    # The Python steps did serve several requests per execution.
    served, executions = after[0] - before[0], after[1] - before[1]
    assert served == 3 * 2 * len(requests)
    assert executions < served, f"{executions} executions for {served} requests: nothing merged"


@pytest.mark.parametrize(
    ("bad", "status", "fragment"),
    [
        (("treatment_changes", ["fine", ""], None), "StatusCode.INVALID_ARGUMENT", "TEXT[1] is empty"),
        (("biomarker", [b"caf\xc3(\xff"], None), "StatusCode.INVALID_ARGUMENT", "TEXT[0] is not valid UTF-8"),
        (("drug_development_trials", ["x"], "document"), "StatusCode.INVALID_ARGUMENT", "mode='document'"),
    ],
)
def test_a_bad_request_fails_alone_among_merged_ones(triton_server, seed_samples, bad, status, fragment):
    requests = _mixed_requests(seed_samples)
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        alone = _send_all_at_once(client, requests[:1])[0]
        outcomes = _send_all_at_once(client, [requests[0], bad, *requests[1:]])
    error = outcomes[1]
    assert isinstance(error, InferenceServerException) and error.status() == status and fragment in str(error)
    assert outcomes[0] == alone
    assert not [o for i, o in enumerate(outcomes) if i != 1 and isinstance(o, Exception)]
