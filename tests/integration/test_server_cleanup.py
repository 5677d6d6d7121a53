"""A stopped server takes its Python stubs with it, however it ended (issue 16, finding 6).

A real server on the tiny test repository runs one stub per Python-backend model instance, all
in the server's process group. Killed alone (a crash, a test's SIGKILL), it leaves them to init;
``TritonServer.stop`` ends what is left of the group before it returns.
"""

from __future__ import annotations

import os
import signal

import pytest

from clinserve_runtime.processes import group_members, python_stubs
from clinserve_runtime.triton import TritonServer, loopback_options
from tests.conftest import LOG_DIR, TEST_REPOSITORY

pytestmark = pytest.mark.integration


def test_stop_after_the_server_was_killed_leaves_none_of_its_stubs():
    from clinserve_runtime.build_demo import build

    build(TEST_REPOSITORY, "tiny")
    server = TritonServer(loopback_options(TEST_REPOSITORY), log_path=LOG_DIR / "cleanup.log")
    server.start()
    try:
        server.wait_until_ready(timeout_s=300)
        stubs = python_stubs(server.pid)
        assert stubs, "the test repository's Python steps run in stubs"
        os.kill(server.pid, signal.SIGKILL)  # the server alone, as a crash would
        assert server.process is not None
        server.process.wait()
    finally:
        server.stop()
    assert group_members(server.pid) == [], "stubs outlived the stopped server"
