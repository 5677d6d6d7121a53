"""Result documents per task and mode, from tensors shaped as the tokenizer and ONNX steps produce them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clinserve_ensemble.results import (
    SCHEMA_VERSION,
    ResultContext,
    SequenceOutputs,
    build_results,
    merge_windows,
)


def context(
    task: str, labels: tuple[str, ...], *, per_sentence: bool = False, threshold: float | None = None
):
    return ResultContext("m", task, labels, per_sentence, threshold, untrained=True, weights="demo-tiny")


def outputs(logits, text_index, spans, dropped, segments=None, **extra):
    count = len(text_index)
    return SequenceOutputs(
        logits=np.asarray(logits, dtype=np.float32),
        sequence_text_index=np.asarray(text_index, dtype=np.int32),
        sequence_segment=np.asarray(segments if segments is not None else [0] * count, dtype=np.int32),
        sequence_spans=np.asarray(spans, dtype=np.int32),
        dropped_tokens=np.asarray(dropped, dtype=np.int32),
        **extra,
    )


def test_single_label_results_carry_provenance_mode_and_truncation():
    ctx = context("single_label", ("No", "Yes"))
    results = build_results(
        ctx, ["a", "b"], outputs([[0, 2], [3, 0]], [0, 1], [[0, 1], [0, 1]], [0, 5]), "whole"
    )
    assert [r["label"] for r in results] == ["Yes", "No"]
    assert results[0]["untrained"] is True and results[0]["schema_version"] == SCHEMA_VERSION
    assert results[0]["mode"] == "whole"
    assert (results[0]["truncated"], results[1]["truncated"], results[1]["dropped_tokens"]) == (
        False,
        True,
        5,
    )
    json.dumps(results)


def test_per_sentence_results_group_sentences_by_text_with_spans():
    ctx = context("single_label", ("0", "1"), per_sentence=True)
    texts = ["One. Two.", "Three."]
    out = outputs(
        [[1, 0], [0, 1], [0, 1]], [0, 0, 1], [[0, 4], [5, 9], [0, 6]], [0, 0, 0], segments=[0, 1, 0]
    )
    results = build_results(ctx, texts, out, "sentences")
    assert [(s["text"], s["label"]) for s in results[0]["sentences"]] == [("One.", "0"), ("Two.", "1")]
    assert [s["index"] for s in results[1]["sentences"]] == [0]


def test_document_mode_averages_sentence_scores_like_coalesce_sentences():
    ctx = context("single_label", ("No", "Yes"))
    # softmax([0, ln 9]) = [0.1, 0.9]; softmax([0, 0]) = [0.5, 0.5]; mean = [0.3, 0.7]
    out = outputs([[0.0, np.log(9.0)], [0.0, 0.0]], [0, 0], [[0, 4], [5, 9]], [0, 2], segments=[0, 1])
    (result,) = build_results(ctx, ["One. Two."], out, "document")
    assert result["label"] == "Yes"
    assert [s["score"] for s in result["scores"]] == pytest.approx([0.3, 0.7])
    assert result["sentence_count"] == 2 and result["dropped_tokens"] == 2


def test_multi_label_results_use_sigmoid_and_the_threshold():
    ctx = context("multi_label", ("a", "b", "c"), threshold=0.5)
    result = build_results(ctx, ["x"], outputs([[2.0, -2.0, 0.1]], [0], [[0, 1]], [0]), "whole")[0]
    assert [x["label"] for x in result["labels"]] == ["a", "c"]


def _token_outputs(text_index, windows, tags, labels, offsets, word_ids, segments=None):
    """Build window rows from per-piece tags of a whole text."""
    length = max(e - s for s, e in windows) + 2
    count = len(windows)
    logits = np.full((count, length, len(labels)), -5.0, dtype=np.float32)
    row_offsets = np.zeros((count, length, 2), dtype=np.int32)
    row_words = np.full((count, length), -1, dtype=np.int32)
    for row, (start, end) in enumerate(windows):
        for position, piece in enumerate(range(start, end), start=1):
            logits[row, position, labels.index(tags[piece])] = 5.0
            row_offsets[row, position] = offsets[piece]
            row_words[row, position] = word_ids[piece]
    return outputs(
        logits,
        text_index,
        [[0, 0]] * count,
        [0] * count,
        segments=segments,
        token_offsets=row_offsets,
        word_ids=row_words,
        sequence_pieces=np.asarray(windows, dtype=np.int32),
    )


def test_token_classification_results_list_entities_with_offsets():
    labels = ("O", "B-DATE", "I-DATE")
    text = "In June 2003"
    out = _token_outputs(
        [0], [(0, 3)], ["O", "B-DATE", "I-DATE"], labels, [(0, 2), (3, 7), (8, 12)], [0, 1, 2]
    )
    result = build_results(context("token_classification", labels), [text], out, "windows")[0]
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


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([(0, 10)], [(0, 10)]),
        ([(0, 10), (6, 16)], [(0, 8), (8, 16)]),
        ([(0, 10), (6, 16), (12, 22)], [(0, 8), (8, 14), (14, 22)]),
        ([(0, 10), (10, 20)], [(0, 10), (10, 20)]),
    ],
)
def test_overlapping_windows_are_cut_at_the_middle_of_each_overlap(windows, expected):
    assert merge_windows(windows) == expected


def test_an_entity_across_a_window_edge_is_reported_once():
    labels = ("O", "B-Value", "I-Value")
    words = [f"w{i}" for i in range(12)]
    text = " ".join(words)
    offsets, position = [], 0
    for word in words:
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    tags = ["O"] * 12
    tags[6:9] = ["B-Value", "I-Value", "I-Value"]  # spans the overlap of both windows and its cut
    out = _token_outputs([0, 0], [(0, 8), (4, 12)], tags, labels, offsets, list(range(12)))
    (result,) = build_results(context("token_classification", labels), [text], out, "windows")
    assert [(e["entity"], e["text"]) for e in result["entities"]] == [("Value", "w6 w7 w8")]


def test_a_label_count_mismatch_is_a_wiring_error():
    with pytest.raises(ValueError, match="3 classes, the catalog has 2 labels"):
        build_results(
            context("single_label", ("a", "b")), ["x"], outputs([[0, 0, 0]], [0], [[0, 1]], [0]), "whole"
        )
