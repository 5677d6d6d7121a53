"""A server's process tree read from ``/proc`` (Linux): memory, CPU time, and the Python backend's stubs.

``tritonserver`` runs every Python-backend model instance (tokenizers, post-processors, the
``onnxruntime`` stand-in) in a child process, ``triton_python_backend_stub``. Memory of the
service is therefore the sum over the tree, and a fault in one model is a fault in one child.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
STUB_EXECUTABLE = "triton_python_backend_stub"
#: The stub's command name as the kernel keeps it (truncated to 15 characters).
STUB_COMMAND_NAME = STUB_EXECUTABLE[:15]
#: Units of ``utime`` and ``stime`` in ``/proc/<pid>/stat``.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class StubProcess:
    """One Python-backend stub: the model instance it serves.

    Attributes:
        pid: Process id.
        model: Triton model name (``treatment_changes_tokenizer``).
        instance: Model instance name (``treatment_changes_tokenizer_0_0``).
    """

    pid: int
    model: str
    instance: str


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


SERVER_COMMAND_NAME = "tritonserver"


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


def descendants(root_pid: int, proc: Path = PROC) -> list[int]:
    """``root_pid`` and every process below it, parents first."""
    children = _children(proc)
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop(0)
        found.append(pid)
        stack.extend(sorted(children.get(pid, [])))
    return found


def parent_pid(pid: int, proc: Path = PROC) -> int | None:
    """The parent's pid, ``None`` once the process is gone."""
    stat = _stat(pid, proc)
    return None if stat is None else stat[2]


def group_members(pgid: int, proc: Path = PROC) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, lowest pid first."""
    found = []
    for folder in proc.glob("[0-9]*"):
        try:
            fields = (folder / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(folder.name))
    return sorted(found)


def processes_with_environment(name: str, value: str, proc: Path = PROC) -> list[int]:
    """Live processes whose environment holds ``name=value``, lowest pid first.

    A variable set in a parent's ``os.environ`` is inherited by every process it starts and by
    theirs, whatever process group or session they move to, so it marks a whole lineage (the
    test session's guard in ``tests/conftest.py`` finds what the tests left running this way).
    A process's own later changes to its environment are not seen (``/proc/<pid>/environ`` is
    its environment at start), nor are processes of other users or zombies.
    """
    wanted = f"{name}={value}".encode()
    found = []
    for folder in proc.glob("[0-9]*"):
        try:
            environment = (folder / "environ").read_bytes()
        except OSError:  # exited, or not ours to read
            continue
        if wanted in environment.split(b"\0"):
            found.append(int(folder.name))
    return sorted(found)


def rss_kib(pid: int, proc: Path = PROC) -> int:
    """Resident memory of one process in KiB (0 when it has exited or is a zombie)."""
    try:
        for line in (proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """CPU time a process has used so far, user plus system, in seconds (0 once it is gone).

    Fields 14 and 15 of ``/proc/<pid>/stat`` (``utime``, ``stime``), in clock ticks. Time of
    threads that have exited stays counted; time of exited child processes does not.
    """
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()
    # After the command name: state is field 3, so utime and stime are the 12th and 13th here.
    if len(fields) < 13:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(root_pid: int, proc: Path = PROC) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    return sum(rss_kib(pid, proc) for pid in descendants(root_pid, proc)) / 1024


def command_line(pid: int, proc: Path = PROC) -> list[str]:
    """A process's arguments (empty when it has exited)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def parse_stub_command(pid: int, argv: list[str]) -> StubProcess | None:
    """The stub a command line starts, or ``None`` when it is not a Python-backend stub.

    The stub's first argument is the model file (``<repository>/<model>/<version>/model.py``,
    or ``model.onnx`` for a Python-based backend); a later argument is the instance name,
    ``<model>_<group>_<index>``.
    """
    if not argv or Path(argv[0]).name != STUB_EXECUTABLE or len(argv) < 2:
        return None
    parts = Path(argv[1]).parts
    if len(parts) < 3:
        return None
    model = parts[-3]
    pattern = re.compile(rf"{re.escape(model)}_\d+_\d+")
    instance = next((arg for arg in argv[2:] if pattern.fullmatch(arg)), model)
    return StubProcess(pid=pid, model=model, instance=instance)


def dead_children(server_pid: int, proc: Path = PROC) -> list[tuple[int, str]]:
    """Children of ``server_pid`` that have exited and not been reaped (zombies): pid and name.

    A Python-backend stub that died is left this way by Triton 2.51 (it neither reaps nor
    restarts it), so a stub zombie under ``tritonserver`` means a model that fails every request.
    """
    dead = []
    for pid in descendants(server_pid, proc)[1:]:
        stat = _stat(pid, proc)
        if stat is not None and stat[1] == "Z":
            dead.append((pid, stat[0]))
    return dead


def dead_stubs(server_pid: int, proc: Path = PROC) -> list[int]:
    """Python-backend stubs under ``server_pid`` that have died (unreaped): their pids."""
    return [pid for pid, name in dead_children(server_pid, proc) if name == STUB_COMMAND_NAME]


def python_stubs(server_pid: int, proc: Path = PROC) -> list[StubProcess]:
    """The Python-backend stubs below ``server_pid``, by model name."""
    stubs = []
    for pid in descendants(server_pid, proc)[1:]:
        stub = parse_stub_command(pid, command_line(pid, proc))
        if stub is not None:
            stubs.append(stub)
    return sorted(stubs, key=lambda s: (s.model, s.instance))
