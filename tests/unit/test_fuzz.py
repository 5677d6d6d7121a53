"""Property-based fuzzing of tokenization, offset mapping and decoding with hostile text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinserve_ensemble.decoding import TaggedWord, bio_chunks, tag_words
from clinserve_preprocess.contract import SequenceColumn as Col
from clinserve_preprocess.encoding import TextEncoder, merge_windows, window_ranges
from clinserve_preprocess.modes import Segmentation
from clinserve_preprocess.validation import InputError, decode_text

# Any code point (surrogates excluded: they cannot be UTF-8 encoded), control characters and
# a clinical vocabulary mixed in so that real word-pieces appear too.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(list("\x00\x07\x1b\u200b\ufeff\r\n\t .,;()-/")),
    ),
    max_size=400,
) | st.lists(
    st.sampled_from(["mg", "H.", "pylori", "Dr.", "2.5", "🤒", "naïve", "東京", "\r\n", "B-cell"]),
    max_size=80,
).map(" ".join)

LABELS = ("O", "B-A", "I-A", "B-B", "I-B", "PAD")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=ANY_TEXT, segmentation=st.sampled_from(list(Segmentation)), max_tokens=st.sampled_from([8, 16, 128])
)
def test_encoding_never_fails_and_offsets_stay_inside_the_text(
    cased_tokenizer, text, segmentation, max_tokens
):
    batch = TextEncoder(cased_tokenizer, max_tokens).encode([text], segmentation=segmentation)
    assert batch.input_ids.shape[1] <= max_tokens
    for row in range(batch.num_sequences):
        n = int(batch.attention_mask[row].sum())
        assert 2 <= n <= max_tokens
        offsets = batch.token_offsets[row, 1 : n - 1]
        assert (offsets[:, 0] >= 0).all() and (offsets[:, 1] <= len(text)).all()
        assert (offsets[:, 0] < offsets[:, 1]).all()
        assert (np.diff(offsets[:, 0]) >= 0).all()
        begin, end = batch.sequence_info[row, Col.SPAN_BEGIN], batch.sequence_info[row, Col.SPAN_END]
        assert 0 <= begin <= end <= len(text)
    if segmentation.windowed:
        assert not batch.column(Col.DROPPED).any()
    # Each segment's sequences carry its text exactly once, as consecutive slices.
    info = batch.sequence_info
    for segment in set(batch.column(Col.SEGMENT).tolist()):
        rows = [r for r in range(batch.num_sequences) if info[r, Col.SEGMENT] == segment]
        joined = "".join(bytes(batch.sequence_text[r, 0]).decode("utf-8") for r in rows)
        begin, end = info[rows[0], Col.SPAN_BEGIN], info[rows[0], Col.SPAN_END]
        assert info[rows[0], Col.SLICE_BEGIN] == begin
        assert joined == text[begin:end]


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64))
def test_any_bytes_either_decode_or_raise_a_named_input_error(raw):
    try:
        expected = raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(InputError, match=r"^TEXT\[3\] is not valid UTF-8"):
            decode_text(raw, 3)
    else:
        assert decode_text(raw, 3) == expected


@settings(max_examples=200, deadline=None)
@given(
    tags=st.lists(st.sampled_from(LABELS), max_size=60),
    pieces_per_word=st.lists(st.integers(1, 3), min_size=60, max_size=60),
)
def test_chunks_are_ordered_disjoint_and_quote_the_text(tags, pieces_per_word):
    words, text, position = [], "", 0
    for index, tag in enumerate(tags):
        token = f"w{index}"
        words.append(TaggedWord(position, position + len(token), tag, 0.5 + (index % 5) / 10))
        text += token + " "
        position += len(token) + 1
    chunks = bio_chunks(words, text, sentence=0)
    spans = [(c["begin"], c["end"]) for c in chunks]
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    for chunk in chunks:
        assert chunk["entity"] in ("A", "B")
        assert text[chunk["begin"] : chunk["end"]] == chunk["text"]
        assert 0.0 < chunk["confidence"] <= 1.0
    # Every word tagged B-* starts a chunk: no B- word is swallowed.
    assert len(chunks) >= sum(1 for t in tags if t.startswith("B-"))
    # And the per-piece view collapses to the same words.
    word_ids = np.repeat(np.arange(len(tags)), pieces_per_word[: len(tags)])
    probs = np.full((len(word_ids), len(LABELS)), 0.01, dtype=np.float32)
    offsets = np.zeros((len(word_ids), 2), dtype=np.int32)
    for row, word in enumerate(word_ids):
        probs[row, LABELS.index(tags[word])] = 0.9
        offsets[row] = (words[word].begin, words[word].end)
    assert [w.tag for w in tag_words(probs, word_ids, offsets, LABELS)] == tags


@settings(max_examples=300, deadline=None)
@given(count=st.integers(0, 5000), size=st.integers(2, 300), overlap_fraction=st.floats(0, 0.9))
def test_windows_tile_every_piece_exactly_once_after_merging(count, size, overlap_fraction):
    overlap = min(size - 1, int(size * overlap_fraction))
    windows = window_ranges(count, size, overlap)
    kept = merge_windows(windows)
    assert kept[0][0] == 0 and kept[-1][1] == count
    assert all(a[1] == b[0] for a, b in itertools.pairwise(kept))
    assert all(w[0] <= k[0] <= k[1] <= w[1] for w, k in zip(windows, kept, strict=True))
