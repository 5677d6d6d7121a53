"""Child processes started in a process group of their own, and ended with everything in it.

``tritonserver`` runs each Python-backend model instance as a child process (a stub), and a
benchmark peer may start workers. Started with ``start_new_session=True``, the child leads a
new process group that its own children join, so ending the group ends them all. Waiting for
the leader alone is not enough: stubs that outlive a killed or crashed server are re-parented
to init and keep running (issue 16 saw five of them ten minutes after a test run), so
:func:`stop_group` always ends the rest of the group once the leader is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from clinserve_runtime.processes import group_members

POLL_S = 0.05
#: How long SIGKILLed processes may take to be gone (they are, at once, on an idle machine).
GONE_TIMEOUT_S = 5.0


def kill_group(pgid: int) -> None:
    """SIGKILL every process in group ``pgid``; nothing happens when the group is empty."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exited_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``pid`` to exit, leaving it a zombie (not reaped).

    While the leader is an unreaped zombie its pid cannot be reused, so a group kill that follows
    cannot reach a stranger's process that happens to get the same number.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # already reaped (by Popen.wait elsewhere)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def wait_group_gone(pgid: int, timeout_s: float = GONE_TIMEOUT_S) -> list[int]:
    """Wait until no live process is left in group ``pgid``; returns those left at the timeout."""
    deadline = time.monotonic() + timeout_s
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return left


def stop_group(process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """End ``process`` (a group leader) gracefully, then everything left in its group.

    SIGTERM to the leader, up to ``timeout_s`` for it to exit, SIGKILL to the group if it does
    not; once the leader has exited, SIGKILL to the group ends children that outlived it, and
    this returns when they are gone (a signal takes effect when its target next runs). Returns
    the leader's exit code.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        if not _exited_unreaped(process.pid, timeout_s):
            kill_group(process.pid)
            _exited_unreaped(process.pid, timeout_s)
    # The leader's group id is its pid: a reaped leader's number stays reserved while any
    # process of its group lives, and an empty group makes this a no-op.
    kill_group(process.pid)
    code = process.wait()
    wait_group_gone(process.pid)
    return code
