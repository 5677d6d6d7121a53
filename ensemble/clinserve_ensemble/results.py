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
    sequence_spans: npt.NDArray[np.int32]
    dropped_tokens: npt.NDArray[np.int32]
    token_offsets: npt.NDArray[np.int32] | None = None
    word_ids: npt.NDArray[np.int32] | None = None


def _envelope(ctx: ResultContext) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": ctx.model,
        "untrained": ctx.untrained,
        "weights": ctx.weights,
    }


def _classify(ctx: ResultContext, logits: npt.NDArray[np.float32]) -> dict[str, Any]:
    if ctx.task == "multi_label":
        if ctx.threshold is None:
            raise ValueError(f"{ctx.model}: a multi-label model needs a threshold")
        return multi_label(sigmoid(logits), ctx.labels, ctx.threshold)
    return single_label(softmax(logits), ctx.labels)


def build_results(ctx: ResultContext, texts: Sequence[str], outputs: SequenceOutputs) -> list[dict[str, Any]]:
    """One result dict per text, in request order.

    Raises:
        ValueError: When the tensors disagree with each other (a wiring bug, not bad input).
    """
    count = outputs.logits.shape[0]
    expected_classes = len(ctx.labels)
    if outputs.logits.shape[-1] != expected_classes:
        raise ValueError(
            f"{ctx.model}: logits have {outputs.logits.shape[-1]} classes, the catalog has"
            f" {expected_classes} labels"
        )
    for name in ("sequence_text_index", "sequence_spans", "dropped_tokens"):
        if getattr(outputs, name).shape[0] != count:
            raise ValueError(f"{ctx.model}: {name} has a different sequence count than logits")

    results = [_envelope(ctx) for _ in texts]
    per_text: list[list[int]] = [[] for _ in texts]
    for row, text_index in enumerate(outputs.sequence_text_index):
        per_text[int(text_index)].append(row)

    for text_index, rows in enumerate(per_text):
        result = results[text_index]
        dropped = [int(outputs.dropped_tokens[r]) for r in rows]
        if ctx.task == "token_classification":
            if outputs.token_offsets is None or outputs.word_ids is None:
                raise ValueError(f"{ctx.model}: token classification needs offsets and word ids")
            entities: list[dict[str, Any]] = []
            for sentence, row in enumerate(rows):
                words = tag_words(
                    softmax(outputs.logits[row]),
                    outputs.word_ids[row],
                    outputs.token_offsets[row],
                    ctx.labels,
                )
                entities.extend(bio_chunks(words, texts[text_index], sentence))
            result["entities"] = entities
        elif ctx.per_sentence:
            sentences = []
            for sentence, row in enumerate(rows):
                begin, end = (int(x) for x in outputs.sequence_spans[row])
                sentences.append(
                    {
                        "index": sentence,
                        "begin": begin,
                        "end": end,
                        "text": texts[text_index][begin:end],
                        **_classify(ctx, outputs.logits[row]),
                        "truncated": dropped[sentence] > 0,
                        "dropped_tokens": dropped[sentence],
                    }
                )
            result["sentences"] = sentences
        else:
            if len(rows) != 1:
                raise ValueError(f"{ctx.model}: expected one sequence for text {text_index}")
            result.update(_classify(ctx, outputs.logits[rows[0]]))
        result["truncated"] = any(d > 0 for d in dropped)
        result["dropped_tokens"] = sum(dropped)
    return results
