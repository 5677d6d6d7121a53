"""Assemble one JSON result per request text from model outputs.

The schema is documented in ``docs/tensor-contract.md`` and versioned by ``SCHEMA_VERSION``;
every result says whether the weights behind it are untrained demo weights.

The inputs are per *sequence* (``clinserve_preprocess.contract``): which text and segment each
sequence came from is in ``sequence_info``, and the text itself only travels where a result
quotes it, as consecutive slices in ``sequence_text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from clinserve_ensemble.activations import sigmoid, softmax
from clinserve_ensemble.decoding import bio_chunks, multi_label, single_label, tag_words
from clinserve_preprocess.contract import SEQUENCE_INFO_WIDTH
from clinserve_preprocess.contract import SequenceColumn as Col
from clinserve_preprocess.modes import Combination, Mode

SCHEMA_VERSION = 1
# Fields of every result, in order (docs/tensor-contract.md, "Fields in every document"; a test
# checks the table against it). Fields are only ever added within a schema version:
# ``model_version`` and ``weights_digest`` came with model versions, and a reader of an older
# server's results finds them absent.
ENVELOPE_FIELDS = (
    "schema_version",
    "model",
    "untrained",
    "weights",
    "model_version",
    "weights_digest",
    "mode",
    "truncated",
    "dropped_tokens",
)


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
    model_version: int = 1
    weights_digest: str | None = None


@dataclass(frozen=True)
class SequenceOutputs:
    """Everything the ONNX and tokenizer steps produced for the S sequences of one request.

    The fields are the post-processor's inputs (``clinserve_preprocess.contract``).
    """

    logits: npt.NDArray[np.float32]
    sequence_info: npt.NDArray[np.int32]
    sequence_text: npt.NDArray[np.object_]
    token_offsets: npt.NDArray[np.int32] | None = None
    word_ids: npt.NDArray[np.int32] | None = None


def probabilities(ctx: ResultContext, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Scores from logits, over the last axis (sigmoid for multi-label, softmax otherwise)."""
    return sigmoid(logits) if ctx.task == "multi_label" else softmax(logits)


def _envelope(ctx: ResultContext, mode: Mode) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": ctx.model,
        "untrained": ctx.untrained,
        "weights": ctx.weights,
        "model_version": ctx.model_version,
        "weights_digest": ctx.weights_digest,
        "mode": mode.name,
    }


def _decode(ctx: ResultContext, probs: npt.NDArray[np.float32]) -> dict[str, Any]:
    if ctx.task == "multi_label":
        if ctx.threshold is None:
            raise ValueError(f"{ctx.model}: a multi-label model needs a threshold")
        return multi_label(probs, ctx.labels, ctx.threshold)
    return single_label(probs, ctx.labels)


def check_consistent(ctx: ResultContext, outputs: SequenceOutputs) -> int:
    """Refuse tensors that disagree with each other; returns the number of sequences.

    Raises:
        ValueError: Naming the tensor (a wiring bug, or a caller bypassing the ensemble).
    """
    count = outputs.logits.shape[0]
    if outputs.logits.shape[-1] != len(ctx.labels):
        raise ValueError(
            f"{ctx.model}: logits have {outputs.logits.shape[-1]} classes, the catalog has"
            f" {len(ctx.labels)} labels"
        )
    if outputs.sequence_info.shape != (count, SEQUENCE_INFO_WIDTH):
        raise ValueError(
            f"{ctx.model}: sequence_info has shape {list(outputs.sequence_info.shape)}, expected"
            f" [{count}, {SEQUENCE_INFO_WIDTH}]"
        )
    if outputs.sequence_text.shape[0] != count:
        raise ValueError(f"{ctx.model}: sequence_text has a different sequence count than logits")
    if count == 0:
        raise ValueError(f"{ctx.model}: no model sequence")
    return count


def _segment_text(outputs: SequenceOutputs, rows: Sequence[int]) -> tuple[int, str]:
    """``(offset, text)`` of a segment: its sequences' slices joined in order."""
    info = outputs.sequence_info
    text = "".join(bytes(outputs.sequence_text[r, 0]).decode("utf-8") for r in rows)
    return int(info[rows[0], Col.SLICE_BEGIN]), text


def _entities(
    ctx: ResultContext,
    probs: npt.NDArray[np.float32],
    rows: list[int],
    sentence: int,
    outputs: SequenceOutputs,
) -> list[dict[str, Any]]:
    if outputs.token_offsets is None or outputs.word_ids is None:
        raise ValueError(f"{ctx.model}: token classification needs token_offsets and word_ids")
    info = outputs.sequence_info
    rows = sorted(rows, key=lambda r: int(info[r, Col.ANSWER_BEGIN]))
    # Position 0 of every sequence is [CLS]: piece p sits at position p - window start + 1.
    positions = [
        slice(
            int(info[r, Col.ANSWER_BEGIN] - info[r, Col.WINDOW_START] + 1),
            int(info[r, Col.ANSWER_END] - info[r, Col.WINDOW_START] + 1),
        )
        for r in rows
    ]
    words = tag_words(
        np.concatenate([probs[r, p] for r, p in zip(rows, positions, strict=True)]),
        np.concatenate([outputs.word_ids[r, p] for r, p in zip(rows, positions, strict=True)]),
        np.concatenate([outputs.token_offsets[r, p] for r, p in zip(rows, positions, strict=True)]),
        ctx.labels,
    )
    offset, text = _segment_text(outputs, rows)
    return bio_chunks(words, text, sentence, offset=offset)


def _segment_fields(
    ctx: ResultContext,
    mode: Mode,
    segments: dict[int, list[int]],
    info: list[list[int]],
    text_index: int,
) -> dict[str, Any]:
    """``sentence_count`` and, per sentence, ``sentence_spans`` of a token-classification result.

    They let a client that sends a long document in parts renumber the entities' ``sentence``
    across parts and join the parts at a sentence start both report (docs/tensor-contract.md).
    """
    # The tokenizer plans at least one sequence per segment: an index missing here is a wiring bug.
    if sorted(segments) != list(range(len(segments))):
        raise ValueError(f"{ctx.model}: the segments of text {text_index} are not numbered 0..n-1")
    fields: dict[str, Any] = {"sentence_count": len(segments)}
    if mode.segmentation.splits_sentences:
        fields["sentence_spans"] = [
            [info[segments[s][0]][Col.SPAN_BEGIN], info[segments[s][0]][Col.SPAN_END]]
            for s in range(len(segments))
        ]
    return fields


def build_results(
    ctx: ResultContext,
    outputs: SequenceOutputs,
    mode: Mode,
    probs: npt.NDArray[np.float32] | None = None,
) -> list[dict[str, Any]]:
    """One result dict per text, in request order.

    Args:
        ctx: The model's facts.
        outputs: Tensors of the tokenizer and ONNX steps.
        mode: The request's mode (``clinserve_preprocess.modes``).
        probs: ``probabilities(ctx, outputs.logits)`` when the caller computed it already (the
            post-processor does, for all the requests of an execution in one call).

    Raises:
        ValueError: When the tensors disagree with each other (a wiring bug, not bad input).
    """
    count = check_consistent(ctx, outputs)
    if probs is None:
        probs = probabilities(ctx, outputs.logits)
    # Python lists: per-row access to numpy scalars costs more than the rest of this function.
    info = outputs.sequence_info.tolist()
    texts = max(row[Col.TEXT] for row in info) + 1
    if min(row[Col.TEXT] for row in info) < 0:
        raise ValueError(f"{ctx.model}: sequence_info names a negative text index")
    # text -> segment -> rows, in order.
    grouped: list[dict[int, list[int]]] = [{} for _ in range(texts)]
    for row in range(count):
        grouped[info[row][Col.TEXT]].setdefault(info[row][Col.SEGMENT], []).append(row)

    results = []
    for text_index, segments in enumerate(grouped):
        if not segments:
            raise ValueError(f"{ctx.model}: no model sequence for text {text_index}")
        result = _envelope(ctx, mode)
        rows = [r for segment_rows in segments.values() for r in segment_rows]
        dropped = [info[r][Col.DROPPED] for r in rows]
        combination = mode.combination
        if combination is Combination.ENTITIES:
            result["entities"] = [
                entity
                for segment, segment_rows in segments.items()
                for entity in _entities(ctx, probs, segment_rows, segment, outputs)
            ]
            result.update(_segment_fields(ctx, mode, segments, info, text_index))
        elif combination is Combination.PER_SENTENCE:
            sentences = []
            for segment, (row, *extra) in segments.items():
                if extra:
                    raise ValueError(
                        f"{ctx.model}: sentence {segment} of text {text_index} has several sequences"
                    )
                begin, end = info[row][Col.SPAN_BEGIN], info[row][Col.SPAN_END]
                _, sentence_text = _segment_text(outputs, [row])
                if len(sentence_text) != end - begin:
                    raise ValueError(
                        f"{ctx.model}: sequence_text of sentence {segment} does not fit its span"
                    )
                sentences.append(
                    {
                        "index": segment,
                        "begin": begin,
                        "end": end,
                        "text": sentence_text,
                        **_decode(ctx, probs[row]),
                        "truncated": info[row][Col.DROPPED] > 0,
                        "dropped_tokens": info[row][Col.DROPPED],
                    }
                )
            result["sentences"] = sentences
        elif combination is Combination.SENTENCE_MEAN:
            # Spark NLP's coalesceSentences: the document's scores are its sentences' mean.
            mean = np.mean(probs[rows], axis=0)
            result.update(_decode(ctx, mean.astype(np.float32)))
            result["sentence_count"] = len(rows)
        else:
            if len(rows) != 1:
                raise ValueError(f"{ctx.model}: expected one sequence for text {text_index}")
            result.update(_decode(ctx, probs[rows[0]]))
        result["truncated"] = any(d > 0 for d in dropped)
        result["dropped_tokens"] = sum(dropped)
        results.append(result)
    return results
