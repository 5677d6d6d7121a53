"""One document longer than a request can carry: its parts, their answers, the merged result.

:class:`DocumentRun` is the pure logic both clients drive: it plans the parts
(:mod:`clinserve.splitting`), takes their results in order, shrinks the parts when the server
refuses one as too large, and merges (:mod:`clinserve.merging`). The clients only send the
requests, a few at a time, and hand the answers back in document order.

How large a part is: at most the model's published ``max_text_chars`` (and the caller's
``ChannelOptions.max_document_chars``); within that, an estimate from the published sequence
and token-position limits at :data:`PLANNING_CHARS_PER_POSITION`. The word-pieces a text needs
are only known to the server: when it refuses a part, the part is planned again smaller, by
the share the server's counts say fits, and later parts keep the smaller size.
"""

from __future__ import annotations

from clinserve.errors import InvalidInputError, RequestTooLargeError
from clinserve.merging import (
    DocumentMerger,
    EntityMerger,
    EntitySentenceMerger,
    Merger,
    Restart,
    SentenceMerger,
    WholeMerger,
)
from clinserve.model_info import ModelInfo
from clinserve.results import Result
from clinserve.splitting import Part, PartPlanner

__all__ = [
    "DEFAULT_OVERLAP_CHARS",
    "FALLBACK_PART_CHARS",
    "MIN_PART_CHARS",
    "OPTIMISTIC_FACTOR",
    "PLANNING_CHARS_PER_POSITION",
    "REFUSAL_SAFETY",
    "DocumentRun",
    "document_limit",
    "estimated_part_chars",
    "first_part_chars",
    "part_limit",
]

#: Characters per token position assumed for the first part. Clinical English runs at 4 to 5
#: characters per word-piece; 2 leaves room for dense text (numbers, abbreviations) and for
#: padding. The server's refusal corrects a wrong guess.
PLANNING_CHARS_PER_POSITION = 2
#: Longest part when the server publishes no limits (an older server).
FALLBACK_PART_CHARS = 100_000
#: Characters two parts share where no blank line lets them meet exactly: several model
#: windows (128 word-pieces are about 500 characters), so that text near a join is read with
#: as much context as anywhere else.
DEFAULT_OVERLAP_CHARS = 4_000
#: Shortest part the client will plan; a server that refuses less is misconfigured.
MIN_PART_CHARS = 200
#: Share of the server's "what would fit" figure used for the next parts (density varies).
REFUSAL_SAFETY = 0.8
#: How much longer than the estimate a ``windows``-mode text may be and still be tried whole.
OPTIMISTIC_FACTOR = 2


def part_limit(info: ModelInfo, max_document_chars: int | None) -> int | None:
    """Longest text one request may carry: the model's and the caller's limits (``None``: unknown)."""
    limits = [v for v in (info.max_text_chars, max_document_chars) if v]
    return min(limits) if limits else None


def document_limit(info: ModelInfo, mode: str | None, max_document_chars: int | None) -> int | None:
    """Length above which a text is sent in parts from the start (``None``: only when refused).

    ``whole`` mode reads one sequence per text whatever its length: only the character limit
    applies. Per-sentence modes are split exactly (:mod:`clinserve.merging`), so a text that is
    probably too large is sent in parts at once rather than tried whole. Entities of parts may
    differ from one request's past the first join (each part aligns its own windows), so a
    ``windows`` text that might fit is tried whole first: up to :data:`OPTIMISTIC_FACTOR` times
    the estimate.
    """
    limit = part_limit(info, max_document_chars)
    effective = info.effective_mode(mode)
    if effective != "whole" and _has_request_limits(info):
        factor = OPTIMISTIC_FACTOR if effective == "windows" else 1
        estimate = estimated_part_chars(info) * factor
        limit = estimate if limit is None else min(limit, estimate)
    return limit


def _has_request_limits(info: ModelInfo) -> bool:
    return bool(info.max_padded_tokens_per_request or info.max_sequences_per_request)


def first_part_chars(length: int, refusal: RequestTooLargeError | None) -> int | None:
    """Length of the first parts of a text of ``length`` the server refused whole (``None``: estimate)."""
    if refusal is None or refusal.fit_fraction is None:
        return None
    return max(int(length * refusal.fit_fraction * REFUSAL_SAFETY), MIN_PART_CHARS)


def estimated_part_chars(info: ModelInfo) -> int:
    """The planned length of a part from the published request limits (see the module docstring)."""
    budgets = []
    if info.max_padded_tokens_per_request:
        budgets.append(info.max_padded_tokens_per_request)
    if info.max_sequences_per_request:
        budgets.append(info.max_sequences_per_request * info.max_tokens)
    if not budgets:
        return FALLBACK_PART_CHARS
    return min(budgets) * PLANNING_CHARS_PER_POSITION


class DocumentRun:
    """The parts of one document and their merge.

    Args:
        text: The document.
        info: The model.
        mode: The caller's mode (``None``: the model's default).
        max_document_chars: The caller's cap on one part (``ChannelOptions.max_document_chars``).
        first_target: Length of the first parts, when a refusal already told how much fits.
        overlap: Characters shared by overlapping parts.
    """

    def __init__(
        self,
        text: str,
        info: ModelInfo,
        mode: str | None,
        *,
        max_document_chars: int | None = None,
        first_target: int | None = None,
        overlap: int = DEFAULT_OVERLAP_CHARS,
    ) -> None:
        self.text = text
        self.mode = info.effective_mode(mode)
        self.max_part = part_limit(info, max_document_chars) or FALLBACK_PART_CHARS
        target = min(first_target or estimated_part_chars(info), self.max_part)
        merger: Merger
        if info.task == "token_classification" and self.mode == "windows":
            self.request_mode, merger = "windows", EntityMerger()
            self.planner = PartPlanner(text, target, overlap=overlap, paragraphs=False)
        elif info.task == "token_classification":
            # Entities per sentence: parts cut and joined at sentences, as the sentence modes are.
            self.request_mode, merger = "sentences", EntitySentenceMerger()
            self.planner = PartPlanner(text, target, overlap=overlap, paragraphs=True)
        elif self.mode == "whole":
            self.request_mode, merger = "whole", WholeMerger(len(text), kept=info.max_tokens - 2)
            # Half the limit: a part too short to count is sent again joined with its neighbour.
            self.planner = PartPlanner(text, min(target, self.max_part // 2), overlap=0, paragraphs=False)
        else:
            # sentences and document: parts are read per sentence; document averages at the end.
            self.request_mode = "sentences"
            merger = DocumentMerger() if self.mode == "document" else SentenceMerger()
            self.planner = PartPlanner(text, target, overlap=overlap, paragraphs=True)
        self.merger = merger

    def next_part(self) -> Part | None:
        """The next part to send, or ``None`` once the document is covered."""
        return self.planner.next_part()

    def is_current(self, part: Part) -> bool:
        """False for a part planned before a restart: its answer is not used."""
        return part.generation == self.planner.generation

    def part_text(self, part: Part) -> str | None:
        """The text to send for ``part``; ``None`` when it is only whitespace (nothing to send).

        Raises:
            InvalidInputError: When the text must be repeated to count its word-pieces (``whole``
                mode) and the repetitions would not fit one request.
        """
        text = self.text[part.begin : part.end]
        if not text.strip():
            return None
        copies = self.merger.copies_for(part) if isinstance(self.merger, WholeMerger) else 1
        if copies > 1:
            # Whitespace at the edges holds no word-piece; the copies are joined by a space, where
            # word-pieces split anyway, so k copies hold exactly k times the part's pieces.
            text = text.strip()
            if (len(text) + 1) * copies > self.max_part:
                raise InvalidInputError(
                    f"characters {part.begin:,}-{part.end:,} of the text hold too few word-pieces for"
                    " their length: they cannot be counted within one request's limit"
                )
            text = " ".join([text] * copies)
        return text

    def accept(self, part: Part, result: Result | None) -> None:
        """Take a current part's result, in document order."""
        restart = self.merger.accept(part, result)
        if restart is not None:
            self._restart(restart, part)

    def refused(self, part: Part, error: RequestTooLargeError) -> None:
        """The server refused ``part`` as too large: plan it again, and later parts, smaller.

        Raises:
            RequestTooLargeError: When the part is already as small as the client plans.
        """
        size = len(part) // 2
        if error.fit_fraction is not None:
            size = min(size, int(len(part) * error.fit_fraction * REFUSAL_SAFETY))
        if size < MIN_PART_CHARS:
            raise RequestTooLargeError(
                f"characters {part.begin:,}-{part.end:,} of the text are too large for one request"
                f" even in parts of {len(part):,} characters: {error.message}",
                status=error.status,
            ) from error
        self.planner.restart(part.begin, exact=part.exact_begin, target=size)

    def _restart(self, restart: Restart, part: Part) -> None:
        target = restart.target
        if target is not None and target > self.max_part:
            if target // 2 >= self.max_part:  # the part that asked to grow was already the longest
                raise InvalidInputError(
                    f"characters {restart.position:,}-{part.end:,} of the text hold no place to split"
                    f" within {self.max_part:,} characters (one request's limit): the text cannot be"
                    " sent in parts"
                )
            target = self.max_part
        self.planner.restart(restart.position, exact=restart.exact, target=target, once=target is not None)

    def result(self) -> Result:
        """The merged result, once every part was accepted."""
        return self.merger.finish()
