"""The load tests' payload corpus: generated texts and user-supplied JSON lines."""

from __future__ import annotations

import json
import random

import pytest

from clinserve_preprocess.validation import validate_text
from load_tests.corpus import CHAR_RANGES, DEFAULT_COUNTS, KINDS, Corpus, build_corpus, read_corpus


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


def test_every_kind_has_the_asked_number_of_texts_within_its_length_range(corpus):
    assert corpus.kinds == KINDS
    for kind in KINDS:
        texts = corpus.texts[kind]
        assert len(texts) == DEFAULT_COUNTS[kind]
        low, high = CHAR_RANGES[kind]
        assert all(low <= len(text) <= high for text in texts), kind


def test_texts_vary_in_content_and_length(corpus):
    for kind in KINDS:
        texts = corpus.texts[kind]
        assert len(set(texts)) >= 0.9 * len(texts), kind
        lengths = sorted(len(t) for t in texts)
        low, high = CHAR_RANGES[kind]
        assert lengths[-1] - lengths[0] >= 0.25 * (high - low), kind


def test_texts_are_valid_server_input(corpus):
    for kind in KINDS:
        for index, text in enumerate(corpus.texts[kind]):
            validate_text(text, index)


def test_long_documents_have_many_sentences_and_sections(corpus):
    for text in corpus.texts["long"]:
        assert text.count(". ") >= 40
        assert "HOSPITAL COURSE:" in text and "\n\n" in text


def test_same_seed_same_texts_other_seed_other_texts():
    counts = {"tweet": 20, "abstract": 3}
    assert build_corpus(5, counts) == build_corpus(5, counts)
    assert build_corpus(5, counts).texts["tweet"] != build_corpus(6, counts).texts["tweet"]


def test_build_corpus_refuses_unknown_kinds_and_empty_counts():
    with pytest.raises(ValueError, match="unknown payload kind 'poem'"):
        build_corpus(counts={"poem": 3})
    with pytest.raises(ValueError, match="tweet: at least one text is needed"):
        build_corpus(counts={"tweet": 0})


def test_sample_draws_from_the_kind(corpus):
    rng = random.Random(3)
    drawn = corpus.sample("abstract", rng, 5)
    assert len(drawn) == 5 and set(drawn) <= set(corpus.texts["abstract"])
    with pytest.raises(ValueError, match="the corpus has no 'long' texts"):
        Corpus({"tweet": ("hi there",)}).sample("long", rng)


def test_read_corpus_loads_json_lines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    lines = [{"kind": "tweet", "text": "off ambien now"}, {"kind": "long", "text": "A long note."}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == {"tweet": ("off ambien now",), "long": ("A long note.",)}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", ":1: not JSON"),
        ('["tweet", "x"]', ':1: expected an object {"kind": ..., "text": ...}'),
        ('{"kind": "poem", "text": "x"}', ":1: kind 'poem' is not one of tweet, sentence, abstract, long"),
        ('{"kind": "tweet", "text": "  "}', ":1: the text is empty"),
    ],
)
def test_read_corpus_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl") as error:
        read_corpus(path)
    assert message in str(error.value)


def test_the_corpus_command_writes_what_read_corpus_reads(tmp_path, capsys):
    from load_tests.corpus import main

    assert main(["--seed", "11"]) == 0
    path = tmp_path / "out.jsonl"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    assert read_corpus(path) == build_corpus(11)
