"""Serving-settings variants measured side by side (``--variants``).

``previous`` is the serving path before its Python steps worked per batch of requests
(December 2026): the tokenizer and post-processor take one request per execution
(``python_batching=False``), so every run shows the defaults (``current`` =
``ServingSettings()``) against it. ``untuned`` pins the settings the repository had before the
benchmark existed. The others are single-knob experiments, kept so a change can be re-measured
with one flag.

Each variant is served on the run's execution profile (:func:`on_profile`). Several knobs are
``cpu``-profile settings that the ``gpu`` profile ignores (padding trimming, the ONNX instance
count, ``clinserve_runtime.configs.ServingSettings``; the stand-in's core sharing,
``Variant.share_cores``), so there some variants serve
exactly what another does (``no-trim`` and ``no-share`` what ``current`` does): those are left
out with a line naming their twin rather than measured twice under two names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from benchmarks.repository import Variant, variant_configs
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.configs import Provenance, ServingSettings
from clinserve_runtime.repository import graph_form

# `previous` differs from the defaults in one knob, so `previous` against `current` isolates the
# batched Python steps. `untuned` also pins the knobs the benchmark tuned before (a 2 ms batching
# delay, buckets doubling from 16, graphs that compute their padding, instances that do not
# share the cores); everything else follows the current defaults. Core sharing is the stand-in's,
# not a serving setting, so `untuned` and the experiments built on it say `share_cores=False`.
PREVIOUS = replace(ServingSettings(), python_batching=False)
UNTUNED = replace(
    ServingSettings(),
    python_batching=False,
    max_queue_delay_us=2000,
    length_buckets=(16, 32, 64, 128, 256, 512),
    trim_padding=False,
)
NO_DELAY = replace(UNTUNED, max_queue_delay_us=0)
FINE_BUCKETS = (*range(8, 129, 8), *range(160, 257, 32), *range(320, 513, 64))

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "previous",
            PREVIOUS,
            "the defaults with one request per execution of the Python steps (before December 2026)",
        ),
        Variant("current", ServingSettings(), "the defaults in clinserve_runtime.configs.ServingSettings"),
        Variant(
            "untuned",
            UNTUNED,
            "settings before the benchmark's tuning (one request per Python execution, 2 ms batching"
            " delay, buckets 16-512 by doubling, untrimmed graphs, no core sharing)",
            share_cores=False,
        ),
        Variant(
            "no-merge",
            replace(ServingSettings(), merge_padding_ratio=1.0),
            "the defaults, requests of one tokenizer pass sharing a length only when their buckets are equal",
        ),
        Variant(
            "one-bucket",
            replace(ServingSettings(), length_buckets=(512,)),
            "the defaults with every request padded to the model's length: every request merges with"
            " every other, the trimmed graph computes each batch up to its longest text",
        ),
        Variant(
            "merge-all",
            replace(ServingSettings(), merge_padding_ratio=100.0),
            "the defaults, every request of one tokenizer pass padded to the pass's longest",
        ),
        Variant(
            "no-delay",
            NO_DELAY,
            "previous, without the batcher's 2 ms wait",
            share_cores=False,
        ),
        Variant(
            "fine-buckets",
            replace(NO_DELAY, length_buckets=FINE_BUCKETS),
            "no-delay with buckets 8 tokens apart up to 128 (then 32, then 64): little padding, fewer merges",
            share_cores=False,
        ),
        Variant(
            "coarse-buckets",
            replace(NO_DELAY, length_buckets=(64, 128, 256, 512)),
            "no-delay with buckets from 64 (more merges, more padding)",
            share_cores=False,
        ),
        Variant(
            "onnx-1-thread",
            replace(NO_DELAY, onnx_intra_op_threads=1),
            "no-delay with one ONNX Runtime thread per instance (no oversubscription of the cores)",
            share_cores=False,
        ),
        Variant(
            "one-thread",
            replace(NO_DELAY, onnx_instances=1, onnx_intra_op_threads=1),
            "no-delay with one ONNX instance on one thread: a core left to Triton, the Python steps, clients",
            share_cores=False,
        ),
        Variant(
            "exact-length",
            replace(ServingSettings(), length_buckets=tuple(range(1, 513))),
            "the defaults, each request padded to its own longest sequence (no bucket padding, rarer merges)",
        ),
        Variant(
            "no-trim",
            replace(ServingSettings(), trim_padding=False),
            "the defaults with plain graphs that compute the bucket padding (before padding trimming)",
        ),
        Variant(
            "trim-doubling",
            replace(ServingSettings(), length_buckets=UNTUNED.length_buckets),
            "the defaults with buckets 16-512 by doubling: more merges, the padding trimmed away",
        ),
        Variant(
            "onnx-3-instances",
            replace(ServingSettings(), onnx_instances=3),
            "the defaults with 3 ONNX instances",
        ),
        Variant(
            "onnx-4-instances",
            replace(ServingSettings(), onnx_instances=4),
            "the defaults with 4 ONNX instances",
        ),
        Variant(
            "no-share",
            ServingSettings(),
            "the defaults, each ONNX instance on all cores even beside the other's run (oversubscribed)",
            share_cores=False,
        ),
        Variant(
            "one-python",
            replace(NO_DELAY, python_instances=1),
            "no-delay with one tokenizer and one post-processor instance",
            share_cores=False,
        ),
    )
}
DEFAULT_VARIANTS = ("previous", "current")


def select(names: list[str]) -> list[Variant]:
    """Variants by name (``all`` for every one), in the order given.

    Raises:
        ValueError: On an unknown name.
    """
    if names == ["all"]:
        return list(VARIANTS.values())
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {sorted(VARIANTS)} or 'all'")
    return [VARIANTS[n] for n in names]


def served_form(variant: Variant) -> tuple[str, ...]:
    """What a server of ``variant`` serves: every catalog entry's configs and the graph form."""
    provenance = Provenance(weights="demo", untrained=True)
    configs = (
        text
        for spec in load_catalog().values()
        for _, text in sorted(variant_configs(spec, variant, provenance).items())
    )
    return (graph_form(variant.settings), *configs)


def on_profile(variants: Sequence[Variant], profile: str) -> tuple[list[Variant], list[str]]:
    """``variants`` served on the execution profile ``profile``, twins left out.

    A variant that serves exactly what an earlier entry of :data:`VARIANTS` serves on
    ``profile`` (same configs, same graph form) is left out: its knobs are ones the profile
    ignores, and measured under its own name it would read as a second result.

    Returns:
        The variants to measure, and one line per variant left out, naming its twin.
    """
    first: dict[tuple[str, ...], str] = {}
    for variant in VARIANTS.values():
        first.setdefault(served_form(variant.on_profile(profile)), variant.name)
    kept: list[Variant] = []
    left_out: list[str] = []
    for variant in variants:
        served = variant.on_profile(profile)
        twin = first.get(served_form(served), variant.name)
        if twin == variant.name:
            kept.append(served)
        else:
            left_out.append(
                f"served [{variant.name}]: on the {profile} profile it serves exactly what [{twin}] serves"
                " (its changes are settings this profile ignores or has by default)"
            )
    return kept, left_out
