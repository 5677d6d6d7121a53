"""Split a list of texts of any length into requests the server accepts, and put the answers back.

A request holds at most the model's ``max_texts_per_request`` texts. There is a second limit the
client cannot see in advance: the model sequences (sentences, windows of a long text) and padded
token positions one request may use, as the server splits the texts. When the server refuses a
request for that, it says how much it needed, and :func:`resplit` cuts the request into pieces
that should fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from clinserve.errors import InvalidInputError, RequestTooLargeError

__all__ = ["Chunk", "reassemble", "resplit", "split", "validate_texts"]

T = TypeVar("T")


@dataclass(frozen=True)
class Chunk:
    """Consecutive texts sent as one request.

    Attributes:
        start: Index of the first text in the caller's list.
        texts: The texts.
    """

    start: int
    texts: tuple[str, ...]

    @property
    def end(self) -> int:
        """Index after the last text."""
        return self.start + len(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def validate_texts(texts: Sequence[str], *, start: int = 0) -> list[str]:
    """Check what the caller passed before anything goes on the wire.

    The server validates too (length, encoding); this catches what is cheaper to report here,
    with the index in the caller's own list (``start`` is the index of ``texts[0]`` there).

    Raises:
        InvalidInputError: For a bare string (a list is needed), a non-string item, an empty or
            whitespace-only text, or text that cannot be encoded as UTF-8.
    """
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError("texts must be a list of strings, not a single string: wrap it as [text]")
    checked = list(texts)
    for index, text in enumerate(checked, start=start):
        if not isinstance(text, str):
            raise InvalidInputError(f"texts[{index}] is {type(text).__name__}, not str")
        if not text.strip():
            raise InvalidInputError(
                f"texts[{index}] is empty or whitespace only: there is nothing to classify"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"texts[{index}] cannot be encoded as UTF-8 (character {exc.start}: {exc.reason})"
            ) from exc
    return checked


def split(texts: Sequence[str], size: int, start: int = 0) -> list[Chunk]:
    """Cut ``texts`` into consecutive chunks of at most ``size`` texts.

    Args:
        texts: The texts, in the caller's order.
        size: Most texts per chunk (at least 1).
        start: Index of ``texts[0]`` in the caller's list.
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [Chunk(start + i, tuple(texts[i : i + size])) for i in range(0, len(texts), size)]


def resplit(chunk: Chunk, error: RequestTooLargeError) -> list[Chunk]:
    """Smaller chunks after the server refused ``chunk`` as too large for one request.

    The new size scales the chunk by the share the server's counts say would fit (at most half
    the chunk, so progress is guaranteed even when the counts are missing).

    Raises:
        RequestTooLargeError: When the chunk is a single text: it cannot be made smaller.
    """
    if len(chunk) <= 1:
        raise RequestTooLargeError(
            f"texts[{chunk.start}] alone is too large for one request: {error.message}", status=error.status
        ) from error
    size = len(chunk) // 2
    if error.fit_fraction is not None:
        size = min(size, int(len(chunk) * error.fit_fraction))
    return split(chunk.texts, max(size, 1), start=chunk.start)


def reassemble(total: int, parts: Iterable[tuple[Chunk, Sequence[T]]]) -> list[T]:
    """Put per-chunk results back in the caller's order.

    Raises:
        ValueError: When a chunk's result count differs from its text count, or a text got no
            result (a bug, never silently ignored).
    """
    slots: list[T | None] = [None] * total
    filled = 0
    for chunk, results in parts:
        if len(results) != len(chunk):
            raise ValueError(
                f"texts {chunk.start}..{chunk.end - 1}: {len(results)} results for {len(chunk)} texts"
            )
        slots[chunk.start : chunk.end] = results
        filled += len(results)
    if filled != total or any(slot is None for slot in slots):
        raise ValueError(f"{total - filled} of {total} texts got no result")
    return [slot for slot in slots if slot is not None]
