"""PNG figures of a run (matplotlib, Agg): throughput vs concurrency, latency distributions,
long-document cost. Small files (about 100 dpi) meant to be committed beside the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.results import labelled_loads, limit_throughput, summaries

DPI = 90


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _targets(size: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(label, load) for label, load in labelled_loads(size) if load]


def throughput_plot(size_name: str, size: dict[str, Any], path: Path) -> None:
    """Texts/s against concurrency for every target, with the limit as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, load in _targets(size):
        levels = summaries(load)
        xs = sorted(levels)
        ax.plot(xs, [levels[c]["throughput"] for c in xs], marker="o", label=label)
    measured = sorted({lv["concurrency"] for _, load in _targets(size) for lv in load["levels"]})
    if measured:
        ax.plot(
            measured,
            [limit_throughput(size, c) for c in measured],
            color="black",
            linestyle="--",
            marker="x",
            label="limit (ORT in-process, measured next to each level)",
        )
    ax.set_xscale("log", base=2)
    if measured:
        ax.set_xticks(measured, [str(c) for c in measured])
    ax.set_xlabel("concurrency (requests in flight, one text each)")
    ax.set_ylabel("texts / s")
    ax.set_title(f"{size_name}: throughput vs concurrency ({size['model']})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def latency_plot(size_name: str, size: dict[str, Any], path: Path) -> None:
    """Latency distributions (box: p25-p75, whiskers: p1-p99) per target, one panel per concurrency."""
    plt = _pyplot()
    targets = _targets(size)
    concurrencies = sorted({lv["concurrency"] for _, load in targets for lv in load["levels"]})
    if not concurrencies:
        return
    fig, axes = plt.subplots(
        1, len(concurrencies), figsize=(3.2 * len(concurrencies), 4.2), sharey=True, squeeze=False
    )
    for ax, c in zip(axes[0], concurrencies, strict=True):
        data, labels = [], []
        for label, load in targets:
            level = next(
                (lv for lv in load["levels"] if lv["concurrency"] == c and lv.get("latencies_ms")), None
            )
            if level is not None:
                data.append(level["latencies_ms"])
                labels.append(label.replace("FastAPI + ", "").replace(" per request", ""))
        if data:
            ax.boxplot(data, whis=(1, 99), showfliers=False)
            ax.set_xticks(range(1, len(labels) + 1), labels, rotation=35, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"c={c}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("latency ms (log)")
    fig.suptitle(f"{size_name}: latency distribution (box p25-p75, whiskers p1-p99)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def long_docs_plot(long_docs: dict[str, Any], path: Path) -> bool:
    """Latency against document length (log-log) with a linear reference through the first point."""
    points = [(d["chars"], d["p50_ms"]) for d in long_docs["documents"] if "p50_ms" in d]
    if not points:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    xs, ys = zip(*points, strict=True)
    ax.plot(xs, ys, marker="o", label="served p50")
    ax.plot(xs, [ys[0] * x / xs[0] for x in xs], linestyle="--", color="gray", label="linear in length")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("document length (characters)")
    ax.set_ylabel("latency ms")
    ax.set_title(f"token classification ({long_docs.get('model', '')})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return True


def write_plots(results: dict[str, Any], output_dir: Path) -> dict[str, list[str]]:
    """Write every figure; returns size (or ``long_docs``) -> file names."""
    output_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, list[str]] = {}
    for size_name, size in results.get("sizes", {}).items():
        if not size.get("limit"):
            continue
        names = [f"throughput_{size_name}.png", f"latency_{size_name}.png"]
        throughput_plot(size_name, size, output_dir / names[0])
        latency_plot(size_name, size, output_dir / names[1])
        images[size_name] = [n for n in names if (output_dir / n).exists()]
    if results.get("long_docs") and long_docs_plot(results["long_docs"], output_dir / "long_docs.png"):
        images["long_docs"] = ["long_docs.png"]
    return images
