"""WordPiece encoding of texts into padded model inputs that keep character offsets.

Encoding follows Spark NLP's BERT classifiers: ``[CLS] pieces… [SEP]``, truncated to the
model's length, ``token_type_ids`` all zero. Each text is encoded once; the model sequences are
then cut from its word-pieces according to the request's segmentation
(:class:`~clinserve_preprocess.modes.Segmentation`):

- ``whole``: one sequence per text, truncated (the result says how many pieces were dropped);
- ``sentences``: one sequence per sentence, each truncated;
- ``windows``: overlapping windows over the whole text, so no piece is dropped;
- ``sentence_windows``: overlapping windows inside each sentence.

The work splits in three so that the tokenizer step can encode many requests at once: one
:meth:`TextEncoder.pieces` call for every text of every request (the expensive part, in Rust),
then per request a :meth:`TextEncoder.plan` (which pieces go into which sequence) and an
:meth:`TextEncoder.assemble` at a padded length. :meth:`TextEncoder.encode` does all three for
one request.

Each request is padded to a *length bucket* rather than to its own length or to the model
maximum: Triton's dynamic batcher only merges requests whose shapes are equal, so a few fixed
lengths let concurrent requests share one ONNX execution while short texts do not pay for
512 positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from clinserve_preprocess.contract import SEQUENCE_INFO_WIDTH, SequenceColumn
from clinserve_preprocess.modes import Segmentation
from clinserve_preprocess.sentences import split_sentences

DEFAULT_BUCKETS: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
# Marks positions that belong to no word: [CLS], [SEP] and padding.
NO_WORD = -1
Span = tuple[int, int]


def bucket_length(length: int, max_tokens: int, buckets: Sequence[int] = DEFAULT_BUCKETS) -> int:
    """Smallest bucket that holds ``length`` tokens, never more than ``max_tokens``."""
    for bucket in buckets:
        if length <= bucket <= max_tokens:
            return bucket
    return max_tokens


def window_ranges(count: int, size: int, overlap: int) -> list[Span]:
    """Piece ranges ``[start, end)`` of overlapping windows that cover ``count`` pieces.

    Consecutive windows share ``overlap`` pieces (fewer for the last one) so that every piece
    is seen with context on both sides by at least one window. Zero pieces give one empty window.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"window size {size} and overlap {overlap} must satisfy 0 <= overlap < size")
    if count <= size:
        return [(0, count)]
    step = size - overlap
    starts = [*range(0, count - size, step), count - size]
    return [(s, s + size) for s in starts]


def window_count(count: int, size: int, overlap: int) -> int:
    """``len(window_ranges(count, size, overlap))`` without building the list."""
    if count <= size:
        return 1
    step = size - overlap
    return -(-(count - size) // step) + 1


def merge_windows(windows: Sequence[Span]) -> list[Span]:
    """For overlapping windows (piece ranges, in order), the pieces each one answers for.

    A piece seen by two windows is taken from the one where it sits farther from an edge: the
    overlap is cut at its midpoint. Returns ``[first, last)`` piece ranges, one per window,
    that tile the covered pieces exactly once.
    """
    kept: list[Span] = []
    for i, (start, end) in enumerate(windows):
        first = start if i == 0 else (windows[i - 1][1] + start) // 2
        last = end if i == len(windows) - 1 else (windows[i + 1][0] + end) // 2
        if i and first < kept[-1][1]:
            first = kept[-1][1]
        kept.append((first, max(first, last)))
    return kept


class TextPieces:
    """The word-pieces of one whole text (no special tokens).

    ``ids`` are converted at once; offsets and word indices only when a step asks for them
    (a whole-text classification needs neither): the conversion from ``tokenizers``' lists
    costs more than the encoding of a short text.
    """

    def __init__(self, encoding: Encoding) -> None:
        self._encoding = encoding
        self.ids: npt.NDArray[np.int64] = np.asarray(encoding.ids, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @cached_property
    def offsets(self) -> npt.NDArray[np.int32]:
        """``(begin, end)`` of each piece in the text, [P, 2]."""
        offsets = np.asarray(self._encoding.offsets, dtype=np.int32).reshape(len(self), 2)
        # Fortran order keeps each column contiguous: range_within searches the starts.
        return np.asfortranarray(offsets)

    @cached_property
    def word_ids(self) -> npt.NDArray[np.int32]:
        """Index of the word each piece belongs to, [P]."""
        return np.asarray([NO_WORD if w is None else w for w in self._encoding.word_ids], dtype=np.int32)

    def range_within(self, begin: int, end: int) -> Span:
        """Indices ``[first, last)`` of the pieces that lie inside characters ``[begin, end)``."""
        starts = self.offsets[:, 0]  # contiguous: no copy per call
        return int(np.searchsorted(starts, begin, "left")), int(np.searchsorted(starts, end, "left"))

    def char_start(self, piece: int, default: int) -> int:
        """Character offset where piece ``piece`` starts (``default`` past the last piece)."""
        return int(self.offsets[piece, 0]) if piece < len(self) else default


@dataclass(frozen=True)
class SequencePlan:
    """One model sequence: which text, segment and pieces, and the text slice it carries."""

    text: int
    segment: int
    span: Span
    window: Span
    answer: Span
    dropped: int
    slice: Span

    def info_row(self) -> tuple[int, ...]:
        """The sequence's ``sequence_info`` row (columns of :class:`SequenceColumn`)."""
        return (
            self.text,
            self.segment,
            self.span[0],
            self.span[1],
            self.dropped,
            self.window[0],
            self.answer[0],
            self.answer[1],
            self.slice[0],
        )


@dataclass(frozen=True)
class EncodedBatch:
    """Model inputs for S sequences drawn from one request's texts.

    The fields are the tokenizer step's outputs (``clinserve_preprocess.contract``).

    Attributes:
        input_ids: int64 [S, L] word-piece ids, padded with the pad id.
        attention_mask: int64 [S, L], 1 on real tokens.
        token_type_ids: int64 [S, L], all zero (single-segment input).
        sequence_info: int32 [S, len(SequenceColumn)] per-sequence bookkeeping.
        sequence_text: object [S, 1] UTF-8 bytes: the slice of its text the sequence carries
            (empty unless the mode's results quote text).
        token_offsets: int32 [S, L, 2] ``(begin, end)`` of each piece in the original text;
            ``(0, 0)`` on special and padding positions.
        word_ids: int32 [S, L] index of the word a piece belongs to (counted over the whole
            text), ``NO_WORD`` elsewhere.
    """

    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]
    token_type_ids: npt.NDArray[np.int64]
    sequence_info: npt.NDArray[np.int32]
    sequence_text: npt.NDArray[np.object_]
    token_offsets: npt.NDArray[np.int32]
    word_ids: npt.NDArray[np.int32]

    @property
    def num_sequences(self) -> int:
        """S, the number of encoded sequences."""
        return int(self.input_ids.shape[0])

    @property
    def padded_tokens(self) -> int:
        """S × L, the positions the model will compute."""
        return int(self.input_ids.size)

    def column(self, column: SequenceColumn) -> npt.NDArray[np.int32]:
        """One column of ``sequence_info``, [S]."""
        return self.sequence_info[:, column]

    def window(self, row: int) -> Span:
        """The text's pieces ``[first, last)`` that sequence ``row`` holds."""
        first = int(self.sequence_info[row, SequenceColumn.WINDOW_START])
        return first, first + int(self.attention_mask[row].sum()) - 2


def padded_positions(
    plans: Sequence[SequencePlan], max_tokens: int, buckets: Sequence[int]
) -> tuple[int, int]:
    """``(sequences, padded length)`` a request of these plans is encoded at."""
    longest = max((p.window[1] - p.window[0] for p in plans), default=0)
    return len(plans), bucket_length(longest + 2, max_tokens, buckets)


class TextEncoder:
    """Turns texts into :class:`EncodedBatch` for one model's tokenizer and length."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        *,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
        window_overlap: int | None = None,
    ) -> None:
        """Wrap a loaded tokenizer.

        Args:
            tokenizer: A BERT WordPiece tokenizer; its own truncation and padding are
                switched off because this class does both, counting what it drops.
            max_tokens: Longest sequence including ``[CLS]`` and ``[SEP]``.
            buckets: Padding lengths to choose from.
            window_overlap: Pieces shared by consecutive windows; a quarter of a window by
                default, so each piece keeps at least an eighth of a window of context.
        """
        self._tokenizer = tokenizer
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.buckets = tuple(sorted(buckets))
        self.window_size = max_tokens - 2
        self.window_overlap = self.window_size // 4 if window_overlap is None else window_overlap
        window_ranges(0, self.window_size, self.window_overlap)  # validates the pair
        self.cls_id = self._require_token("[CLS]")
        self.sep_id = self._require_token("[SEP]")
        self.pad_id = self._require_token("[PAD]")

    @classmethod
    def from_file(
        cls, path: str | Path, max_tokens: int, *, buckets: Sequence[int] = DEFAULT_BUCKETS
    ) -> TextEncoder:
        """Load ``tokenizer.json`` written by the repository builder or an importer."""
        return cls(Tokenizer.from_file(str(path)), max_tokens, buckets=buckets)

    def _require_token(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"the tokenizer's vocabulary has no {token} token")
        return int(token_id)

    def pieces(self, texts: Sequence[str]) -> list[TextPieces]:
        """Word-pieces of each whole text, with character offsets and word indices (one call)."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [TextPieces(encoding) for encoding in encodings]

    def segments(self, text: str, segmentation: Segmentation) -> list[Span]:
        """Character spans of the segments of ``text``: its sentences, or the whole text."""
        return split_sentences(text) if segmentation.splits_sentences else [(0, len(text))]

    def plan(
        self,
        index: int,
        pieces: TextPieces,
        segments: Sequence[Span],
        segmentation: Segmentation,
        *,
        quote_text: bool = True,
    ) -> list[SequencePlan]:
        """Decide which pieces of text ``index`` go into which model sequence.

        Args:
            index: The text's position in its request.
            pieces: The text's word-pieces.
            segments: Its segments' character spans (:meth:`segments`).
            segmentation: How segments become sequences.
            quote_text: Whether the sequences carry their text slices (the mode's results quote
                text); without it every slice is empty.
        """
        budget = self.window_size
        plans: list[SequencePlan] = []
        for segment, span in enumerate(segments):
            # A whole text's segment holds every piece: no search.
            first, last = (
                (0, len(pieces)) if segmentation is Segmentation.WHOLE else pieces.range_within(*span)
            )
            if segmentation.windowed:
                windows = [
                    (first + s, first + e)
                    for s, e in window_ranges(last - first, budget, self.window_overlap)
                ]
                answers = merge_windows(windows)
            else:
                kept = min(last - first, budget)
                windows = answers = [(first, first + kept)]
            dropped = 0 if segmentation.windowed else last - first - windows[0][1] + windows[0][0]
            # The segment's text, cut where each sequence's answered pieces start: consecutive
            # slices, each exactly once, so the post-processor can quote any chunk of pieces.
            cuts = [span[0]]
            for answer in answers[1:]:
                cuts.append(max(cuts[-1], min(span[1], pieces.char_start(answer[0], span[1]))))
            cuts.append(span[1])
            for window, answer, begin, end in zip(windows, answers, cuts, cuts[1:], strict=False):
                text_slice = (begin, end) if quote_text else (begin, begin)
                plans.append(SequencePlan(index, segment, span, window, answer, dropped, text_slice))
        return plans

    def assemble(
        self,
        texts: Sequence[str],
        pieces: Sequence[TextPieces],
        plans: Sequence[SequencePlan],
        length: int,
        *,
        token_outputs: bool = True,
    ) -> EncodedBatch:
        """Pad the planned sequences of one request to ``length`` positions.

        Without ``token_outputs`` (a sequence classifier's request, which does not ask for
        them) ``token_offsets`` and ``word_ids`` are left empty, ``[S, 0, 2]`` and ``[S, 0]``.
        """
        count = len(plans)
        width = length if token_outputs else 0
        input_ids = np.full((count, length), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((count, length), dtype=np.int64)
        token_offsets = np.zeros((count, width, 2), dtype=np.int32)
        word_ids = np.full((count, width), NO_WORD, dtype=np.int32)
        sequence_text = np.empty((count, 1), dtype=np.object_)
        for row, plan in enumerate(plans):
            source = pieces[plan.text]
            first, last = plan.window
            kept = last - first
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : kept + 1] = source.ids[first:last]
            input_ids[row, kept + 1] = self.sep_id
            attention_mask[row, : kept + 2] = 1
            if token_outputs:
                token_offsets[row, 1 : kept + 1] = source.offsets[first:last]
                word_ids[row, 1 : kept + 1] = source.word_ids[first:last]
            begin, end = plan.slice
            sequence_text[row, 0] = texts[plan.text][begin:end].encode("utf-8")
        info = np.asarray([p.info_row() for p in plans], dtype=np.int32).reshape(count, SEQUENCE_INFO_WIDTH)
        return EncodedBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=np.zeros((count, length), dtype=np.int64),
            sequence_info=info,
            sequence_text=sequence_text,
            token_offsets=token_offsets,
            word_ids=word_ids,
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        segmentation: Segmentation | str = Segmentation.WHOLE,
        quote_text: bool = True,
    ) -> EncodedBatch:
        """Encode the texts of one request into model sequences at their bucket length.

        Args:
            texts: Already validated texts.
            segmentation: A :class:`Segmentation` (or its value).
            quote_text: Whether sequences carry their text slices (see :meth:`plan`).
        """
        segmentation = Segmentation(segmentation)
        pieces = self.pieces(texts)
        plans = [
            plan
            for index, (text, text_pieces) in enumerate(zip(texts, pieces, strict=True))
            for plan in self.plan(
                index, text_pieces, self.segments(text, segmentation), segmentation, quote_text=quote_text
            )
        ]
        _, length = padded_positions(plans, self.max_tokens, self.buckets)
        return self.assemble(texts, pieces, plans, length)
