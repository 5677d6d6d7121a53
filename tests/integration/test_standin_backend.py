"""The ONNX Runtime stand-in: it refuses a config that disagrees with its graph; its instances share cores."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from clinserve_runtime.core_sharing import counter_path
from clinserve_runtime.triton import TritonRuntimeError, TritonServer, loopback_options
from tests.integration.triton_calls import onnx_inputs

pytestmark = pytest.mark.integration


def test_a_config_graph_mismatch_stops_the_server_with_a_message_naming_it(triton_server, catalog, tmp_path):
    spec = catalog["treatment_changes"]
    repository = tmp_path / "repository"
    for name in spec.triton_models:
        shutil.copytree(triton_server.repository / name, repository / name)
    config = repository / spec.onnx_model / "config.pbtxt"
    text = config.read_text()
    assert "dims: 2\n" in text
    config.write_text(text.replace("dims: 2\n", "dims: 3\n", 1))

    log_path = tmp_path / "triton.log"
    server = TritonServer(loopback_options(repository, exit_timeout_secs=5), log_path=log_path)
    server.start()
    try:
        with pytest.raises(TritonRuntimeError, match="exited with code"):
            server.wait_until_ready(timeout_s=120)
    finally:
        server.stop()
    log = log_path.read_text(errors="replace")
    assert "output 'logits' has dims [3] in config.pbtxt but [2] in the graph" in log


def test_instances_share_the_cores_and_answer_alike_alone_and_side_by_side(triton_server, catalog, tmp_path):
    """Runs side by side (the shared-cores session) answer like a lone run; the count ends with the server."""
    spec = catalog["treatment_changes"]
    repository = tmp_path / "repository"
    for name in spec.triton_models:
        shutil.copytree(triton_server.repository / name, repository / name)
    # The generated config leaves sharing to the stand-in's own default (production reads none of it).
    assert "share_cores" not in (repository / spec.onnx_model / "config.pbtxt").read_text()

    server = TritonServer(loopback_options(repository, exit_timeout_secs=5), log_path=tmp_path / "triton.log")
    server.start()
    try:
        server.wait_until_ready(timeout_s=120)
        assert server.process is not None
        counter = counter_path(spec.onnx_model, server.process.pid)
        assert counter.is_file(), f"no running count at {counter}"
        ids = np.random.default_rng(1).integers(5, 1000, size=(48, 64), dtype=np.int64)
        client = grpcclient.InferenceServerClient(server.grpc_url)

        def logits() -> np.ndarray:
            return np.asarray(client.infer(spec.onnx_model, onnx_inputs(ids)).as_numpy("logits"))

        alone = logits()
        with ThreadPoolExecutor(4) as pool:
            side_by_side = list(pool.map(lambda _: logits(), range(16)))
        for answer in side_by_side:
            np.testing.assert_allclose(answer, alone, rtol=1e-5, atol=1e-6)
    finally:
        server.stop()
    assert not counter.exists(), "the running count must not outlive the server"
