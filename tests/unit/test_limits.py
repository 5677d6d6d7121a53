"""Per-request limits: checked from the cheapest up, each refusal naming the limit it passed."""

from __future__ import annotations

import pytest

from clinserve.errors import RequestTooLargeError, error_from_status
from clinserve_preprocess.limits import RequestLimits, word_lower_bound
from clinserve_preprocess.validation import InputError

LIMITS = RequestLimits(
    max_texts=4, max_text_chars=100, max_request_chars=250, max_sequences=10, max_positions=64
)


def client_error(exc: InputError):
    """What the client library makes of the refusal (it re-splits a request that is too large)."""
    return error_from_status("StatusCode.INVALID_ARGUMENT", f"in ensemble 'm', {exc}")


def test_too_many_texts_are_refused_with_the_count_and_the_limit():
    LIMITS.check_count(4, "m")
    with pytest.raises(InputError, match="TEXT holds 5 texts; m takes at most 4 per request"):
        LIMITS.check_count(5, "m")


def test_a_text_over_its_limit_is_named_with_both_figures():
    LIMITS.check_chars([100, 100])
    with pytest.raises(
        InputError, match=r"TEXT\[1\] has 101 characters, more than the 100 one text may have"
    ):
        LIMITS.check_chars([5, 101])


def test_texts_over_the_request_limit_together_are_a_request_too_large():
    with pytest.raises(InputError) as info:
        LIMITS.check_chars([100, 100, 60])
    assert "have 260 characters together, more than the 250 one request may have" in str(info.value)
    error = client_error(info.value)
    assert isinstance(error, RequestTooLargeError) and error.fit_fraction == pytest.approx(250 / 260)


def test_words_alone_can_refuse_a_request_before_any_word_piece_is_made():
    LIMITS.check_word_bound(["one two three"] * 21, "windows")  # 63 words: may still fit
    with pytest.raises(InputError) as info:
        LIMITS.check_word_bound(["one two three"] * 22, "windows")
    assert "needs at least 66 token positions (one per word), more than the 64" in str(info.value)
    assert client_error(info.value).fit_fraction == pytest.approx(64 / 66)


@pytest.mark.parametrize(
    "text",
    [
        "dose\x00\x07 of\u200b insulin, 2.5 mg.",  # control and format characters are dropped by BERT
        "naïve Zürich 東京 🤒 B-cell x_y",  # accents, CJK, emoji, underscores
        "a" * 150,  # one long word: one [UNK] piece
    ],
)
def test_the_word_bound_never_exceeds_the_real_word_pieces(uncased_tokenizer, cased_tokenizer, text):
    for tokenizer in (uncased_tokenizer, cased_tokenizer):
        pieces = len(tokenizer.encode(text, add_special_tokens=False).ids)
        assert word_lower_bound(text) <= pieces, tokenizer


def test_sentences_are_counted_before_encoding():
    LIMITS.check_sentence_count(10, "sentences")
    with pytest.raises(
        InputError, match=r"needs at least 11 model sequences \(one per sentence\), more than the 10"
    ):
        LIMITS.check_sentence_count(11, "sentences")


def test_the_exact_count_names_the_limit_it_passes_with_both_figures():
    LIMITS.check_sequences(4, 16, "windows")  # 64 positions: at the limit
    with pytest.raises(InputError) as info:
        LIMITS.check_sequences(5, 16, "windows")
    message = str(info.value)
    assert "needs 80 token positions (5 model sequences of 16 tokens), more than the 64" in message
    assert "10" not in message.split("more than")[1], "the sequence limit was not passed: not named"
    with pytest.raises(InputError, match="needs 11 model sequences, more than the 10 one request may use"):
        LIMITS.check_sequences(11, 4, "sentences")
