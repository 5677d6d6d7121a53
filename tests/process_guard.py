"""Processes the test session left running: found by a variable every child inherits, then ended.

``tests/conftest.py`` sets ``SESSION_VARIABLE`` to a value of its own when the session starts;
servers, their Python stubs (in whatever process group), CLI runs and benchmark peers all inherit
it. At the end of the session whatever still carries it was started by these tests and leaked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from clinserve_runtime.processes import command_line, parent_pid, processes_with_environment

SESSION_VARIABLE = "CLINSERVE_TEST_SESSION"
# Python's own helper processes (multiprocessing's resource tracker, its fork server) belong to
# the test process itself, which started them on first use, and end when it exits.
OWN_HELPERS = ("from multiprocessing.resource_tracker import", "from multiprocessing.forkserver import")
#: Stubs of a server that was just killed notice within about 2 s and exit by themselves.
GRACE_S = 5.0


def _own_helper(pid: int) -> bool:
    arguments = " ".join(command_line(pid))
    return parent_pid(pid) == os.getpid() and any(helper in arguments for helper in OWN_HELPERS)


def leftovers(value: str, *, grace_s: float = GRACE_S) -> list[int]:
    """Processes marked with ``value`` still alive after up to ``grace_s`` seconds."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [
            pid
            for pid in processes_with_environment(SESSION_VARIABLE, value)
            if pid != os.getpid() and not _own_helper(pid)
        ]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def end_leftovers(value: str, *, grace_s: float = GRACE_S) -> list[str]:
    """SIGKILL the processes marked with ``value`` that outlived the grace; describe each one."""
    found = []
    for pid in leftovers(value, grace_s=grace_s):
        described = f"pid {pid}: {' '.join(command_line(pid))[:200]}"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        found.append(described)
    return found
