"""Reading a run's results record (pure): level summaries, the limit runs beside each level,
every target in report order, and the record's committed form.

``benchmarks.run`` builds the record; ``benchmarks.report`` and ``benchmarks.plots`` both read it
through these functions (so neither needs the other's internals).
"""

from __future__ import annotations

import json
from typing import Any

PEER_LABELS = {
    "transformers": "FastAPI + transformers pipeline",
    "onnx": "FastAPI + ONNX Runtime per request",
}


def summaries(load: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """Concurrency -> summary of a load run (levels that failed are left out)."""
    if not load:
        return {}
    return {lv["concurrency"]: lv["summary"] for lv in load.get("levels", []) if lv.get("summary")}


def level_at(load: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
    """The whole level record at ``concurrency``, else at the highest level measured below it."""
    levels = {lv["concurrency"]: lv for lv in (load or {}).get("levels", []) if lv.get("summary")}
    candidates = [c for c in levels if c <= concurrency]
    return levels[max(candidates)] if candidates else None


def at_concurrency(load: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
    """The summary at ``concurrency``, else at the highest level measured below it."""
    level = level_at(load, concurrency)
    return level["summary"] if level else None


def peak(load: dict[str, Any] | None) -> dict[str, Any] | None:
    """The summary with the highest throughput."""
    levels = summaries(load)
    return max(levels.values(), key=lambda s: s["throughput"]) if levels else None


def final_variant(size: dict[str, Any]) -> dict[str, Any] | None:
    """The variant the ratios are judged on: the last measured (``current`` by default)."""
    variants = [v for v in size.get("variants", []) if v.get("load")]
    return variants[-1] if variants else None


def limit_runs(size: dict[str, Any]) -> list[dict[str, Any]]:
    """Every limit measurement of a size: the full one first, then one after each load level."""
    return [run for run in [size.get("limit"), *size.get("limit_windows", [])] if run]


def adjacent_limits(size: dict[str, Any], concurrency: int | None) -> list[dict[str, Any]]:
    """The limit runs next to a load level in time: the one before it and the one after it.

    ``None`` (or a level without its own windows) gives every run.
    """
    runs = limit_runs(size)
    windows = size.get("limit_windows", [])
    positions = [i for i, w in enumerate(windows) if w["after_concurrency"] == concurrency]
    if concurrency is None or not positions:
        return runs
    # runs[0] is the full run before any load; runs[i + 1] is the window after level i.
    return [runs[positions[0]], runs[positions[0] + 1]]


def limit_throughput(size: dict[str, Any], concurrency: int | None = None) -> float:
    """The limit's texts/s (tokenization included): the better of the runs next to the level.

    Taking the better of the two neighbours means a quiet moment in either cannot flatter the
    served path.
    """
    return max(
        float(run["best"]["texts_per_s_with_tokenization"]) for run in adjacent_limits(size, concurrency)
    )


def limit_single_ms(size: dict[str, Any], concurrency: int | None = 1) -> float:
    """The limit's single-text p50 latency: the lower of the runs next to the level."""
    return min(float(run["single"]["p50_ms"]) for run in adjacent_limits(size, concurrency))


def labelled_loads(size: dict[str, Any], key: str = "load") -> list[tuple[str, dict[str, Any] | None]]:
    """(label, load) of every served variant, then every peer: the report's and plots' order."""
    targets: list[tuple[str, dict[str, Any] | None]] = [
        (f"Triton [{v['name']}]", v.get(key)) for v in size.get("variants", [])
    ]
    return targets + [(PEER_LABELS[k], p.get(key)) for k, p in size.get("peers", {}).items()]


def strip_raw(results: dict[str, Any]) -> dict[str, Any]:
    """The committed results without raw latencies and statistics snapshots (kept in the work dir)."""
    copy: dict[str, Any] = json.loads(json.dumps(results))
    for size in copy["sizes"].values():
        loads = [v[k] for v in size["variants"] for k in ("load", "load_batched") if k in v]
        loads += [p[k] for p in size["peers"].values() for k in ("load", "load_batched") if k in p]
        for load in loads:
            for level in load["levels"]:
                level.pop("latencies_ms", None)
                level.pop("triton_stats", None)
    return copy
