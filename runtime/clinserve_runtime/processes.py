"""A server's processes through psutil: its tree, memory, CPU time and Python-backend stubs.

``tritonserver`` runs every Python-backend model instance (tokenizers, post-processors, the
``onnxruntime`` stand-in) in a child process, ``triton_python_backend_stub``. Memory and CPU of
the service are therefore sums over the tree, and a fault in one model is a fault in one child.
Every function here answers for a process that has exited meanwhile (empty, zero or ``None``)
instead of raising: trees change while they are read. The image's liveness check reads
``/proc`` itself (:mod:`clinserve_runtime.procfs`), since the image has no psutil.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from clinserve_runtime.procfs import STUB_EXECUTABLE

# A process that exited (or became a zombie) while we read it, or one we may not read.
_UNREADABLE = (psutil.NoSuchProcess, psutil.AccessDenied)


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


def descendants(root_pid: int) -> list[int]:
    """``root_pid`` and every process below it, parents first (``[root_pid]`` once it is gone)."""
    try:
        return [root_pid, *(child.pid for child in psutil.Process(root_pid).children(recursive=True))]
    except _UNREADABLE:
        return [root_pid]


def parent_pid(pid: int) -> int | None:
    """The parent's pid, ``None`` once the process is gone."""
    try:
        return int(psutil.Process(pid).ppid())
    except _UNREADABLE:
        return None


def command_line(pid: int) -> list[str]:
    """A process's arguments (empty when it has exited)."""
    try:
        return list(psutil.Process(pid).cmdline())
    except _UNREADABLE:
        return []


def rss_kib(pid: int) -> int:
    """Resident memory of one process in KiB (0 when it has exited)."""
    try:
        return int(psutil.Process(pid).memory_info().rss) // 1024
    except _UNREADABLE:
        return 0


def rss_mib(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    return sum(rss_kib(pid) for pid in descendants(root_pid)) / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, user plus system, in seconds (0 once it is gone).

    Time of threads that have exited stays counted; time of exited child processes does not.
    """
    try:
        times = psutil.Process(pid).cpu_times()
    except _UNREADABLE:
        return 0.0
    return float(times.user + times.system)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, lowest pid first."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (ProcessLookupError, *_UNREADABLE):
            continue
    return sorted(found)


def processes_with_environment(name: str, value: str) -> list[int]:
    """Live processes whose environment holds ``name=value``, lowest pid first.

    A variable set in a parent's ``os.environ`` is inherited by every process it starts and by
    theirs, whatever process group or session they move to, so it marks a whole lineage (the
    test session's guard in ``tests/conftest.py`` finds what the tests left running this way).
    A process's own later changes to its environment are not seen (the kernel keeps its
    environment at start), nor are processes of other users or zombies.
    """
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(name) == value:
                found.append(process.pid)
        except _UNREADABLE:
            continue
    return sorted(found)


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


def python_stubs(server_pid: int) -> list[StubProcess]:
    """The live Python-backend stubs below ``server_pid``, by model name."""
    stubs = []
    for pid in descendants(server_pid)[1:]:
        stub = parse_stub_command(pid, command_line(pid))
        if stub is not None:
            stubs.append(stub)
    return sorted(stubs, key=lambda s: (s.model, s.instance))
