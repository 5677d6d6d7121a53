"""Typed results from the server's JSON (no server).

The JSON documents are made by the server's own result builder (clinserve_ensemble.results), so
these tests pin the contract between the post-processor and the client, not a copy of it.
"""

from __future__ import annotations

import json

import pytest

from clinserve.errors import ResultFormatError
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    LabelScore,
    MultiLabelResult,
    ResultKind,
    SentenceResult,
    parse_result,
    parse_results,
)
from clinserve_ensemble.results import ResultContext, build_results
from clinserve_preprocess.modes import modes_for
from tests.unit.step_tensors import encode, outputs, tag_logits


def _context(task, labels, *, per_sentence=False, threshold=None):
    return ResultContext(
        model="m",
        task=task,
        labels=labels,
        per_sentence=per_sentence,
        threshold=threshold,
        untrained=True,
        weights="demo-tiny",
    )


def _docs(tokenizer, ctx, texts, mode_name, logits, *, max_tokens=128):
    """The server's result documents for ``texts`` encoded by the served encoder."""
    token_level = ctx.task == "token_classification"
    mode = modes_for(token_level)[mode_name]
    batch = encode(tokenizer, texts, mode, max_tokens=max_tokens)
    if callable(logits):
        logits = logits(batch)
    return build_results(ctx, outputs(batch, logits, token_level=token_level), mode)


def _wire(docs):
    """What the RESULT tensor carries: UTF-8 JSON bytes."""
    return [json.dumps(doc).encode("utf-8") for doc in docs]


def test_single_label_result_maps_label_score_and_every_score_in_label_order(uncased_tokenizer):
    docs = _docs(
        uncased_tokenizer,
        _context("single_label", ("negative", "positive")),
        ["first text", "second " * 129],
        "whole",
        [[2.0, 0.0], [0.0, 1.0]],
    )
    first, second = parse_results(_wire(docs), ResultKind.CLASSIFICATION, model="m")
    assert isinstance(first, ClassificationResult) and isinstance(second, ClassificationResult)
    assert first.label == "negative" and first.score == pytest.approx(0.8808, abs=1e-4)
    assert [s.label for s in first.scores] == ["negative", "positive"]
    assert sum(s.score for s in first.scores) == pytest.approx(1.0)
    assert (first.model, first.untrained, first.weights, first.mode) == ("m", True, "demo-tiny", "whole")
    assert first.sentence_count is None
    assert (second.label, second.truncated, second.dropped_tokens) == ("positive", True, 3)


def test_multi_label_result_keeps_labels_above_threshold_highest_first(uncased_tokenizer):
    labels = ("A", "B", "C")
    docs = _docs(
        uncased_tokenizer,
        _context("multi_label", labels, threshold=0.5),
        ["text"],
        "whole",
        [[3.0, -2.0, 0.5]],
    )
    [result] = parse_results(_wire(docs), ResultKind.MULTI_LABEL, model="m")
    assert isinstance(result, MultiLabelResult)
    assert [item.label for item in result.labels] == ["A", "C"]
    assert result.labels[0].score > result.labels[1].score > 0.5
    assert [s.label for s in result.scores] == list(labels)
    assert result.threshold == 0.5


def test_per_sentence_result_has_one_prediction_per_sentence_with_its_span(uncased_tokenizer):
    text = "One here. Two there."
    docs = _docs(
        uncased_tokenizer,
        _context("single_label", ("0", "1"), per_sentence=True),
        [text],
        "sentences",
        [[1.0, 0.0], [0.0, 1.0]],
    )
    [result] = parse_results(_wire(docs), ResultKind.SENTENCES, model="m")
    assert isinstance(result, SentenceResult)
    spans = [(s.index, s.begin, s.end, s.label) for s in result.sentences]
    assert spans == [(0, 0, 9, "0"), (1, 10, 20, "1")]
    assert all(text[s.begin : s.end] == s.text for s in result.sentences)
    assert result.mode == "sentences"


def test_multi_label_per_sentence_answers_with_labels_not_a_single_label(uncased_tokenizer):
    docs = _docs(
        uncased_tokenizer,
        _context("multi_label", ("A", "B"), threshold=0.5),
        ["One. Two."],
        "sentences",
        [[3.0, -3.0], [-3.0, -3.0]],
    )
    [result] = parse_results(_wire(docs), ResultKind.SENTENCES, model="m")
    assert isinstance(result, SentenceResult)
    first, second = result.sentences
    assert (first.label, first.score, [s.label for s in first.labels], first.threshold) == (
        None,
        None,
        ["A"],
        0.5,
    )
    assert second.labels == ()


def test_document_mode_averages_sentences_into_one_classification(uncased_tokenizer):
    docs = _docs(
        uncased_tokenizer,
        _context("single_label", ("0", "1"), per_sentence=True),
        ["One. Two."],
        "document",
        [[4.0, 0.0], [4.0, 0.0]],
    )
    [result] = parse_results(_wire(docs), ResultKind.CLASSIFICATION, model="m")
    assert isinstance(result, ClassificationResult)
    assert (result.label, result.sentence_count, result.mode) == ("0", 2, "document")


def test_entities_result_carries_type_offsets_confidence_and_sentence(uncased_tokenizer):
    text = "Drug X helped"
    labels = ("O", "B-Drug", "I-Drug")
    docs = _docs(
        uncased_tokenizer,
        _context("token_classification", labels),
        [text],
        "windows",
        lambda batch: tag_logits(batch, labels, {(0, 0): "B-Drug", (0, 1): "I-Drug"}),
    )
    [result] = parse_results(_wire(docs), ResultKind.ENTITIES, model="m")
    assert isinstance(result, EntitiesResult)
    [entity] = result.entities
    assert (entity.entity, entity.text, entity.begin, entity.end, entity.sentence) == (
        "Drug",
        "Drug X",
        0,
        6,
        0,
    )
    assert text[entity.begin : entity.end] == entity.text
    assert 0.9 < entity.confidence <= 1.0


def test_entities_per_sentence_carry_the_sentence_count_and_every_sentence_span(uncased_tokenizer):
    text = "No change. Drug X helped.  Stable."
    labels = ("O", "B-Drug", "I-Drug")
    docs = _docs(
        uncased_tokenizer,
        _context("token_classification", labels),
        [text],
        "sentences",
        lambda batch: tag_logits(batch, labels, {(0, 3): "B-Drug", (0, 4): "I-Drug"}),
    )
    [result] = parse_results(_wire(docs), ResultKind.ENTITIES, model="m")
    assert isinstance(result, EntitiesResult) and result.sentence_count == 3
    assert result.sentence_spans is not None
    assert [text[b:e] for b, e in result.sentence_spans] == ["No change.", "Drug X helped.", "Stable."]
    assert [(e.text, e.sentence) for e in result.entities] == [("Drug X", 1)]
    docs = _docs(
        uncased_tokenizer,
        _context("token_classification", labels),
        [text],
        "windows",
        lambda batch: tag_logits(batch, labels, {}),
    )
    [windows] = parse_results(_wire(docs), ResultKind.ENTITIES, model="m")
    assert isinstance(windows, EntitiesResult)
    assert (windows.sentence_count, windows.sentence_spans) == (1, None)


def _entities_doc(**changes):
    doc = {
        "schema_version": 1,
        "model": "m",
        "untrained": False,
        "weights": "w",
        "truncated": False,
        "dropped_tokens": 0,
        "entities": [],
    }
    doc.update(changes)
    return doc


def test_entity_results_of_an_older_server_without_sentence_fields_are_read():
    result = parse_result(_entities_doc(), ResultKind.ENTITIES)
    assert isinstance(result, EntitiesResult)
    assert (result.sentence_count, result.sentence_spans) == (None, None)


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ({"a": 1}, "'sentence_spans' should be list, got dict"),
        ([[0, 4, 5]], r"'sentence_spans' should hold \[begin, end\] pairs, got \[0, 4, 5\]"),
        ([[5, 4]], "pairs, got"),
        ([[0, True]], "pairs, got"),
        ([[0, 1.5]], "pairs, got"),
    ],
)
def test_malformed_sentence_spans_are_refused(spans, message):
    with pytest.raises(ResultFormatError, match=message):
        parse_result(_entities_doc(sentence_spans=spans), ResultKind.ENTITIES)


def _doc(**changes):
    doc = {
        "schema_version": 1,
        "model": "m",
        "untrained": False,
        "weights": "w",
        "truncated": False,
        "dropped_tokens": 0,
        "label": "a",
        "score": 0.9,
        "scores": [{"label": "a", "score": 0.9}],
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def test_a_result_without_a_mode_from_an_older_server_is_read():
    result = parse_result(_doc(), ResultKind.CLASSIFICATION)
    assert result.mode is None


def test_a_newer_schema_version_is_refused_with_a_clear_message():
    with pytest.raises(ResultFormatError, match="schema version 2; this client reads version 1"):
        parse_result(_doc(schema_version=2), ResultKind.CLASSIFICATION)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": None}, "no 'label' field"),
        ({"score": "high"}, "'score' should be int/float, got str"),
        ({"score": True}, "'score' should be int/float, got bool"),
        ({"untrained": 1}, "'untrained' should be bool, got int"),
        ({"dropped_tokens": 1.5}, "'dropped_tokens' should be int, got float"),
        ({"mode": 3}, "'mode' should be str, got int"),
        ({"scores": [{"label": "a"}]}, "no 'score' field"),
    ],
)
def test_malformed_results_name_the_field(changes, message):
    with pytest.raises(ResultFormatError, match=message):
        parse_result(_doc(**changes), ResultKind.CLASSIFICATION, where="m text 3")


def test_a_result_of_another_kind_is_refused():
    with pytest.raises(ResultFormatError, match="no 'entities' field"):
        parse_result(_doc(), ResultKind.ENTITIES)


def test_parse_results_reports_non_json_with_the_text_index():
    with pytest.raises(ResultFormatError, match="m text 65: the result is not JSON"):
        parse_results([b"{not json"], ResultKind.CLASSIFICATION, model="m", first_index=65)


def test_results_are_frozen_and_convert_to_plain_json():
    result = parse_result(_doc(), ResultKind.CLASSIFICATION)
    assert isinstance(result, ClassificationResult)
    with pytest.raises(AttributeError):
        result.label = "b"  # type: ignore[misc]
    assert json.loads(json.dumps(result.to_dict()))["scores"] == [{"label": "a", "score": 0.9}]
    assert result.scores == (LabelScore("a", 0.9),)


def test_unknown_result_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown result kind"):
        parse_result(_doc(), "poetry")
