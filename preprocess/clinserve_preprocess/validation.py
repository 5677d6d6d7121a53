"""Checks on raw request text, with errors that name the text and the problem."""

from __future__ import annotations

from enum import StrEnum


class InputErrorKind(StrEnum):
    """Why a request was refused: the ``kind`` label of ``clinserve_errors_total`` (docs/metrics.md).

    A small fixed set, so that a metric label per kind stays cheap; the message carries the detail.
    """

    BAD_TENSOR = "bad_tensor"  # TEXT missing, not 1-D, or holding no texts
    INVALID_UTF8 = "invalid_utf8"
    EMPTY_TEXT = "empty_text"
    UNKNOWN_MODE = "unknown_mode"
    TOO_MANY_TEXTS = "too_many_texts"
    TOO_MANY_CHARS = "too_many_chars"  # one text's or the whole request's characters
    TOO_MANY_SEQUENCES = "too_many_sequences"
    TOO_MANY_TOKENS = "too_many_tokens"  # padded token positions (or their lower bound)
    INCONSISTENT_TENSORS = (
        "inconsistent_tensors"  # post-processor inputs from a caller bypassing the ensemble
    )


class InputError(ValueError):
    """A request input is unusable; the message says which one and why, ``kind`` what class of problem."""

    def __init__(self, message: str, kind: InputErrorKind) -> None:
        super().__init__(message)
        self.kind = kind


def decode_text(raw: bytes | str, index: int) -> str:
    """Decode one TEXT element as strict UTF-8.

    Args:
        raw: The element as Triton hands it (bytes for TYPE_STRING tensors).
        index: Position of the element in the request, for the error message.

    Raises:
        InputError: When the bytes are not valid UTF-8; names the first bad byte offset.
    """
    if isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"TEXT[{index}] is not valid UTF-8: byte {exc.start} ({raw[exc.start : exc.start + 1]!r})"
            f" cannot be decoded ({exc.reason}); send UTF-8 encoded text",
            InputErrorKind.INVALID_UTF8,
        ) from None


def validate_text(text: str, index: int) -> None:
    """Refuse a text that has nothing to classify (its size is ``limits``' business).

    Raises:
        InputError: For empty or whitespace-only text.
    """
    if not text or text.isspace():
        raise InputError(
            f"TEXT[{index}] is empty or whitespace only: there is nothing to classify",
            InputErrorKind.EMPTY_TEXT,
        )
