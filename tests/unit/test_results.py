"""Result documents per task, from tensors shaped as the tokenizer and ONNX steps produce them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clinserve_ensemble.results import SCHEMA_VERSION, ResultContext, SequenceOutputs, build_results


def context(
    task: str, labels: tuple[str, ...], *, per_sentence: bool = False, threshold: float | None = None
):
    return ResultContext("m", task, labels, per_sentence, threshold, untrained=True, weights="demo-tiny")


def outputs(logits, text_index, spans, dropped, **extra):
    return SequenceOutputs(
        logits=np.asarray(logits, dtype=np.float32),
        sequence_text_index=np.asarray(text_index, dtype=np.int32),
        sequence_spans=np.asarray(spans, dtype=np.int32),
        dropped_tokens=np.asarray(dropped, dtype=np.int32),
        **extra,
    )


def test_single_label_results_carry_provenance_and_truncation():
    ctx = context("single_label", ("No", "Yes"))
    results = build_results(ctx, ["a", "b"], outputs([[0, 2], [3, 0]], [0, 1], [[0, 1], [0, 1]], [0, 5]))
    assert [r["label"] for r in results] == ["Yes", "No"]
    assert results[0]["untrained"] is True and results[0]["schema_version"] == SCHEMA_VERSION
    assert (results[0]["truncated"], results[1]["truncated"], results[1]["dropped_tokens"]) == (
        False,
        True,
        5,
    )
    json.dumps(results)


def test_per_sentence_results_group_sentences_by_text_with_spans():
    ctx = context("single_label", ("0", "1"), per_sentence=True)
    texts = ["One. Two.", "Three."]
    results = build_results(
        ctx, texts, outputs([[1, 0], [0, 1], [0, 1]], [0, 0, 1], [[0, 4], [5, 9], [0, 6]], [0, 0, 0])
    )
    assert [(s["text"], s["label"]) for s in results[0]["sentences"]] == [("One.", "0"), ("Two.", "1")]
    assert [s["index"] for s in results[1]["sentences"]] == [0]


def test_multi_label_results_use_sigmoid_and_the_threshold():
    ctx = context("multi_label", ("a", "b", "c"), threshold=0.5)
    result = build_results(ctx, ["x"], outputs([[2.0, -2.0, 0.1]], [0], [[0, 1]], [0]))[0]
    assert [x["label"] for x in result["labels"]] == ["a", "c"]


def test_token_classification_results_list_entities_with_offsets():
    labels = ("O", "B-DATE", "I-DATE")
    text = "In June 2003"
    logits = np.full((1, 5, 3), -5.0, dtype=np.float32)
    logits[0, 1, 0] = logits[0, 2, 1] = logits[0, 3, 2] = 5.0
    extra = {
        "token_offsets": np.array([[[0, 0], [0, 2], [3, 7], [8, 12], [0, 0]]], dtype=np.int32),
        "word_ids": np.array([[-1, 0, 1, 2, -1]], dtype=np.int32),
    }
    result = build_results(
        context("token_classification", labels), [text], outputs(logits, [0], [[0, 12]], [0], **extra)
    )[0]
    assert result["entities"] == [
        {
            "entity": "DATE",
            "text": "June 2003",
            "begin": 3,
            "end": 12,
            "confidence": pytest.approx(1.0, abs=1e-3),
            "sentence": 0,
        }
    ]


def test_a_label_count_mismatch_is_a_wiring_error():
    with pytest.raises(ValueError, match="3 classes, the catalog has 2 labels"):
        build_results(context("single_label", ("a", "b")), ["x"], outputs([[0, 0, 0]], [0], [[0, 1]], [0]))
