"""The gpu profile's configs on a real Triton 2.51 (CPU instances: no GPU runs here).

What a GPU cannot be needed for: Triton accepts every gpu-profile config (TensorRT accelerator
parameters, the explicit profile, one instance without a queue policy), runs the warm-ups at the
profile's smallest and largest shapes while loading, serves every ensemble, and the tokenizer
refuses a request that needs more sequences than the ONNX step's per-model batch limit with a
clear error instead of letting the ONNX step fail. The instance kind is switched to ``KIND_CPU``
and the stand-in backend ignores the accelerator, so the TensorRT build itself is not exercised.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import ServingSettings, onnx_max_batch_size
from clinserve_runtime.triton import TritonServer, loopback_options
from tests.integration.triton_calls import infer

pytestmark = pytest.mark.integration

GPU = ServingSettings(execution_profile="gpu")


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory: pytest.TempPathFactory, catalog) -> Iterator[TritonServer]:
    repository = tmp_path_factory.mktemp("gpu-profile") / "repository"
    build(repository, "tiny", settings=GPU)
    for spec in catalog.values():
        config = repository / spec.onnx_model / "config.pbtxt"
        text = config.read_text(encoding="utf-8")
        assert "kind: KIND_GPU" in text and "trt_profile_max_shapes" in text
        config.write_text(text.replace("kind: KIND_GPU", "kind: KIND_CPU"), encoding="utf-8")
    log_path = repository.parent / "triton.log"
    server = TritonServer(loopback_options(repository, exit_timeout_secs=5), log_path=log_path)
    server.start()
    try:
        server.wait_until_ready(timeout_s=300)
        yield server
    finally:
        server.stop()


def test_every_gpu_profile_ensemble_loads_warms_up_and_answers(gpu_server, catalog):
    client = grpcclient.InferenceServerClient(gpu_server.grpc_url)
    for spec in catalog.values():
        # Ready means loaded with its warm-ups run: a failing warm-up fails the load.
        assert client.is_model_ready(spec.onnx_model), spec.onnx_model
        served = client.get_model_config(spec.onnx_model, as_json=True)["config"]
        assert [w["name"] for w in served["model_warmup"]] == ["profile_min_shape", "profile_max_shape"]
        assert "trt_profile_max_shapes" in str(served["optimization"])
        [result] = infer(client, spec.name, ["Metformin was stopped after the rash. HER2 was negative."])
        assert result["model"] == spec.name and result["untrained"] is True


def test_a_request_beyond_the_gpu_batch_limit_is_refused_by_the_tokenizer(gpu_server, catalog):
    spec = catalog["biomarker"]
    limit = onnx_max_batch_size(spec, GPU)
    assert limit < GPU.max_batch_size  # the gpu limit is the token budget's, not the cpu one
    client = grpcclient.InferenceServerClient(gpu_server.grpc_url)
    sentences = " ".join(f"Sentence {i} is short." for i in range(limit + 1))
    with pytest.raises(InferenceServerException, match=f"more than the {limit:,} one request may use"):
        infer(client, spec.name, [sentences])
    # One sentence less fits: the limit is the ONNX step's, exactly.
    assert len(infer(client, spec.name, [" ".join(f"Sentence {i} is short." for i in range(limit))])) == 1
