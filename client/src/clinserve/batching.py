"""Split a list of texts of any length into requests the server accepts, and put the answers back.

A request holds at most the model's ``max_texts_per_request`` texts. There is a second limit the
client cannot see in advance: the model sequences (sentences, windows of a long text) and padded
token positions one request may use, as the server splits the texts. When the server refuses a
request for that, it says how much it needed, and :func:`resplit` cuts the request into pieces
that should fit. A text longer than one request may carry (or refused even alone) is a
*document*: it is sent in parts of its own (:mod:`clinserve.documents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from clinserve.errors import InvalidInputError, RequestTooLargeError

__all__ = [
    "CallResults",
    "Chunk",
    "RequestPlan",
    "plan_requests",
    "resplit",
    "split",
    "validate_texts",
]

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
            raise InvalidInputError(_not_unicode(index, text, exc.start)) from exc
    return checked


def _not_unicode(index: int, text: str, position: int) -> str:
    code = ord(text[position])
    if 0xDC80 <= code <= 0xDCFF:
        # Python's "surrogateescape" keeps an undecodable byte as U+DC80..U+DCFF: the text was
        # read from bytes that are not UTF-8 (a file or stdin in another encoding).
        return (
            f"texts[{index}] is not valid UTF-8: character {position} stands for the byte"
            f" 0x{code - 0xDC00:02x}, which could not be decoded; read the input as UTF-8 (or convert"
            " it, e.g. with iconv)"
        )
    return (
        f"texts[{index}] is not valid Unicode text: character {position} is a lone surrogate"
        f" (U+{code:04X}), which has no UTF-8 encoding"
    )


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


@dataclass(frozen=True)
class RequestPlan:
    """How a call's texts are sent.

    Attributes:
        chunks: Requests of consecutive texts that fit one request each.
        documents: Indices of texts longer than one request may carry, sent in parts.
    """

    chunks: list[Chunk]
    documents: list[int]


def plan_requests(texts: Sequence[str], size: int, document_chars: int | None) -> RequestPlan:
    """Group ``texts`` into requests of at most ``size``, setting aside those over ``document_chars``.

    Args:
        texts: The call's texts, in order.
        size: Most texts per request.
        document_chars: Longest text one request may carry (``None``: no known limit).
    """
    chunks: list[Chunk] = []
    documents: list[int] = []
    run_start = 0
    for index, text in enumerate(texts):
        if document_chars is not None and len(text) > document_chars:
            chunks.extend(split(texts[run_start:index], size, start=run_start))
            documents.append(index)
            run_start = index + 1
    chunks.extend(split(texts[run_start:], size, start=run_start))
    return RequestPlan(chunks, documents)


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


class CallResults(Generic[T]):
    """The results of one call's texts as they arrive, in the caller's order.

    A request's result list may hold a :class:`RequestTooLargeError` for a text the server
    refused even alone: that text is then sent as a document (:meth:`documents`).
    """

    def __init__(self, total: int) -> None:
        self._slots: list[T | None] = [None] * total
        self._refused: dict[int, RequestTooLargeError] = {}

    def fill(self, chunk: Chunk, results: Sequence[T | RequestTooLargeError]) -> None:
        """Record a request's results (one per text of ``chunk``).

        Raises:
            ValueError: When the count differs from the chunk's (a bug, never ignored).
        """
        if len(results) != len(chunk):
            raise ValueError(
                f"texts {chunk.start}..{chunk.end - 1}: {len(results)} results for {len(chunk)} texts"
            )
        for index, result in enumerate(results, start=chunk.start):
            if isinstance(result, RequestTooLargeError):
                self._refused[index] = result
            else:
                self._slots[index] = result

    def documents(self, planned: Sequence[int]) -> list[tuple[int, RequestTooLargeError | None]]:
        """Texts to send in parts: those planned so, and those refused alone (with the refusal)."""
        indices = sorted(set(planned) | set(self._refused))
        return [(index, self._refused.get(index)) for index in indices]

    def set(self, index: int, result: T) -> None:
        """Record the result of a text sent as a document."""
        self._slots[index] = result
        self._refused.pop(index, None)

    def done(self) -> list[T]:
        """Every result, in order.

        Raises:
            ValueError: When a text got no result (a bug, never silently ignored).
        """
        missing = [i for i, slot in enumerate(self._slots) if slot is None]
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(self._slots)} texts got no result (the first: {missing[0]})"
            )
        return [slot for slot in self._slots if slot is not None]
