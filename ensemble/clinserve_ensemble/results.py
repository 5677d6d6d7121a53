"""Assemble one JSON result per request text from model outputs.

The schema is documented in ``docs/tensor-contract.md`` and versioned by ``SCHEMA_VERSION``;
every result says whether the weights behind it are untrained demo weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from clinserve_ensemble.activations import sigmoid, softmax
from clinserve_ensemble.decoding import bio_chunks, multi_label, single_label, tag_words

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ResultContext:
    """Per-model facts the results need (from the post-processor's config parameters)."""

    model: str
    task: str
    labels: tuple[str, ...]
    per_sentence: bool
    threshold: float | None
    untrained: bool
    weights: str


@dataclass(frozen=True)
class SequenceOutputs:
    """Everything the ONNX and tokenizer steps produced for S sequences of one request."""

    logits: npt.NDArray[np.float32]
    sequence_text_index: npt.NDArray[np.int32]
    sequence_segment: npt.NDArray[np.int32]
    sequence_spans: npt.NDArray[np.int32]
    dropped_tokens: npt.NDArray[np.int32]
    token_offsets: npt.NDArray[np.int32] | None = None
    word_ids: npt.NDArray[np.int32] | None = None
    sequence_pieces: npt.NDArray[np.int32] | None = None


def _envelope(ctx: ResultContext, mode: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": ctx.model,
        "untrained": ctx.untrained,
        "weights": ctx.weights,
        "mode": mode,
    }


def _probabilities(ctx: ResultContext, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return sigmoid(logits) if ctx.task == "multi_label" else softmax(logits)


def _decode(ctx: ResultContext, probs: npt.NDArray[np.float32]) -> dict[str, Any]:
    if ctx.task == "multi_label":
        if ctx.threshold is None:
            raise ValueError(f"{ctx.model}: a multi-label model needs a threshold")
        return multi_label(probs, ctx.labels, ctx.threshold)
    return single_label(probs, ctx.labels)


def merge_windows(
    windows: list[tuple[int, int]],
) -> list[tuple[int, int]]:
    """For overlapping windows (piece ranges, in order), the pieces each one answers for.

    A piece seen by two windows is taken from the one where it sits farther from an edge: the
    overlap is cut at its midpoint. Returns ``[first, last)`` piece ranges, one per window,
    that tile the covered pieces exactly once.
    """
    kept: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(windows):
        first = start if i == 0 else (windows[i - 1][1] + start) // 2
        last = end if i == len(windows) - 1 else (windows[i + 1][0] + end) // 2
        if i and first < kept[-1][1]:
            first = kept[-1][1]
        kept.append((first, max(first, last)))
    return kept


def _entities(
    ctx: ResultContext, text: str, rows: list[int], sentence: int, outputs: SequenceOutputs
) -> list[dict[str, Any]]:
    pieces = outputs.sequence_pieces
    if outputs.token_offsets is None or outputs.word_ids is None or pieces is None:
        raise ValueError(f"{ctx.model}: token classification needs offsets, word ids and piece ranges")
    rows = sorted(rows, key=lambda r: int(pieces[r, 0]))
    windows = [(int(pieces[r, 0]), int(pieces[r, 1])) for r in rows]
    probs, word_ids, offsets = [], [], []
    for row, (window_start, _), (first, last) in zip(rows, windows, merge_windows(windows), strict=True):
        # Position 0 of every sequence is [CLS]: piece p sits at position p - window_start + 1.
        positions = slice(first - window_start + 1, last - window_start + 1)
        probs.append(softmax(outputs.logits[row, positions]))
        word_ids.append(outputs.word_ids[row, positions])
        offsets.append(outputs.token_offsets[row, positions])
    words = tag_words(np.concatenate(probs), np.concatenate(word_ids), np.concatenate(offsets), ctx.labels)
    return bio_chunks(words, text, sentence)


def build_results(
    ctx: ResultContext, texts: Sequence[str], outputs: SequenceOutputs, mode: str
) -> list[dict[str, Any]]:
    """One result dict per text, in request order.

    Args:
        ctx: The model's facts.
        texts: The request's texts.
        outputs: Tensors of the tokenizer and ONNX steps.
        mode: The request's mode (see ``clinserve_preprocess.modes``).

    Raises:
        ValueError: When the tensors disagree with each other (a wiring bug, not bad input).
    """
    count = outputs.logits.shape[0]
    if outputs.logits.shape[-1] != len(ctx.labels):
        raise ValueError(
            f"{ctx.model}: logits have {outputs.logits.shape[-1]} classes, the catalog has"
            f" {len(ctx.labels)} labels"
        )
    for name in ("sequence_text_index", "sequence_segment", "sequence_spans", "dropped_tokens"):
        if getattr(outputs, name).shape[0] != count:
            raise ValueError(f"{ctx.model}: {name} has a different sequence count than logits")

    # text -> segment -> rows, in order.
    grouped: list[dict[int, list[int]]] = [{} for _ in texts]
    for row in range(count):
        text_index = int(outputs.sequence_text_index[row])
        grouped[text_index].setdefault(int(outputs.sequence_segment[row]), []).append(row)

    results = []
    for text_index, segments in enumerate(grouped):
        text = texts[text_index]
        result = _envelope(ctx, mode)
        rows = [r for segment_rows in segments.values() for r in segment_rows]
        if not rows:
            raise ValueError(f"{ctx.model}: no model sequence for text {text_index}")
        dropped = [int(outputs.dropped_tokens[r]) for r in rows]
        if ctx.task == "token_classification":
            result["entities"] = [
                entity
                for segment, segment_rows in segments.items()
                for entity in _entities(ctx, text, segment_rows, segment, outputs)
            ]
        elif mode == "sentences":
            sentences = []
            for segment, (row,) in segments.items():
                begin, end = (int(x) for x in outputs.sequence_spans[row])
                sentences.append(
                    {
                        "index": segment,
                        "begin": begin,
                        "end": end,
                        "text": text[begin:end],
                        **_decode(ctx, _probabilities(ctx, outputs.logits[row])),
                        "truncated": int(outputs.dropped_tokens[row]) > 0,
                        "dropped_tokens": int(outputs.dropped_tokens[row]),
                    }
                )
            result["sentences"] = sentences
        elif mode == "document":
            # Spark NLP's coalesceSentences: the document's scores are its sentences' mean.
            mean = np.mean([_probabilities(ctx, outputs.logits[r]) for r in rows], axis=0)
            result.update(_decode(ctx, mean.astype(np.float32)))
            result["sentence_count"] = len(rows)
        else:
            if len(rows) != 1:
                raise ValueError(f"{ctx.model}: expected one sequence for text {text_index}")
            result.update(_decode(ctx, _probabilities(ctx, outputs.logits[rows[0]])))
        result["truncated"] = any(d > 0 for d in dropped)
        result["dropped_tokens"] = sum(dropped)
        results.append(result)
    return results
