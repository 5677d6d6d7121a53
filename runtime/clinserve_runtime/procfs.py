"""The liveness check's reader of ``/proc`` (Linux): the server process and its dead stubs.

Dependency-free on purpose: the server image runs ``python -m clinserve_runtime.stub_check`` as
its Kubernetes liveness probe, and the image has only the project's wheel, numpy and
``tokenizers`` (deploy/docker/Dockerfile installs the wheel ``--no-deps``), not psutil. Everything
else that reads processes (memory, CPU time, the stubs of a live server, process groups) does it
with psutil in :mod:`clinserve_runtime.processes`.

``tritonserver`` runs every Python-backend model instance (tokenizers, post-processors, the
``onnxruntime`` stand-in) in a child process, ``triton_python_backend_stub``, and Triton 2.51
leaves a stub that died as an unreaped zombie child (``stub_check`` says why that matters).
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")
STUB_EXECUTABLE = "triton_python_backend_stub"
#: The stub's command name as the kernel keeps it (truncated to 15 characters).
STUB_COMMAND_NAME = STUB_EXECUTABLE[:15]
SERVER_COMMAND_NAME = "tritonserver"


def _stat(pid: int, proc: Path) -> tuple[str, str, int] | None:
    """``(command name, state, parent pid)`` of a process, ``None`` once it is gone."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (2nd field) may hold spaces and parentheses: split around the last ")".
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    if len(fields) < 2:
        return None
    return head.partition("(")[2], fields[0], int(fields[1])


def server_pids(proc: Path = PROC) -> list[int]:
    """Live processes named ``tritonserver``, lowest pid first."""
    found = []
    for folder in proc.glob("[0-9]*"):
        stat = _stat(int(folder.name), proc)
        if stat is not None and stat[0] == SERVER_COMMAND_NAME and stat[1] != "Z":
            found.append(int(folder.name))
    return sorted(found)


def _children(proc: Path = PROC) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for folder in proc.glob("[0-9]*"):
        stat = _stat(int(folder.name), proc)
        if stat is not None:  # else the process exited while we looked
            children.setdefault(stat[2], []).append(int(folder.name))
    return children


def _descendants(root_pid: int, proc: Path) -> list[int]:
    """``root_pid`` and every process below it, parents first."""
    children = _children(proc)
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop(0)
        found.append(pid)
        stack.extend(sorted(children.get(pid, [])))
    return found


def dead_children(server_pid: int, proc: Path = PROC) -> list[tuple[int, str]]:
    """Children of ``server_pid`` that have exited and not been reaped (zombies): pid and name.

    A Python-backend stub that died is left this way by Triton 2.51 (it neither reaps nor
    restarts it), so a stub zombie under ``tritonserver`` means a model that fails every request.
    """
    dead = []
    for pid in _descendants(server_pid, proc)[1:]:
        stat = _stat(pid, proc)
        if stat is not None and stat[1] == "Z":
            dead.append((pid, stat[0]))
    return dead


def dead_stubs(server_pid: int, proc: Path = PROC) -> list[int]:
    """Python-backend stubs under ``server_pid`` that have died (unreaped): their pids."""
    return [pid for pid, name in dead_children(server_pid, proc) if name == STUB_COMMAND_NAME]
