"""Spark NLP semantics: activations, thresholds, first word-piece tags and NerConverter chunks."""

from __future__ import annotations

import numpy as np
import pytest

from clinserve_ensemble.activations import NonFiniteLogitsError, sigmoid, softmax
from clinserve_ensemble.decoding import TaggedWord, bio_chunks, multi_label, single_label, tag_words

LABELS = ["O", "B-DATE", "I-DATE", "B-Value", "I-Value", "PAD"]


def test_softmax_is_stable_for_huge_logits_and_sums_to_one():
    probs = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]], dtype=np.float32))
    np.testing.assert_allclose(probs, [[1.0, 0.0], [0.5, 0.5]], atol=1e-6)


def test_sigmoid_is_stable_at_both_ends():
    np.testing.assert_allclose(sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0], atol=1e-7)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_logits_are_refused(bad):
    with pytest.raises(NonFiniteLogitsError):
        softmax(np.array([0.0, bad]))


def test_single_label_returns_the_winner_and_every_score_in_label_order():
    result = single_label(np.array([0.2, 0.8], dtype=np.float32), ["negative", "positive"])
    assert result["label"] == "positive"
    assert result["score"] == pytest.approx(0.8)
    assert [s["label"] for s in result["scores"]] == ["negative", "positive"]


def test_multi_label_keeps_labels_strictly_above_the_threshold_highest_first():
    probs = np.array([0.5, 0.9, 0.51, 0.1], dtype=np.float32)
    result = multi_label(probs, ["a", "b", "c", "d"], 0.5)
    assert [x["label"] for x in result["labels"]] == ["b", "c"]
    assert len(result["scores"]) == 4 and result["threshold"] == 0.5


def _one_hot(tags: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(tags), len(LABELS)), (1 - confidence) / (len(LABELS) - 1), dtype=np.float32)
    for row, tag in enumerate(tags):
        probs[row, LABELS.index(tag)] = confidence
    return probs


def test_a_word_takes_the_tag_of_its_first_piece_and_spans_all_pieces():
    #            [CLS]  "top"  "##ote" "##can" "4"     [SEP]
    tags = ["O", "B-Value", "O", "B-DATE", "B-DATE", "O"]
    word_ids = np.array([-1, 0, 0, 0, 1, -1])
    offsets = np.array([[0, 0], [0, 3], [3, 6], [6, 9], [10, 11], [0, 0]])
    words = tag_words(_one_hot(tags), word_ids, offsets, LABELS)
    assert [(w.begin, w.end, w.tag) for w in words] == [(0, 9, "B-Value"), (10, 11, "B-DATE")]
    assert [w.probability for w in words] == pytest.approx([0.9, 0.9])


def _words(spec: list[tuple[str, str]]) -> tuple[str, list[TaggedWord]]:
    text, words, pos = "", [], 0
    for token, tag in spec:
        words.append(TaggedWord(pos, pos + len(token), tag, 0.8))
        text += token + " "
        pos += len(token) + 1
    return text, words


def test_chunks_follow_ner_converter():
    text, words = _words(
        [
            ("In", "O"),
            ("June", "B-DATE"),
            ("2003", "I-DATE"),
            ("4.0", "B-Value"),
            ("3.6", "B-Value"),
            ("months", "I-Value"),
            ("x", "O"),
        ]
    )
    chunks = bio_chunks(words, text, sentence=0)
    assert [(c["entity"], c["text"]) for c in chunks] == [
        ("DATE", "June 2003"),
        ("Value", "4.0"),
        ("Value", "3.6 months"),
    ]
    for chunk in chunks:
        assert text[chunk["begin"] : chunk["end"]] == chunk["text"]
        assert chunk["confidence"] == pytest.approx(0.8)


def test_a_stray_inside_tag_starts_a_chunk_and_inside_tags_of_another_type_extend_it():
    text, words = _words([("a", "I-Value"), ("b", "I-DATE"), ("c", "O")])
    chunks = bio_chunks(words, text, sentence=3)
    assert [(c["entity"], c["text"], c["sentence"]) for c in chunks] == [("Value", "a b", 3)]


def test_pad_never_forms_an_entity_and_ends_a_chunk():
    text, words = _words([("a", "PAD"), ("b", "B-DATE"), ("c", "PAD"), ("d", "I-DATE")])
    chunks = bio_chunks(words, text, sentence=0)
    assert [(c["entity"], c["text"]) for c in chunks] == [("DATE", "b"), ("DATE", "d")]


def test_chunk_confidence_is_the_mean_of_its_words():
    words = [TaggedWord(0, 1, "B-DATE", 0.6), TaggedWord(2, 3, "I-DATE", 1.0)]
    assert bio_chunks(words, "a b", 0)[0]["confidence"] == pytest.approx(0.8)
