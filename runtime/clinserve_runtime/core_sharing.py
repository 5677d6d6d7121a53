"""Instances of one ONNX model that share the machine's cores, across the stand-in's processes.

Triton runs every instance of a Python-based backend in its own stub process, so each stand-in
instance has its own ONNX Runtime thread pool. With two instances on two cores, two concurrent
runs put four threads on two cores, and a run split into halves waits for its slower half. One
thread per instance is no answer either: a lone run then leaves cores idle. (The figures, and
the command that measures them, are in docs/benchmarks.md, "Where the time goes".)

The native backend solves this with one thread pool for all sessions
(``--backend-config=onnxruntime,enable-global-threadpool=1``): a run alone gets every thread,
concurrent runs share them. The stand-in cannot share a pool between processes, so each instance
keeps two sessions of the same graph, one on all its threads and one on its share of the cores,
and picks per run by how many other instances are running at that moment. This module is that
count: a counter in a small shared-memory file, changed under ``flock``. It is stand-in tuning:
no generated config asks for it (``clinserve_runtime.ort_options.SHARE_CORES``).
"""

from __future__ import annotations

import fcntl
import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_COUNTER = struct.Struct("<i")
# Python's backend already needs /dev/shm (Kubernetes: a memory emptyDir); elsewhere a temp dir.
# The file is opened without following symlinks and readable by its owner only.
SHM_DIR = Path("/dev/shm")  # noqa: S108
_PREFIX = "clinserve-running-"


def _directory(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    return SHM_DIR if SHM_DIR.is_dir() else Path(tempfile.gettempdir())


def counter_path(model_name: str, server_pid: int, directory: Path | None = None) -> Path:
    """Where the instances of ``model_name`` under the server ``server_pid`` keep their count.

    The stub processes of one server are its children, so their parent pid tells two servers on
    one machine apart.
    """
    return _directory(directory) / f"{_PREFIX}{server_pid}-{model_name}"


def remove_orphans(directory: Path | None = None) -> list[Path]:
    """Delete the counts of servers that no longer run (killed before their models finalized).

    A count is removed when its model's first instance stops; a server killed with SIGKILL
    leaves it behind, 4 bytes in ``/dev/shm``. Returns what was deleted.
    """
    removed = []
    for path in _directory(directory).glob(f"{_PREFIX}*-*"):
        pid = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        # pid 1: a stub that started after its server died (reparented to init) named it so.
        if not pid.isdigit() or (int(pid) > 1 and _alive(int(pid))):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


class RunningInstances:
    """How many instances of one model are running now (each process opens its own handle).

    If a process dies inside :meth:`running`, the count stays one too high for the server's
    lifetime: the other instances then always take their share of the cores, which is slower
    at low load but never wrong.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with self._locked():
            if os.fstat(self._fd).st_size < _COUNTER.size:
                os.pwrite(self._fd, _COUNTER.pack(0), 0)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _add(self, delta: int) -> int:
        """Add ``delta`` to the count and return the count before."""
        with self._locked():
            (before,) = _COUNTER.unpack(os.pread(self._fd, _COUNTER.size, 0))
            os.pwrite(self._fd, _COUNTER.pack(max(0, before + delta)), 0)
        return int(before)

    @contextmanager
    def running(self) -> Iterator[int]:
        """Count this instance as running for the block; yields how many others run now."""
        others = self._add(1)
        try:
            yield others
        finally:
            self._add(-1)

    def close(self, *, remove: bool = False) -> None:
        """Close the handle; ``remove`` also deletes the file (the others keep theirs open)."""
        os.close(self._fd)
        if remove:
            self.path.unlink(missing_ok=True)
