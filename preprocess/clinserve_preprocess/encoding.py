"""WordPiece encoding of texts into padded model inputs that keep character offsets.

Encoding follows Spark NLP's BERT classifiers: ``[CLS] pieces… [SEP]``, truncated to the
model's length, ``token_type_ids`` all zero. Each request is padded to a *length bucket*
rather than to its own length or to the model maximum: Triton's dynamic batcher only merges
requests whose shapes are equal, so a few fixed lengths let concurrent requests share one
ONNX execution while short texts do not pay for 512 positions.
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


def bucket_length(length: int, max_tokens: int, buckets: Sequence[int] = DEFAULT_BUCKETS) -> int:
    """Smallest bucket that holds ``length`` tokens, never more than ``max_tokens``."""
    for bucket in buckets:
        if length <= bucket <= max_tokens:
            return bucket
    return max_tokens


@dataclass(frozen=True)
class EncodedBatch:
    """Model inputs for S sequences drawn from one request's texts.

    Attributes:
        input_ids: int64 [S, L] word-piece ids, padded with the pad id.
        attention_mask: int64 [S, L], 1 on real tokens.
        token_type_ids: int64 [S, L], all zero (single-segment input).
        token_offsets: int32 [S, L, 2] ``(begin, end)`` of each piece in the original text;
            ``(0, 0)`` on special and padding positions.
        word_ids: int32 [S, L] index of the word a piece belongs to, ``NO_WORD`` elsewhere.
        sequence_text_index: int32 [S] which request text each sequence came from.
        sequence_spans: int32 [S, 2] character span of the sequence's source in its text.
        dropped_tokens: int32 [S] word pieces cut off by truncation.
    """

    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]
    token_type_ids: npt.NDArray[np.int64]
    token_offsets: npt.NDArray[np.int32]
    word_ids: npt.NDArray[np.int32]
    sequence_text_index: npt.NDArray[np.int32]
    sequence_spans: npt.NDArray[np.int32]
    dropped_tokens: npt.NDArray[np.int32]

    @property
    def num_sequences(self) -> int:
        """S, the number of encoded sequences."""
        return int(self.input_ids.shape[0])


class TextEncoder:
    """Turns texts into :class:`EncodedBatch` for one model's tokenizer and length."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        *,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
    ) -> None:
        """Wrap a loaded tokenizer.

        Args:
            tokenizer: A BERT WordPiece tokenizer; its own truncation and padding are
                switched off because this class does both, counting what it drops.
            max_tokens: Longest sequence including ``[CLS]`` and ``[SEP]``.
            buckets: Padding lengths to choose from.
        """
        self._tokenizer = tokenizer
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.buckets = tuple(sorted(buckets))
        self.cls_id = self._require_token("[CLS]")
        self.sep_id = self._require_token("[SEP]")
        self.pad_id = self._require_token("[PAD]")

    @classmethod
    def from_file(cls, path: str | Path, max_tokens: int, **kwargs: Sequence[int]) -> TextEncoder:
        """Load ``tokenizer.json`` written by the repository builder or an importer."""
        return cls(Tokenizer.from_file(str(path)), max_tokens, **kwargs)

    def _require_token(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"the tokenizer's vocabulary has no {token} token")
        return int(token_id)

    def segments(self, texts: Sequence[str], *, per_sentence: bool) -> list[tuple[int, int, int]]:
        """``(text_index, begin, end)`` of every sequence to encode, in order."""
        if not per_sentence:
            return [(i, 0, len(text)) for i, text in enumerate(texts)]
        return [(i, b, e) for i, text in enumerate(texts) for b, e in split_sentences(text)]

    def encode(self, texts: Sequence[str], *, per_sentence: bool = False) -> EncodedBatch:
        """Encode texts, one sequence per text or one per sentence.

        Args:
            texts: Already validated texts.
            per_sentence: Split each text into sentences and encode each on its own.
        """
        segments = self.segments(texts, per_sentence=per_sentence)
        pieces = self._tokenizer.encode_batch(
            [texts[i][b:e] for i, b, e in segments], add_special_tokens=False
        )
        budget = self.max_tokens - 2
        kept = [min(len(p.ids), budget) for p in pieces]
        length = bucket_length(max(kept, default=0) + 2, self.max_tokens, self.buckets)
        count = len(segments)

        input_ids = np.full((count, length), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((count, length), dtype=np.int64)
        token_offsets = np.zeros((count, length, 2), dtype=np.int32)
        word_ids = np.full((count, length), NO_WORD, dtype=np.int32)
        dropped = np.zeros(count, dtype=np.int32)
        for row, ((_, begin, _), encoding, keep) in enumerate(zip(segments, pieces, kept, strict=True)):
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : keep + 1] = encoding.ids[:keep]
            input_ids[row, keep + 1] = self.sep_id
            attention_mask[row, : keep + 2] = 1
            if keep:
                token_offsets[row, 1 : keep + 1] = np.asarray(encoding.offsets[:keep]) + begin
                words = [NO_WORD if w is None else w for w in encoding.word_ids[:keep]]
                word_ids[row, 1 : keep + 1] = words
            dropped[row] = len(encoding.ids) - keep

        return EncodedBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=np.zeros((count, length), dtype=np.int64),
            token_offsets=token_offsets,
            word_ids=word_ids,
            sequence_text_index=np.asarray([s[0] for s in segments], dtype=np.int32),
            sequence_spans=np.asarray([s[1:] for s in segments], dtype=np.int32).reshape(count, 2),
            dropped_tokens=dropped,
        )
