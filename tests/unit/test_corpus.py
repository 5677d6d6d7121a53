"""The shared corpus (lab/corpus.py): the benchmark's length mix and the load tests' payloads.

The digests pin the texts to those the two builders it replaced (``benchmarks/corpus.py`` and
``load_tests/corpus.py`` at commit 9ddbabc) generated for the same seeds: the committed benchmark
figures were measured on them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinserve_preprocess.validation import validate_text
from lab.corpus import (
    CHAR_RANGES,
    DEFAULT_COUNTS,
    DEFAULT_MIX,
    KINDS,
    Corpus,
    CorpusText,
    build_corpus,
    class_counts,
    generate_corpus,
    long_document,
    read_corpus,
    read_texts,
    save_corpus,
)


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode("utf-8")).hexdigest()


# sha256 of the old builders' output (json.dumps, ensure_ascii=False), computed before they were
# replaced: benchmarks.corpus.generate_corpus / long_document, load_tests.corpus.build_corpus.
@pytest.mark.parametrize(
    ("size", "seed", "expected"),
    [
        (160, 0, "68f78ae59d4ee14d9f4faef39fffd38c576bdf5df3b613f1019bdb7841878725"),  # make bench
        (16, 0, "641a4f92ac83ef92600b816018d093e96cab4532e34201fcf918838ac3890140"),
        (150, 3, "0262005e5e52267299704a07eb1e69cb044e3ad425b1f2f8ee9414daf2536ee8"),
        (1000, 7, "27e560d7e507446137617d87841908f641b2a81b16b30ada06f9ea4bea9b53c6"),
    ],
)
def test_the_benchmark_corpus_is_the_one_the_committed_figures_used(size, seed, expected):
    assert digest([[t.kind, t.text] for t in generate_corpus(size, seed=seed)]) == expected


def test_a_custom_mix_gives_the_old_texts():
    corpus = generate_corpus(50, seed=1, mix={"tweet": 0.5, "abstract": 0.5})
    expected = "d034a54b8a402a4564d7c99cd22d98cd4128ebd9fe5d326679130bb71b5aa0d0"
    assert digest([[t.kind, t.text] for t in corpus]) == expected


@pytest.mark.parametrize(
    ("chars", "seed", "expected"),
    [
        (1000, 0, "ae2de57891b6b19bf98d4b37a8978e1b4654dfd9b112a69700f4a362064a685a"),
        (1000, 1000, "9ece2d9a055426905766364c14e97a795f2cf7c9592c90378302183634a5c048"),
        (10000, 10000, "f8ff526eb1c6683985d518b46f337aa03052bbcf1da151f4c47f14a4d9c30904"),
        (100000, 100000, "5ec126b439091ec4cbbde40557ae97fc1af06d1366e67ad40a1bb9aeceb78c5c"),
        (7, 3, "27a46b0981558167b5d655dcf8578306aea9676898fcf50292443c25f9f78b7e"),
    ],
)
def test_long_documents_are_the_old_ones(chars, seed, expected):
    assert digest(long_document(chars, seed=seed)) == expected


@pytest.mark.parametrize(
    ("seed", "counts", "expected"),
    [
        (None, None, "bc3f4369045271760e20a2dee0e1e5c09153c1afe3ebe1bd0ef6eb66783ded24"),
        (5, {"tweet": 3, "long": 2}, "b11de7fe730dc5f6ef2696f356eba8952c4ca2661fd33797ac874a63aca98ab5"),
    ],
)
def test_the_load_test_payloads_are_the_old_ones(seed, counts, expected):
    corpus = build_corpus() if seed is None else build_corpus(seed, counts)
    assert digest({kind: list(texts) for kind, texts in corpus.texts.items()}) == expected


# --- the benchmark's corpus ------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=5000))
def test_class_counts_sum_to_the_size_and_stay_within_one_of_the_exact_share(size):
    counts = class_counts(size)
    assert sum(counts.values()) == size
    for kind, share in DEFAULT_MIX.items():
        assert abs(counts[kind] - size * share) < 1


def test_default_mix_is_forty_forty_twenty():
    assert class_counts(200) == {"tweet": 80, "sentence": 80, "abstract": 40}


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"tweet": 0.5, "sentence": 0.4}, "sum to 1"),
        ({"tweet": 0.5, "sentence": 0.6, "abstract": -0.1}, "must be >= 0"),
        ({"tweet": 0.5, "novel": 0.5}, "unknown length class"),
    ],
)
def test_a_bad_mix_raises_error_naming_the_problem(mix, message):
    with pytest.raises(ValueError, match=message):
        class_counts(10, mix)


def test_corpus_has_the_mix_and_every_text_lies_in_its_class_length_range():
    corpus = generate_corpus(150, seed=3)
    assert len(corpus) == 150
    assert {k: sum(t.kind == k for t in corpus) for k in DEFAULT_MIX} == class_counts(150)
    for item in corpus:
        low, high = CHAR_RANGES[item.kind]
        assert low <= len(item.text) <= high, (item.kind, len(item.text))
        assert item.text == item.text.strip()


def test_corpus_is_interleaved_not_grouped_by_class():
    kinds = [t.kind for t in generate_corpus(100, seed=0)]
    changes = sum(a != b for a, b in itertools.pairwise(kinds))
    assert changes > 30


def test_same_seed_gives_the_same_corpus_and_another_seed_another():
    assert generate_corpus(40, seed=7) == generate_corpus(40, seed=7)
    assert generate_corpus(40, seed=7) != generate_corpus(40, seed=8)


@pytest.mark.parametrize("chars", [1, 999, 1000, 10_000, 100_000])
def test_long_document_has_exactly_the_requested_length(chars):
    document = long_document(chars, seed=1)
    assert len(document) == chars


def test_long_document_of_no_characters_raises_error():
    with pytest.raises(ValueError, match="at least one character"):
        long_document(0)


def test_corpus_round_trips_through_json_lines(tmp_path):
    corpus = generate_corpus(12, seed=2)
    path = tmp_path / "corpus.jsonl"
    save_corpus(corpus, path)
    assert read_texts(path) == corpus


def test_loading_a_corpus_line_without_a_known_class_raises_error_with_the_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"kind": "tweet", "text": "ok"}\n{"kind": "poem", "text": "no"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"corpus.jsonl:2"):
        read_texts(path)


# --- the load tests' payloads --------------------------------------------------------------------


@pytest.fixture(scope="module")
def payloads() -> Corpus:
    return build_corpus()


def test_every_kind_has_the_asked_number_of_texts_within_its_length_range(payloads):
    assert payloads.kinds == KINDS
    for kind in KINDS:
        texts = payloads.texts[kind]
        assert len(texts) == DEFAULT_COUNTS[kind]
        low, high = CHAR_RANGES[kind]
        assert all(low <= len(text) <= high for text in texts), kind


def test_texts_vary_in_content_and_length(payloads):
    for kind in KINDS:
        texts = payloads.texts[kind]
        assert len(set(texts)) >= 0.9 * len(texts), kind
        lengths = sorted(len(t) for t in texts)
        low, high = CHAR_RANGES[kind]
        assert lengths[-1] - lengths[0] >= 0.25 * (high - low), kind


def test_texts_are_valid_server_input(payloads):
    for kind in KINDS:
        for index, text in enumerate(payloads.texts[kind]):
            validate_text(text, index)


def test_long_documents_have_many_sentences_and_sections(payloads):
    for text in payloads.texts["long"]:
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


def test_sample_draws_from_the_kind(payloads):
    rng = random.Random(3)
    drawn = payloads.sample("abstract", rng, 5)
    assert len(drawn) == 5 and set(drawn) <= set(payloads.texts["abstract"])
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
    from lab.corpus import main

    assert main(["--seed", "11"]) == 0
    path = tmp_path / "out.jsonl"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    assert read_corpus(path) == build_corpus(11)


def test_a_corpus_groups_texts_by_kind_and_lists_them_back_in_kind_order():
    corpus = Corpus.of([CorpusText("long", "L"), CorpusText("tweet", "a"), CorpusText("tweet", "b")])
    assert corpus.texts == {"long": ("L",), "tweet": ("a", "b")}
    assert corpus.items() == [CorpusText("tweet", "a"), CorpusText("tweet", "b"), CorpusText("long", "L")]
