"""Result documents per task and mode, from tensors as the tokenizer and ONNX steps produce them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clinserve_ensemble.results import SCHEMA_VERSION, ResultContext, SequenceOutputs, build_results
from clinserve_preprocess.contract import SequenceColumn
from clinserve_preprocess.modes import CLASSIFIER_MODES, TOKEN_MODES
from tests.unit.step_tensors import encode, outputs, tag_logits

WHOLE, SENTENCES, DOCUMENT = (CLASSIFIER_MODES[m] for m in ("whole", "sentences", "document"))
WINDOWS, ENTITY_SENTENCES = TOKEN_MODES["windows"], TOKEN_MODES["sentences"]


def context(
    task: str, labels: tuple[str, ...], *, per_sentence: bool = False, threshold: float | None = None
):
    return ResultContext("m", task, labels, per_sentence, threshold, untrained=True, weights="demo-tiny")


def test_single_label_results_carry_provenance_mode_and_truncation(uncased_tokenizer):
    batch = encode(uncased_tokenizer, ["a", " ".join(["the"] * 300)], WHOLE)
    results = build_results(
        context("single_label", ("No", "Yes")), outputs(batch, [[0, 2], [3, 0]], token_level=False), WHOLE
    )
    assert [r["label"] for r in results] == ["Yes", "No"]
    assert results[0]["untrained"] is True and results[0]["schema_version"] == SCHEMA_VERSION
    assert results[0]["mode"] == "whole"
    assert (results[0]["truncated"], results[1]["truncated"], results[1]["dropped_tokens"]) == (
        False,
        True,
        300 - 126,
    )
    json.dumps(results)


def test_whole_mode_sends_no_text_to_the_post_processor(uncased_tokenizer):
    batch = encode(uncased_tokenizer, ["Aspirin daily.", "Insulin stopped."], WHOLE)
    assert [bytes(t) for t in batch.sequence_text[:, 0]] == [b"", b""]


def test_per_sentence_results_group_sentences_by_text_with_spans(uncased_tokenizer):
    texts = ["One. Two.", "Three."]
    batch = encode(uncased_tokenizer, texts, SENTENCES)
    assert batch.column(SequenceColumn.TEXT).tolist() == [0, 0, 1]
    results = build_results(
        context("single_label", ("0", "1"), per_sentence=True),
        outputs(batch, [[1, 0], [0, 1], [0, 1]], token_level=False),
        SENTENCES,
    )
    assert [(s["text"], s["label"]) for s in results[0]["sentences"]] == [("One.", "0"), ("Two.", "1")]
    assert [(s["begin"], s["end"]) for s in results[0]["sentences"]] == [(0, 4), (5, 9)]
    assert [s["index"] for s in results[1]["sentences"]] == [0]


def test_document_mode_averages_sentence_scores_like_coalesce_sentences(uncased_tokenizer):
    # Three positions per sequence leave one piece per sentence: "one" of "one ." and "two" of
    # "two .", so each sentence drops its period.
    batch = encode(uncased_tokenizer, ["One. Two."], DOCUMENT, max_tokens=3)
    # softmax([0, ln 9]) = [0.1, 0.9]; softmax([0, 0]) = [0.5, 0.5]; mean = [0.3, 0.7]
    logits = [[0.0, np.log(9.0)], [0.0, 0.0]]
    (result,) = build_results(
        context("single_label", ("No", "Yes")), outputs(batch, logits, token_level=False), DOCUMENT
    )
    assert result["label"] == "Yes"
    assert [s["score"] for s in result["scores"]] == pytest.approx([0.3, 0.7])
    assert result["sentence_count"] == 2 and result["dropped_tokens"] == 2


def test_multi_label_results_use_sigmoid_and_the_threshold(uncased_tokenizer):
    batch = encode(uncased_tokenizer, ["x"], WHOLE)
    ctx = context("multi_label", ("a", "b", "c"), threshold=0.5)
    (result,) = build_results(ctx, outputs(batch, [[2.0, -2.0, 0.1]], token_level=False), WHOLE)
    assert [x["label"] for x in result["labels"]] == ["a", "c"]


def test_token_classification_results_list_entities_with_offsets(uncased_tokenizer):
    labels = ("O", "B-DATE", "I-DATE")
    batch = encode(uncased_tokenizer, ["In June 2003"], WINDOWS)
    logits = tag_logits(batch, labels, {(0, 1): "B-DATE", (0, 2): "I-DATE"})
    (result,) = build_results(
        context("token_classification", labels), outputs(batch, logits, token_level=True), WINDOWS
    )
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


def test_entity_results_per_sentence_give_the_sentence_count_and_spans(uncased_tokenizer):
    labels = ("O", "B-DATE", "I-DATE")
    texts = ["Seen in June 2003. Stable.  Again in May 2004.", "In June 2003"]
    batch = encode(uncased_tokenizer, texts, ENTITY_SENTENCES)
    # Words of the first text: seen in june 2003 . stable . again in may 2004 .
    tags = {(0, 2): "B-DATE", (0, 3): "I-DATE", (0, 9): "B-DATE", (0, 10): "I-DATE", (1, 1): "B-DATE"}
    first, second = build_results(
        context("token_classification", labels),
        outputs(batch, tag_logits(batch, labels, tags), token_level=True),
        ENTITY_SENTENCES,
    )
    assert [(e["text"], e["sentence"]) for e in first["entities"]] == [("June 2003", 0), ("May 2004", 2)]
    assert first["sentence_count"] == 3
    assert first["sentence_spans"] == [[0, 18], [19, 26], [28, 46]]
    assert [texts[0][b:e] for b, e in first["sentence_spans"]] == [
        "Seen in June 2003.",
        "Stable.",
        "Again in May 2004.",
    ]
    assert (second["sentence_count"], second["sentence_spans"]) == (1, [[0, 12]])
    json.dumps([first, second])


def test_entity_results_over_windows_count_one_segment_and_give_no_spans(uncased_tokenizer):
    labels = ("O", "B-DATE", "I-DATE")
    batch = encode(uncased_tokenizer, ["One. Two. Three."], WINDOWS, max_tokens=4)
    assert batch.num_sequences > 1  # several windows are still one segment
    (result,) = build_results(
        context("token_classification", labels),
        outputs(batch, tag_logits(batch, labels, {}), token_level=True),
        WINDOWS,
    )
    assert result["sentence_count"] == 1 and "sentence_spans" not in result


def test_entity_results_refuse_sentence_numbers_with_a_gap(uncased_tokenizer):
    labels = ("O", "B-DATE", "I-DATE")
    batch = encode(uncased_tokenizer, ["One. Two."], ENTITY_SENTENCES)
    batch.sequence_info[1, SequenceColumn.SEGMENT] = 2  # sentence 1 has no sequence: a wiring bug
    with pytest.raises(ValueError, match="segments of text 0 are not numbered"):
        build_results(
            context("token_classification", labels),
            outputs(batch, tag_logits(batch, labels, {}), token_level=True),
            ENTITY_SENTENCES,
        )


def test_an_entity_across_a_window_edge_is_reported_once(uncased_tokenizer):
    labels = ("O", "B-Value", "I-Value")
    words = [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
    ]
    text = " ".join(words)
    # Ten positions: windows of eight pieces overlapping by two, (0, 8) and (4, 12) cut at 6.
    batch = encode(uncased_tokenizer, [text], WINDOWS, max_tokens=10)
    assert batch.num_sequences == 2
    tags = {(0, 5): "B-Value", (0, 6): "I-Value", (0, 7): "I-Value"}  # across the cut
    (result,) = build_results(
        context("token_classification", labels),
        outputs(batch, tag_logits(batch, labels, tags), token_level=True),
        WINDOWS,
    )
    assert [(e["entity"], e["text"], e["begin"]) for e in result["entities"]] == [
        ("Value", "six seven eight", text.index("six"))
    ]


def test_a_label_count_mismatch_is_a_wiring_error(uncased_tokenizer):
    batch = encode(uncased_tokenizer, ["x"], WHOLE)
    with pytest.raises(ValueError, match="3 classes, the catalog has 2 labels"):
        build_results(
            context("single_label", ("a", "b")), outputs(batch, [[0, 0, 0]], token_level=False), WHOLE
        )


def test_bookkeeping_of_the_wrong_width_is_a_wiring_error(uncased_tokenizer):
    batch = encode(uncased_tokenizer, ["x"], WHOLE)
    broken = SequenceOutputs(
        logits=np.zeros((1, 2), dtype=np.float32),
        sequence_info=batch.sequence_info[:, :4],
        sequence_text=batch.sequence_text,
    )
    with pytest.raises(ValueError, match="sequence_info has shape"):
        build_results(context("single_label", ("a", "b")), broken, WHOLE)


def test_a_text_slice_that_does_not_hold_its_entity_is_refused(uncased_tokenizer):
    labels = ("O", "B-DATE", "I-DATE")
    batch = encode(uncased_tokenizer, ["In June 2003"], WINDOWS)
    logits = tag_logits(batch, labels, {(0, 1): "B-DATE"})
    short = np.array([[b"In J"]], dtype=np.object_)
    broken = SequenceOutputs(logits, batch.sequence_info, short, batch.token_offsets, batch.word_ids)
    with pytest.raises(ValueError, match="outside its text"):
        build_results(context("token_classification", labels), broken, WINDOWS)
