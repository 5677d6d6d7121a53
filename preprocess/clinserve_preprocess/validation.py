"""Checks on raw request text, with errors that name the text and the problem."""

from __future__ import annotations


class InputError(ValueError):
    """A request input is unusable; the message says which one and why."""


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
            f" cannot be decoded ({exc.reason}); send UTF-8 encoded text"
        ) from None


def validate_text(text: str, index: int) -> None:
    """Refuse a text that has nothing to classify (its size is ``limits``' business).

    Raises:
        InputError: For empty or whitespace-only text.
    """
    if not text or text.isspace():
        raise InputError(f"TEXT[{index}] is empty or whitespace only: there is nothing to classify")
