"""Where a long document may be cut, and the parts it is sent in.

A document that one request cannot carry is sent as *parts*, each a slice ``text[begin:end]``.
Two kinds of cut keep the merged answer equal to the one a single request would give:

- a **blank line** (a paragraph break): the server's sentence splitter always ends a sentence
  there and decides nothing across it, so the parts on either side are split exactly as the
  whole text would be (``tests/unit/test_client_splitting.py`` checks this against the server's
  splitter);
- otherwise a cut **after whitespace**, where word-pieces never cross (BERT splits words on
  whitespace first), with the next part starting ``overlap`` characters earlier, so that the
  merge can decide the overlap from both sides (see :mod:`clinserve.merging`).

The planner hands out parts lazily, one at a time, so a document of any size costs the client
no more than the parts in flight; :meth:`PartPlanner.restart` goes back to a position when the
merge or the server asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinserve.errors import InvalidInputError

__all__ = ["Part", "PartPlanner", "paragraph_cut", "whitespace_cut"]

# The server's paragraph break (clinserve_preprocess.sentences._BLANK_LINES, written without
# possessive quantifiers for Python 3.9; it matches the same runs): a line break followed by
# one or more lines that hold only whitespace.
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
_WHITESPACE_RUN = re.compile(r"\s+")
# How far back from the preferred end a whitespace cut is first looked for (a wider search
# follows only when this window has none).
_NEAR_WINDOW = 2000


def paragraph_cut(text: str, low: int, high: int) -> int | None:
    """The last cut at a blank line in ``(low, high]``, or ``None``.

    The cut is at the end of the blank-line run (the start of the next paragraph), or at
    ``high`` when the run goes on past it: anywhere inside a run of blank lines is a cut the
    server makes too.
    """
    last = None
    for match in _BLANK_LINES.finditer(text, low, high):
        last = match
    if last is None:
        return None
    full = _BLANK_LINES.match(text, last.start())
    end = full.end() if full is not None else last.end()
    cut = min(end, high)
    return cut if cut > low else None


def whitespace_cut(text: str, low: int, high: int) -> int | None:
    """The last position in ``(low, high]`` right after whitespace, or ``None`` when there is none.

    Near ``high`` (within ``_NEAR_WINDOW`` characters) a line break is preferred to a space, so
    that hard-wrapped lines stay whole; farther back, the nearest whitespace is taken.
    """
    start = max(low, high - _NEAR_WINDOW)
    newline = text.rfind("\n", start, high)
    if newline >= 0 and newline + 1 > low:
        return newline + 1
    while True:
        last = None
        for match in _WHITESPACE_RUN.finditer(text, start, high):
            last = match
        if last is not None and last.end() > low:
            return last.end()
        if start == low:
            return None
        start = max(low, start - 8 * _NEAR_WINDOW)


@dataclass(frozen=True)
class Part:
    """A slice ``text[begin:end]`` of a document, sent as one request.

    Attributes:
        begin: Offset of the slice in the document.
        end: Offset after it.
        exact_begin: True when ``begin`` is where a sentence starts for a request over the whole
            document too (the document's start, a paragraph, a point the merge vouched for);
            False when the part starts inside the previous part's overlap or after a plain
            whitespace cut.
        next_begin: Where the next part starts when it overlaps this one (``None``: it starts
            at ``end``, or there is none).
        generation: Planner generation; parts planned before a restart are stale.
    """

    begin: int
    end: int
    exact_begin: bool
    next_begin: int | None
    generation: int

    def __len__(self) -> int:
        return self.end - self.begin


class PartPlanner:
    """Hands out the parts of one document in order.

    Args:
        text: The document.
        target: Longest part, in characters.
        overlap: Characters shared with the next part where no blank line can end a part;
            0 cuts after whitespace without overlap.
        paragraphs: Whether parts should end at blank lines when one is in reach.
    """

    def __init__(self, text: str, target: int, *, overlap: int, paragraphs: bool) -> None:
        if target < 1:
            raise ValueError(f"part target must be positive, got {target}")
        self.text = text
        self.target = target
        self.overlap = overlap
        self.paragraphs = paragraphs
        self.generation = 0
        self._position = 0
        self._exact = True
        self._next_target: int | None = None

    def overlap_for(self, size: int) -> int:
        """The overlap used for parts of ``size`` characters (at most a quarter of a part)."""
        return min(self.overlap, size // 4)

    def next_part(self) -> Part | None:
        """The next part, or ``None`` once the document is covered."""
        text, begin = self.text, self._position
        if begin >= len(text):
            return None
        target = self._next_target or self.target
        self._next_target = None
        exact = self._exact
        high = begin + target
        if high >= len(text):
            self._position = len(text)
            return Part(begin, len(text), exact, None, self.generation)
        low = begin + target // 4  # never a part so short that it is mostly overhead
        cut = paragraph_cut(text, low, high) if self.paragraphs else None
        if cut is not None:
            self._position, self._exact = cut, True
            return Part(begin, cut, exact, None, self.generation)
        end = _require_cut(whitespace_cut(text, low, high), text, low, high)
        overlap = self.overlap_for(end - begin)
        if not overlap:
            self._position, self._exact = end, False
            return Part(begin, end, exact, None, self.generation)
        next_begin = _require_cut(whitespace_cut(text, begin, end - overlap), text, begin, end - overlap)
        self._position, self._exact = next_begin, False
        return Part(begin, end, exact, next_begin, self.generation)

    def restart(self, position: int, *, exact: bool, target: int | None = None, once: bool = False) -> None:
        """Plan again from ``position``; parts planned before are stale from now on.

        Args:
            position: Where the next part starts.
            exact: Whether a sentence starts at ``position`` for the whole document too.
            target: New longest part (``None``: unchanged).
            once: Apply ``target`` to the next part only.
        """
        self.generation += 1
        self._position, self._exact = position, exact
        if target is not None:
            if once:
                self._next_target = target
            else:
                self.target = target


def _require_cut(cut: int | None, text: str, low: int, high: int) -> int:
    if cut is None:
        raise InvalidInputError(
            f"characters {low:,}-{high:,} of the text hold no whitespace: a document is split only"
            f" between words, so this text of {len(text):,} characters cannot be sent in parts"
        )
    return cut
