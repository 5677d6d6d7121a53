"""Checks on raw request text, with errors that name the text and the problem."""

from __future__ import annotations

# A 1 MB note must still get an answer; anything far larger is almost surely a mistake and
# would hold a Python model instance for seconds. Overridable per model in config.pbtxt.
DEFAULT_MAX_TEXT_CHARS = 2_000_000


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


def validate_text(text: str, index: int, *, max_chars: int = DEFAULT_MAX_TEXT_CHARS) -> None:
    """Refuse texts that have nothing to classify or exceed the size limit.

    Raises:
        InputError: For empty or whitespace-only text, or text longer than ``max_chars``.
    """
    if not text.strip():
        raise InputError(f"TEXT[{index}] is empty or whitespace only: there is nothing to classify")
    if len(text) > max_chars:
        raise InputError(
            f"TEXT[{index}] has {len(text):,} characters, more than this model's limit of"
            f" {max_chars:,}; split the document before sending it"
        )
