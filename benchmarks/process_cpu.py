"""CPU time a served target spends per text, by process, over a measurement window.

At saturation a target's throughput is the cores it gets divided by the CPU it spends per
text, so where that CPU goes is where the throughput goes. Triton serves one text through
several processes (``tritonserver`` and one Python-backend stub per model instance); a FastAPI
peer through one. The load generator snapshots each target's process tree at the window's
edges; the report divides the difference by the texts answered in the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from clinserve_runtime.processes import command_line, cpu_seconds, descendants, parse_stub_command


def process_label(pid: int, root_pid: int, argv: list[str]) -> str:
    """What a process of a target's tree (command line ``argv``) is called in the report.

    The root is ``server`` (``tritonserver``, or a peer's uvicorn process); a Python-backend stub
    is its model's name (every instance of a model adds up under it); anything else is its
    executable's name.
    """
    if pid == root_pid:
        return "server"
    stub = parse_stub_command(pid, argv)
    if stub is not None:
        return stub.model
    return Path(argv[0]).name if argv else f"pid {pid}"


def cpu_by_label(processes: Iterable[tuple[int, list[str], float]], root_pid: int) -> dict[str, float]:
    """CPU seconds of a tree's ``(pid, argv, cpu seconds)`` snapshots, summed per label."""
    totals: dict[str, float] = {}
    for pid, argv, seconds in processes:
        label = process_label(pid, root_pid, argv)
        totals[label] = totals.get(label, 0.0) + seconds
    return totals


def tree_cpu_seconds(root_pid: int) -> dict[str, float]:
    """CPU seconds used so far by ``root_pid`` and its descendants, summed per label."""
    snapshot = [(pid, command_line(pid), cpu_seconds(pid)) for pid in descendants(root_pid)]
    return cpu_by_label(snapshot, root_pid)


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
