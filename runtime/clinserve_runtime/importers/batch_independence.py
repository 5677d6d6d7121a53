"""Batch independence: a text's answer must not depend on the texts executed beside it.

Triton's dynamic batcher runs requests from different callers as one execution, so a graph whose
results depend on the batch (dynamic int8 quantization computes its activation scales from the
whole batch) gives one caller's text a different answer depending on other callers' traffic.
The check runs texts of mixed lengths as one request (padded to the bucket of the longest, as
the tokenizer step pads it) and each of them alone, through the graph as it will be served
(trimmed of padding on the cpu profile), and compares every score the post-processor would
return: the labels must be identical and no score may move by more than ``SCORE_TOLERANCE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clinserve_ensemble.activations import sigmoid, softmax
from clinserve_ensemble.catalog import ModelSpec
from clinserve_preprocess.contract import SequenceColumn
from clinserve_runtime.importers.check_causes import decision_words
from clinserve_runtime.importers.parity import (
    Logits,
    decisions,
    encode_request,
    onnx_runner,
    results_for,
    served_encoder,
)

NEIGHBOURS = 30
SCORE_TOLERANCE = 1e-4
MAX_LISTED_CHANGES = 5


def mixed_lengths(texts: Sequence[str], count: int) -> list[str]:
    """``count`` texts spread from the shortest to the longest of ``texts`` (repeated if too few)."""
    unique = sorted(dict.fromkeys(texts), key=len)
    if not unique:
        raise ValueError("no texts to check batch independence with")
    if len(unique) <= count:
        return [unique[i % len(unique)] for i in range(count)]
    picks = np.linspace(0, len(unique) - 1, count).round().astype(int)
    return [unique[int(i)] for i in picks]


def _scores(spec: ModelSpec, logits: Logits) -> npt.NDArray[np.float32]:
    return sigmoid(logits) if spec.activation == "sigmoid" else softmax(logits)


def _score_difference(
    spec: ModelSpec, alone: Logits, alone_mask: npt.NDArray[np.int64], batched: Logits
) -> float:
    """Largest score difference over the text's sequences (its real positions, for NER)."""
    if spec.is_token_classifier:
        worst = 0.0
        for row in range(alone.shape[0]):
            length = int(alone_mask[row].sum())
            a, b = _scores(spec, alone[row, :length]), _scores(spec, batched[row, :length])
            worst = max(worst, float(np.max(np.abs(a - b))))
        return worst
    return float(np.max(np.abs(_scores(spec, alone) - _scores(spec, batched))))


def check_batch_independence(
    spec: ModelSpec, tokenizer_path: Path, graph: Path, texts: Sequence[str], *, neighbours: int = NEIGHBOURS
) -> dict[str, Any]:
    """Each of ``neighbours + 1`` texts alone against the same text inside one request of all.

    Returns:
        The report: ``max_abs_score_diff``, ``decisions_changed`` (texts whose labels, label set
        or entity chunks changed), examples of changes, the texts' length range in word pieces
        and ``passed``.
    """
    encoder, mode = served_encoder(tokenizer_path, spec)
    group = mixed_lengths(texts, neighbours + 1)
    run = onnx_runner(graph)
    together = encode_request(encoder, group, mode)
    together_logits = run(together.batch)
    together_results = results_for(spec, together, together_logits)
    rows_of = together.batch.column(SequenceColumn.TEXT)
    worst = 0.0
    changed: list[dict[str, Any]] = []
    for index, text in enumerate(group):
        alone = encode_request(encoder, [text], mode)
        alone_logits = run(alone.batch)
        rows = np.flatnonzero(rows_of == index)
        worst = max(
            worst, _score_difference(spec, alone_logits, alone.batch.attention_mask, together_logits[rows])
        )
        by_itself = decisions(spec, results_for(spec, alone, alone_logits)[0])
        beside_others = decisions(spec, together_results[index])
        if by_itself != beside_others:
            changed.append({"text": index, "alone": by_itself, "batched": beside_others})
    lengths = together.batch.attention_mask.sum(axis=1)
    what, _units = decision_words(spec)
    return {
        "texts": len(group),
        "neighbours": neighbours,
        "sequences_batched": together.batch.num_sequences,
        "batched_length": int(together.batch.input_ids.shape[1]),
        "token_range": [int(lengths.min()), int(lengths.max())],
        "max_abs_score_diff": worst,
        "score_tolerance": SCORE_TOLERANCE,
        "decisions": what,
        "decisions_changed": len(changed),
        "changes": changed[:MAX_LISTED_CHANGES],
        "passed": not changed and worst <= SCORE_TOLERANCE,
    }


def batch_causes(report: dict[str, Any]) -> list[str]:
    """Why a batch-independence check failed, one line per cause."""
    if report.get("passed", True):
        return []
    causes = []
    context = f"between running alone and beside {report['neighbours']} other texts"
    if report["decisions_changed"]:
        first = report["changes"][0]
        causes.append(
            f"{report['decisions']} change on {report['decisions_changed']} of {report['texts']} texts"
            f" {context} (first: text {first['text']}, {first['alone']} alone, {first['batched']} batched)"
        )
    if report["max_abs_score_diff"] > report["score_tolerance"]:
        causes.append(
            f"scores move by up to {report['max_abs_score_diff']:.2e} {context}, more than"
            f" {report['score_tolerance']:.0e}"
        )
    return causes
