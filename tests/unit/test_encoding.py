"""WordPiece encoding: special tokens, truncation accounting, buckets and exact offsets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from clinserve_preprocess.contract import SequenceColumn as Col
from clinserve_preprocess.encoding import (
    NO_WORD,
    TextEncoder,
    bucket_length,
    merge_windows,
    window_count,
    window_ranges,
)


@pytest.mark.parametrize(
    ("length", "max_tokens", "expected"),
    [
        (3, 128, 16),
        (16, 128, 16),
        (17, 128, 32),
        (100, 128, 128),
        (129, 128, 128),
        (200, 256, 256),
        (5, 8, 8),
    ],
)
def test_bucket_length_picks_the_smallest_bucket_within_the_model_limit(length, max_tokens, expected):
    assert bucket_length(length, max_tokens) == expected


def test_encoding_wraps_pieces_in_cls_and_sep_with_zero_token_types(uncased_tokenizer):
    encoder = TextEncoder(uncased_tokenizer, 128)
    batch = encoder.encode(["Aspirin daily"])
    ids = batch.input_ids[0]
    mask = batch.attention_mask[0]
    n = int(mask.sum())
    assert ids[0] == encoder.cls_id and ids[n - 1] == encoder.sep_id
    assert (ids[n:] == encoder.pad_id).all() and (mask[n:] == 0).all()
    assert batch.input_ids.shape == (1, 16)
    assert not batch.token_type_ids.any()
    assert batch.input_ids.dtype == np.int64 and batch.token_offsets.dtype == np.int32


def test_offsets_point_into_the_original_text_for_non_ascii(uncased_tokenizer):
    text = "Naïve 🤒 patients in Zürich: 東京 cohort"
    batch = TextEncoder(uncased_tokenizer, 128).encode([text])
    n = int(batch.attention_mask[0].sum())
    pieces = [text[b:e] for b, e in batch.token_offsets[0, 1 : n - 1]]
    assert "Naïve" in pieces and "🤒" in pieces and "東" in pieces
    for (b, e), word in zip(batch.token_offsets[0, 1 : n - 1], batch.word_ids[0, 1 : n - 1], strict=True):
        assert 0 <= b < e <= len(text) and word != NO_WORD


def test_control_characters_are_dropped_without_shifting_offsets(cased_tokenizer):
    text = "dose\x00 \x07of\u200b insulin"
    batch = TextEncoder(cased_tokenizer, 64).encode([text])
    n = int(batch.attention_mask[0].sum())
    assert [text[b:e] for b, e in batch.token_offsets[0, 1 : n - 1]] == ["dose", "of", "insulin"]


def test_truncation_keeps_the_start_and_counts_the_dropped_pieces(uncased_tokenizer):
    text = " ".join(["the"] * 300)
    batch = TextEncoder(uncased_tokenizer, 128).encode([text])
    assert batch.input_ids.shape == (1, 128)
    assert batch.attention_mask[0].sum() == 128
    assert int(batch.column(Col.DROPPED)[0]) == 300 - 126


def test_per_sentence_mode_gives_one_sequence_per_sentence_with_spans(uncased_tokenizer):
    texts = ["First one. Second one.", "Only sentence"]
    batch = TextEncoder(uncased_tokenizer, 512).encode(texts, segmentation="sentences")
    assert batch.num_sequences == 3
    assert batch.column(Col.TEXT).tolist() == [0, 0, 1]
    spans = [
        texts[t][b:e]
        for t, (b, e) in zip(
            batch.column(Col.TEXT), batch.sequence_info[:, [Col.SPAN_BEGIN, Col.SPAN_END]], strict=True
        )
    ]
    assert spans == ["First one.", "Second one.", "Only sentence"]
    # offsets of the second sentence are relative to the whole text, not the sentence
    second = batch.token_offsets[1, 1]
    assert texts[0][second[0] : second[1]] == "Second"


def test_all_sequences_of_a_request_share_one_padded_length(uncased_tokenizer):
    batch = TextEncoder(uncased_tokenizer, 128).encode(["short", " ".join(["word"] * 40)])
    assert batch.input_ids.shape == (2, 64)


def test_a_tokenizer_without_special_tokens_is_refused():
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece

    with pytest.raises(ValueError, match=r"\[CLS\]"):
        TextEncoder(Tokenizer(WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]")), 16)


@pytest.mark.parametrize("count", [0, 1, 50, 126, 127, 300, 1000])
def test_windows_cover_every_piece_with_the_requested_overlap(count):
    windows = window_ranges(count, 126, 31)
    covered: set[int] = set()
    for start, end in windows:
        assert end - start <= 126
        covered.update(range(start, end))
    assert covered == set(range(count))
    for (_s1, e1), (s2, _) in itertools.pairwise(windows):
        assert s2 < e1, "consecutive windows overlap"
        assert e1 - s2 >= 31 or s2 == windows[-1][0]


def test_window_mode_drops_no_piece_and_offsets_stay_exact_with_crlf(uncased_tokenizer):
    text = "\r\n".join(f"Line {i}: topotecan 4.0 mg, naïve." for i in range(120))
    encoder = TextEncoder(uncased_tokenizer, 128)
    batch = encoder.encode([text], segmentation="windows")
    total = len(encoder.pieces([text])[0])
    assert batch.num_sequences > 1 and not batch.column(Col.DROPPED).any()
    seen: set[int] = set()
    answered: list[int] = []
    for row in range(batch.num_sequences):
        start = int(batch.sequence_info[row, Col.WINDOW_START])
        n = int(batch.attention_mask[row].sum()) - 2
        seen.update(range(start, start + n))
        first, last = batch.sequence_info[row, [Col.ANSWER_BEGIN, Col.ANSWER_END]]
        assert start <= first <= last <= start + n
        answered.extend(range(first, last))
        for b, e in batch.token_offsets[row, 1 : n + 1]:
            assert text[b:e].strip() == text[b:e] and e > b
    assert seen == set(range(total))
    assert answered == list(range(total)), "every piece is answered exactly once, in order"


def test_sentence_windows_stay_inside_their_sentence(uncased_tokenizer):
    text = "Short one. Dose " + " ".join(["dose"] * 300) + ". Last one."
    batch = TextEncoder(uncased_tokenizer, 64).encode([text], segmentation="sentence_windows")
    segments = batch.column(Col.SEGMENT).tolist()
    assert segments[0] == 0 and segments[-1] == 2 and segments.count(1) > 1
    for row, _segment in enumerate(segments):
        begin, end = batch.sequence_info[row, [Col.SPAN_BEGIN, Col.SPAN_END]]
        n = int(batch.attention_mask[row].sum()) - 2
        assert all(begin <= b and e <= end for b, e in batch.token_offsets[row, 1 : n + 1])


def test_unknown_segmentation_is_refused(uncased_tokenizer):
    with pytest.raises(ValueError, match="'paragraphs' is not a valid Segmentation"):
        TextEncoder(uncased_tokenizer, 64).encode(["x"], segmentation="paragraphs")


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


@pytest.mark.parametrize("count", [0, 1, 126, 127, 300, 5000])
def test_window_count_matches_the_windows(count):
    assert window_count(count, 126, 31) == len(window_ranges(count, 126, 31))


def test_range_within_is_linear_for_long_texts(uncased_tokenizer):
    # A 200k-character text of 2,000 sentences: each sentence's piece range is a binary search
    # (it was a copy of every offset per sentence, quadratic: 10 s for 2 MB).
    text = "The dose was raised to 4 mg. " * 7000
    encoder = TextEncoder(uncased_tokenizer, 512)
    (pieces,) = encoder.pieces([text])
    starts = pieces.offsets[:, 0]
    assert starts.flags["C_CONTIGUOUS"] or starts.flags["F_CONTIGUOUS"]
