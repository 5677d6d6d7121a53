"""A dead Python stub shows as BACKEND failures of its step: what ClinServePythonStubDead reads.

Its own server (the session's must keep its stubs), serving one model's four Triton models from
the test repository. Both tokenizer stubs are killed; every request then fails with "Stub
process ... is not healthy", counted by Triton as a failure of the tokenizer step with
``reason="BACKEND"``, while the step's own error counters stay still (docs/metrics.md, "How
Triton counts failures"). Before the kill, a refused request moves no BACKEND counter.
(That a live stub counts its refusals exactly is tests/integration/test_metrics.py's job.)
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.processes import python_stubs
from clinserve_runtime.procfs import dead_stubs
from clinserve_runtime.triton import TritonServer, loopback_options
from tests.conftest import TEST_REPOSITORY
from tests.integration.test_metrics import delta, scrape
from tests.integration.triton_calls import infer

pytestmark = pytest.mark.integration

MODEL = "treatment_changes"
TOKENIZER = f"{MODEL}_tokenizer"
DEAD_CALLS = 3


@pytest.fixture(scope="module")
def server(triton_server) -> Iterator[TritonServer]:
    """A server of ``MODEL`` only (``triton_server`` has built the test repository)."""
    with tempfile.TemporaryDirectory(prefix="dead-stub-") as folder:
        root = Path(folder)
        for name in load_catalog()[MODEL].triton_models:
            (root / name).symlink_to((TEST_REPOSITORY / name).resolve(), target_is_directory=True)
        # A dead stub makes a graceful stop wait out the exit timeout (docs/runtime.md, lesson 4).
        options = loopback_options(root, exit_timeout_secs=3)
        with TritonServer(options, log_path=root / "triton.log") as running:
            running.wait_until_ready(300)
            yield running


def test_a_dead_tokenizer_stub_counts_backend_failures_and_no_step_errors(server):
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        infer(client, MODEL, ["Switched from ambien to melatonin."])
        before = scrape(server.metrics_url)
        with pytest.raises(InferenceServerException):
            infer(client, MODEL, ["fine", ""])  # refused by a live stub
        refused = scrape(server.metrics_url)
        assert delta(before, refused, "nv_inference_request_failure", model=TOKENIZER, reason="BACKEND") == 0

        victims = [stub.pid for stub in python_stubs(server.pid) if stub.model == TOKENIZER]
        assert victims, "no tokenizer stub found under the server"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while set(dead_stubs(server.pid)) < set(victims):  # Triton leaves them as zombies
            assert time.monotonic() < deadline, "the killed stubs did not die"
            time.sleep(0.1)
        for _ in range(DEAD_CALLS):
            with pytest.raises(InferenceServerException, match="is not healthy"):
                infer(client, MODEL, ["Switched from ambien to melatonin."])
        after = scrape(server.metrics_url)
    assert (
        delta(refused, after, "nv_inference_request_failure", model=TOKENIZER, reason="BACKEND") == DEAD_CALLS
    )
    # The dead stubs report nothing more (what they held dies with them).
    assert delta(refused, after, "clinserve_errors_total", model=MODEL) == 0
    assert delta(refused, after, "clinserve_texts_total", model=MODEL) == 0
