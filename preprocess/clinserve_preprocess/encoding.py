"""WordPiece encoding of texts into padded model inputs that keep character offsets.

Encoding follows Spark NLP's BERT classifiers: ``[CLS] pieces… [SEP]``, truncated to the
model's length, ``token_type_ids`` all zero. Each text is encoded once; the model sequences are
then cut from its word-pieces according to the request's *mode*:

- ``whole``: one sequence per text, truncated (the result says how many pieces were dropped);
- ``sentences`` / ``document``: one sequence per sentence, each truncated;
- ``windows``: overlapping windows over the whole text, so no piece is dropped;
- ``sentence_windows``: overlapping windows inside each sentence.

Each request is padded to a *length bucket* rather than to its own length or to the model
maximum: Triton's dynamic batcher only merges requests whose shapes are equal, so a few fixed
lengths let concurrent requests share one ONNX execution while short texts do not pay for
512 positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from clinserve_preprocess.sentences import split_sentences

DEFAULT_BUCKETS: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
# Marks positions that belong to no word: [CLS], [SEP] and padding.
NO_WORD = -1
# How the pieces of a text become model sequences (see the module docstring).
SEGMENTATIONS = ("whole", "sentences", "windows", "sentence_windows")


def bucket_length(length: int, max_tokens: int, buckets: Sequence[int] = DEFAULT_BUCKETS) -> int:
    """Smallest bucket that holds ``length`` tokens, never more than ``max_tokens``."""
    for bucket in buckets:
        if length <= bucket <= max_tokens:
            return bucket
    return max_tokens


def window_ranges(count: int, size: int, overlap: int) -> list[tuple[int, int]]:
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


@dataclass(frozen=True)
class TextPieces:
    """The word-pieces of one whole text (no special tokens)."""

    ids: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int32]
    word_ids: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def range_within(self, begin: int, end: int) -> tuple[int, int]:
        """Indices ``[first, last)`` of the pieces that lie inside characters ``[begin, end)``."""
        starts = self.offsets[:, 0]
        return int(np.searchsorted(starts, begin, "left")), int(np.searchsorted(starts, end, "left"))


@dataclass(frozen=True)
class EncodedBatch:
    """Model inputs for S sequences drawn from one request's texts.

    Attributes:
        input_ids: int64 [S, L] word-piece ids, padded with the pad id.
        attention_mask: int64 [S, L], 1 on real tokens.
        token_type_ids: int64 [S, L], all zero (single-segment input).
        token_offsets: int32 [S, L, 2] ``(begin, end)`` of each piece in the original text;
            ``(0, 0)`` on special and padding positions.
        word_ids: int32 [S, L] index of the word a piece belongs to (counted over the whole
            text), ``NO_WORD`` elsewhere.
        sequence_text_index: int32 [S] which request text each sequence came from.
        sequence_segment: int32 [S] which segment (sentence, or 0 for the whole text) of its
            text each sequence came from.
        sequence_spans: int32 [S, 2] character span of the sequence's segment in its text.
        sequence_pieces: int32 [S, 2] range of the text's word-pieces the sequence holds.
        dropped_tokens: int32 [S] word pieces of the segment cut off by truncation.
    """

    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]
    token_type_ids: npt.NDArray[np.int64]
    token_offsets: npt.NDArray[np.int32]
    word_ids: npt.NDArray[np.int32]
    sequence_text_index: npt.NDArray[np.int32]
    sequence_segment: npt.NDArray[np.int32]
    sequence_spans: npt.NDArray[np.int32]
    sequence_pieces: npt.NDArray[np.int32]
    dropped_tokens: npt.NDArray[np.int32]

    @property
    def num_sequences(self) -> int:
        """S, the number of encoded sequences."""
        return int(self.input_ids.shape[0])

    @property
    def padded_tokens(self) -> int:
        """S × L, the positions the model will compute."""
        return int(self.input_ids.size)


@dataclass(frozen=True)
class _Plan:
    """One model sequence: text, segment, its character span and its piece range."""

    text: int
    segment: int
    span: tuple[int, int]
    pieces: tuple[int, int]
    dropped: int


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
        """Word-pieces of each whole text, with character offsets and word indices."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        result = []
        for encoding in encodings:
            count = len(encoding.ids)
            result.append(
                TextPieces(
                    ids=np.asarray(encoding.ids, dtype=np.int64),
                    offsets=np.asarray(encoding.offsets, dtype=np.int32).reshape(count, 2),
                    word_ids=np.asarray(
                        [NO_WORD if w is None else w for w in encoding.word_ids], dtype=np.int32
                    ),
                )
            )
        return result

    def plan(self, texts: Sequence[str], pieces: Sequence[TextPieces], segmentation: str) -> list[_Plan]:
        """Decide which pieces go into which model sequence."""
        if segmentation not in SEGMENTATIONS:
            raise ValueError(f"unknown segmentation {segmentation!r}; expected one of {SEGMENTATIONS}")
        budget = self.window_size
        plans: list[_Plan] = []
        for index, (text, text_pieces) in enumerate(zip(texts, pieces, strict=True)):
            if segmentation in ("whole", "windows"):
                segments = [((0, len(text)), (0, len(text_pieces)))]
            else:
                segments = [((b, e), text_pieces.range_within(b, e)) for b, e in split_sentences(text)]
            for segment, (span, (first, last)) in enumerate(segments):
                if segmentation.endswith("windows"):
                    for start, end in window_ranges(last - first, budget, self.window_overlap):
                        plans.append(_Plan(index, segment, span, (first + start, first + end), 0))
                else:
                    kept = min(last - first, budget)
                    plans.append(_Plan(index, segment, span, (first, first + kept), last - first - kept))
        return plans

    def encode(self, texts: Sequence[str], *, segmentation: str = "whole") -> EncodedBatch:
        """Encode texts into model sequences.

        Args:
            texts: Already validated texts.
            segmentation: One of ``SEGMENTATIONS``.
        """
        pieces = self.pieces(texts)
        plans = self.plan(texts, pieces, segmentation)
        longest = max((p.pieces[1] - p.pieces[0] for p in plans), default=0)
        length = bucket_length(longest + 2, self.max_tokens, self.buckets)
        count = len(plans)

        input_ids = np.full((count, length), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((count, length), dtype=np.int64)
        token_offsets = np.zeros((count, length, 2), dtype=np.int32)
        word_ids = np.full((count, length), NO_WORD, dtype=np.int32)
        for row, plan in enumerate(plans):
            source = pieces[plan.text]
            first, last = plan.pieces
            kept = last - first
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : kept + 1] = source.ids[first:last]
            input_ids[row, kept + 1] = self.sep_id
            attention_mask[row, : kept + 2] = 1
            token_offsets[row, 1 : kept + 1] = source.offsets[first:last]
            word_ids[row, 1 : kept + 1] = source.word_ids[first:last]

        def column(values: list[int] | list[tuple[int, int]], width: int = 0) -> npt.NDArray[np.int32]:
            shape = (count, width) if width else (count,)
            return np.asarray(values, dtype=np.int32).reshape(shape)

        return EncodedBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=np.zeros((count, length), dtype=np.int64),
            token_offsets=token_offsets,
            word_ids=word_ids,
            sequence_text_index=column([p.text for p in plans]),
            sequence_segment=column([p.segment for p in plans]),
            sequence_spans=column([p.span for p in plans], 2),
            sequence_pieces=column([p.pieces for p in plans], 2),
            dropped_tokens=column([p.dropped for p in plans]),
        )
