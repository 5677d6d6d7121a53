from __future__ import annotations

import pytest

from clinserve_preprocess.validation import InputError, decode_text, validate_text


def test_invalid_utf8_names_the_text_and_the_byte():
    with pytest.raises(InputError, match=r"TEXT\[2\] is not valid UTF-8: byte 3"):
        decode_text(b"abc\xff", 2)


def test_valid_utf8_decodes():
    assert decode_text("Zürich 🙂".encode(), 0) == "Zürich 🙂"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_or_whitespace_text_is_refused(text):
    with pytest.raises(InputError, match=r"TEXT\[0\] is empty or whitespace only"):
        validate_text(text, 0)
