"""Triton's secure settings: no model control, admin protocols behind a key, no text in logs."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_runtime.triton import ADMIN_KEY_HEADER, GRPC_ADMIN_KEY_HEADER
from tests.integration.triton_calls import infer, text_input

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as c:
        yield c


ADMIN_CALLS = {
    "model-repository": lambda c, h: c.get_model_repository_index(headers=h),
    "statistics": lambda c, h: c.get_inference_statistics("treatment_changes", headers=h),
    "trace": lambda c, h: c.get_trace_settings(headers=h),
    "logging": lambda c, h: c.get_log_settings(headers=h),
    "shared-memory": lambda c, h: c.get_system_shared_memory_status(headers=h),
}


@pytest.mark.parametrize("protocol", sorted(ADMIN_CALLS))
def test_grpc_admin_protocols_need_the_key(client, triton_server, protocol):
    call = ADMIN_CALLS[protocol]
    for headers in (None, {GRPC_ADMIN_KEY_HEADER: "wrong-key"}):
        with pytest.raises(InferenceServerException) as info:
            call(client, headers)
        assert "restricted" in str(info.value), protocol
    call(client, {GRPC_ADMIN_KEY_HEADER: triton_server.admin_key})


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/stats",
        "/v2/repository/index",
        "/v2/logging",
        "/v2/trace/setting",
        "/v2/systemsharedmemory/status",
    ],
)
def test_http_admin_apis_need_the_key(triton_server, path):
    method = "POST" if path == "/v2/repository/index" else "GET"
    request = urllib.request.Request(triton_server.http_url + path, method=method)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code in (401, 403), path
    request.add_header(ADMIN_KEY_HEADER, triton_server.admin_key)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_inference_and_health_need_no_key(client):
    assert client.is_server_live() and client.is_server_ready()
    assert infer(client, "treatment_changes", ["no key needed"])


@pytest.mark.parametrize("action", ["load", "unload"])
def test_model_load_and_unload_are_refused_even_with_the_key(client, triton_server, action):
    headers = {GRPC_ADMIN_KEY_HEADER: triton_server.admin_key}
    call = client.load_model if action == "load" else client.unload_model
    with pytest.raises(InferenceServerException) as info:
        call("treatment_changes", headers=headers)
    assert "not allowed" in str(info.value) or "explicit" in str(info.value)
    with pytest.raises(InferenceServerException) as info:
        call("treatment_changes")
    assert "restricted" in str(info.value)
    assert client.is_model_ready("treatment_changes")


def test_no_request_text_reaches_any_log_at_the_default_level(client, triton_server, catalog):
    """A canary sent under load, in good and bad requests, never appears in the server log."""
    canary = "CANARY-7f3a9c PHI patient Jane Roe MRN 0042"
    done = threading.Semaphore(0)
    sent = 0

    def finished(result, error):
        done.release()

    requests: list[tuple[str, list[str | bytes], dict[str, str] | None]] = [
        (model, [f"{canary} received topotecan 4.0 mg."], None) for model in catalog
    ]
    requests += [
        ("treatment_changes", [canary.encode() + b"\xff"], None),  # invalid UTF-8
        ("biomarker", [canary], {"mode": "no-such-mode"}),  # invalid mode
        ("drug_development_trials", [canary * 20000], None),  # over the request limit
    ]
    for _ in range(10):
        for model, texts, parameters in requests:
            client.async_infer(model, [text_input(texts)], callback=finished, parameters=parameters)
            sent += 1
    for _ in range(sent):
        assert done.acquire(timeout=120)
    log = triton_server.log_path.read_text(errors="replace")
    assert len(log) > 1000, "the server log is being captured"
    assert "CANARY-7f3a9c" not in log
    assert "Jane Roe" not in log
