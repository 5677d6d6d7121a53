"""What the numbers were measured on: CPU, cores, memory, versions, and background load."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "onnxruntime",
    "tokenizers",
    "tritonclient",
    "torch",
    "transformers",
    "fastapi",
    "uvicorn",
    "numpy",
)


def cpu_model() -> str:
    """The CPU's marketing name (``lscpu``'s "Model name")."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Total memory in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def background_busy(seconds: float = 3.0) -> float | None:
    """Share of all cores busy while this process sleeps (other work on the machine), 0-1."""
    try:
        busy0, total0 = _cpu_times()
        time.sleep(seconds)
        busy1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else None


def git_revision(root: Path) -> str:
    """``HEAD``'s short hash, with ``+dirty`` when the tree has changes (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


# Distributions that install a package's module in its place (make bench ORT=gpu).
ALTERNATIVES = {"onnxruntime": "onnxruntime-gpu"}


def versions() -> dict[str, str]:
    """Installed versions of the packages the measurements depend on."""
    found = {}
    for name in PACKAGES:
        for distribution in (name, ALTERNATIVES.get(name)):
            if distribution is None:
                continue
            try:
                version = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
            found[name] = version if distribution == name else f"{version} ({distribution})"
            break
        else:
            found[name] = "not installed"
    return found


def describe(root: Path) -> dict[str, Any]:
    """Everything the report says about the machine (no background sampling)."""
    load = os.getloadavg()
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_gib(), 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in load],
        "git": git_revision(root),
        "versions": versions(),
    }
