"""Tests clean up every process they start (issue 16, finding 6 and item 5).

The process trees here are small Python scripts shaped like a server and its stubs: a group
leader that exits on SIGTERM (or is killed) while a child of it stays behind.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from clinserve_runtime.process_group import stop_group
from clinserve_runtime.processes import processes_with_environment
from tests.process_guard import SESSION_VARIABLE, end_leftovers, leftovers

# A "server" that starts a "stub", prints its pid, and exits on SIGTERM without ending it.
LEADER = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    # The handler goes in before the pid is printed: the test sends SIGTERM as soon as it reads
    # the pid, and a SIGTERM that beat the handler killed the leader (-15) on a loaded CI host.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(stub.pid, flush=True)
    time.sleep(120)
    """
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_leader(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER], stdout=subprocess.PIPE, start_new_session=True, env=env
    )
    assert leader.stdout is not None
    return leader, int(leader.stdout.readline())


def test_stopping_a_group_leader_ends_the_children_it_leaves_behind():
    leader, stub = start_leader()
    try:
        assert alive(stub)
        assert stop_group(leader, timeout_s=10) == 0  # it exited on SIGTERM by itself
        assert not alive(stub), "the stub outlived its server"
    finally:
        os.killpg(leader.pid, signal.SIGKILL) if alive(stub) else None


def test_a_killed_leaders_children_are_ended_too():
    # A test that SIGKILLs the server alone, then stops it: its stubs must not survive it.
    leader, stub = start_leader()
    try:
        leader.kill()
        leader.wait()
        assert alive(stub)  # orphaned, re-parented to init
        stop_group(leader, timeout_s=10)
        assert not alive(stub)
    finally:
        os.killpg(leader.pid, signal.SIGKILL) if alive(stub) else None


def test_a_leader_that_ignores_sigterm_is_killed_with_its_group_after_the_timeout():
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " print(1, flush=True); time.sleep(120)"
    )
    stubborn = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # the handler is installed
    started = time.monotonic()
    assert stop_group(stubborn, timeout_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_the_session_guard_finds_and_ends_what_the_tests_left_running():
    # Its own marker value, so the real session guard is not involved.
    value = f"guard-test-{secrets.token_hex(4)}"
    env = {**os.environ, SESSION_VARIABLE: value}
    leader, stub = start_leader(env)
    try:
        leader.kill()  # the stub is now an orphan in no group we could name
        leader.wait()
        assert processes_with_environment(SESSION_VARIABLE, value) == [stub]
        [described] = end_leftovers(value, grace_s=0.5)
        assert described.startswith(f"pid {stub}: ") and "time.sleep(120)" in described
        deadline = time.monotonic() + 5
        while alive(stub) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(stub)
        assert end_leftovers(value, grace_s=0) == []
    finally:
        os.killpg(leader.pid, signal.SIGKILL) if alive(stub) else None


def test_this_session_marks_the_processes_it_starts():
    value = os.environ[SESSION_VARIABLE]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        assert child.pid in processes_with_environment(SESSION_VARIABLE, value)
    finally:
        child.kill()
        child.wait()


def test_pythons_own_helper_processes_of_the_test_process_are_not_leftovers():
    import multiprocessing.resource_tracker

    multiprocessing.resource_tracker.ensure_running()  # lives as long as this process
    tracker = multiprocessing.resource_tracker._resource_tracker._pid  # type: ignore[attr-defined]
    assert tracker is not None
    assert tracker not in leftovers(os.environ[SESSION_VARIABLE], grace_s=0)
