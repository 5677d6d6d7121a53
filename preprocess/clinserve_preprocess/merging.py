"""How one execution of the tokenizer step groups the requests Triton handed it.

Triton's dynamic batcher gives the tokenizer step every request queued for it (up to its
``max_batch_size`` texts). Two choices follow, both made here:

* **Passes.** The requests are encoded in passes of at most ``max_chars_per_pass`` characters,
  smallest requests first, and each pass's responses are sent as soon as it is done: a short
  request never waits for a long document that happened to arrive beside it.
* **Shared lengths.** Requests padded to equal lengths leave the tokenizer at the same moment
  and reach the ONNX step together, where Triton's batcher merges them into one execution, but
  only if their shapes are equal. Requests of one pass are therefore grouped by padded length,
  and a group pads to its longest member's bucket when that costs at most
  ``merge_padding_ratio`` times the positions of padding each to its own bucket. ``1.0`` merges
  equal buckets only; a graph that trims its padding (the ``cpu`` profile) computes each merged
  execution only up to its longest real sequence, so there the ratio mostly trades one
  execution's overhead against the shorter members' extra positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from clinserve_preprocess.encoding import bucket_length

Item = TypeVar("Item")


def passes(items: Sequence[Item], size: Callable[[Item], int], budget: int) -> list[list[Item]]:
    """Items in passes of at most ``budget`` (by ``size``), smallest first.

    An item larger than the budget gets a pass of its own.
    """
    result: list[list[Item]] = []
    used = 0
    for item in sorted(items, key=size):
        if not result or used + size(item) > budget:
            result.append([])
            used = 0
        result[-1].append(item)
        used += size(item)
    return result


def shared_lengths(
    shapes: Sequence[tuple[int, int]], ratio: float, max_tokens: int, buckets: Sequence[int]
) -> list[int]:
    """The padded length of each request of a pass.

    Args:
        shapes: ``(sequences, own bucket length)`` of each request.
        ratio: Largest padded positions of a merged group over those of its members apart.
        max_tokens: The model's length.
        buckets: The length buckets.

    Returns:
        One length per request, in the order given: its own bucket, or its group's.
    """
    lengths = [length for _, length in shapes]
    order = sorted(range(len(shapes)), key=lambda i: shapes[i][1])
    group: list[int] = []
    own_positions = 0
    for index in order:
        rows, length = shapes[index]
        merged_length = bucket_length(max(length, lengths[group[-1]] if group else 0), max_tokens, buckets)
        merged_rows = sum(shapes[i][0] for i in group) + rows
        if group and merged_rows * merged_length <= ratio * (own_positions + rows * length):
            group.append(index)
            own_positions += rows * length
            for member in group:
                lengths[member] = merged_length
        else:
            group = [index]
            own_positions = rows * length
    return lengths
