"""The benchmark's FastAPI peers start on a port nothing can take from them, and answer."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import urllib.request

import pytest

from benchmarks.loadgen import TargetSpec, level_record, run_levels
from benchmarks.peers.serve import HOST, PeerServer
from lab.corpus import generate_corpus
from tests.conftest import TEST_REPOSITORY

pytestmark = pytest.mark.integration


def test_the_onnx_peer_holds_its_port_from_the_start_and_serves_on_it(catalog, tmp_path):
    from clinserve_runtime.build_demo import build

    build(TEST_REPOSITORY, "tiny")
    peer = PeerServer(
        "onnx", model="treatment_changes", repository=TEST_REPOSITORY, log_path=tmp_path / "peer.log"
    )
    with peer:
        # The port is bound before the child has loaded anything: no other socket can take it
        # while the model loads (a port picked free and bound later once was taken in between).
        intruder = socket.socket()
        try:
            with pytest.raises(OSError, match="in use") as refused:
                intruder.bind((HOST, peer.port))
            assert refused.value.errno == errno.EADDRINUSE
        finally:
            intruder.close()
        peer.wait_until_ready(timeout_s=120)
        request = urllib.request.Request(
            peer.url,
            data=json.dumps({"texts": ["Patient switched from metformin to insulin."]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            (result,) = json.load(response)["results"]
        # The benchmark's HTTP transport on the shared load driver, against the real peer.
        texts = [t.text for t in generate_corpus(12, seed=0)]
        levels = asyncio.run(
            run_levels(
                [TargetSpec("onnx", peer.url)], texts, [2], warmup_s=0.2, duration_s=1.0, texts_per_request=2
            )
        )
        [record] = [level_record(level) for level in levels["onnx"]]
    assert result["label"] in catalog["treatment_changes"].labels
    assert 0.0 <= result["score"] <= 1.0
    assert peer.process is not None and peer.process.returncode is not None  # stopped with the block
    assert record["error_samples"] == [] and record["summary"]["errors"] == 0
    assert record["summary"]["throughput"] > 0 and record["texts_per_request"] == 2
    assert record["latencies_ms"] and min(record["latencies_ms"]) > 0
