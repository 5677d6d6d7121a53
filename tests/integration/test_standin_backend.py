"""The ONNX Runtime stand-in refuses to load a model whose config disagrees with its graph."""

from __future__ import annotations

import shutil

import pytest

from clinserve_runtime.triton import TritonRuntimeError, TritonServer, loopback_options

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
