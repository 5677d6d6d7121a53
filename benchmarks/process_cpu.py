"""CPU time a served target spends per text, by process, over a measurement window.

At saturation a target's throughput is the cores it gets divided by the CPU it spends per
text, so where that CPU goes is where the throughput goes. Triton serves one text through
several processes (``tritonserver`` and one Python-backend stub per model instance); a FastAPI
peer through one. The load generator snapshots each target's process tree at the window's
edges; the report divides the difference by the texts answered in the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clinserve_runtime.procfs import (
    PROC,
    command_line,
    cpu_seconds,
    descendants,
    parse_stub_command,
)


def process_label(pid: int, root_pid: int, proc: Path = PROC) -> str:
    """What a process of a target's tree is called in the report.

    The root is ``server`` (``tritonserver``, or a peer's uvicorn process); a Python-backend stub
    is its model's name (every instance of a model adds up under it); anything else is its
    executable's name.
    """
    if pid == root_pid:
        return "server"
    argv = command_line(pid, proc)
    stub = parse_stub_command(pid, argv)
    if stub is not None:
        return stub.model
    return Path(argv[0]).name if argv else f"pid {pid}"


def tree_cpu_seconds(root_pid: int, proc: Path = PROC) -> dict[str, float]:
    """CPU seconds used so far by ``root_pid`` and its descendants, summed per label."""
    totals: dict[str, float] = {}
    for pid in descendants(root_pid, proc):
        label = process_label(pid, root_pid, proc)
        totals[label] = totals.get(label, 0.0) + cpu_seconds(pid, proc)
    return totals


def cpu_used(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds per label between two snapshots of one tree.

    A process that started between them counts from zero; one that ended counts nothing for
    the window (its time is lost with it), so a label is never negative.
    """
    return {label: max(0.0, seconds - before.get(label, 0.0)) for label, seconds in after.items()}


def per_text_ms(used_s: Mapping[str, float], texts: int) -> dict[str, float]:
    """CPU milliseconds per answered text, per label (empty when no text was answered)."""
    if texts <= 0:
        return {}
    return {label: seconds * 1000 / texts for label, seconds in used_s.items()}
