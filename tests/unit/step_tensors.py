"""Tensors as the tokenizer and ONNX steps hand them to the post-processor, for unit tests.

The bookkeeping comes from the real encoder (``TextEncoder.encode``), so the tests that use it
pin the contract between the steps rather than a hand-made copy of it; only the logits are made
up, to steer the decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from tokenizers import Tokenizer

from clinserve_ensemble.results import SequenceOutputs
from clinserve_preprocess.contract import SequenceColumn, Step, consumed_by
from clinserve_preprocess.encoding import EncodedBatch, TextEncoder
from clinserve_preprocess.modes import Mode

STRONG = 8.0


def encode(tokenizer: Tokenizer, texts: Sequence[str], mode: Mode, *, max_tokens: int = 128) -> EncodedBatch:
    """The tokenizer step's outputs for one request."""
    encoder = TextEncoder(tokenizer, max_tokens)
    return encoder.encode(texts, segmentation=mode.segmentation, quote_text=mode.quotes_text)


def outputs(batch: EncodedBatch, logits: ArrayLike, *, token_level: bool) -> SequenceOutputs:
    """What the post-processor receives: the batch's tensors it consumes, and ``logits``."""
    names = [t.name for t in consumed_by(Step.POSTPROCESS, token_level=token_level) if t.name != "logits"]
    return SequenceOutputs(
        logits=np.asarray(logits, dtype=np.float32), **{n: getattr(batch, n) for n in names}
    )


def tag_logits(
    batch: EncodedBatch, labels: Sequence[str], tags: Mapping[tuple[int, int], str], *, default: str = "O"
) -> np.ndarray:
    """Token logits that give every piece of word ``(text, word)`` the tag ``tags[(text, word)]``."""
    rows, length = batch.word_ids.shape
    logits = np.zeros((rows, length, len(labels)), dtype=np.float32)
    for row in range(rows):
        text = int(batch.sequence_info[row, SequenceColumn.TEXT])
        for position in range(length):
            word = int(batch.word_ids[row, position])
            tag = tags.get((text, word), default) if word >= 0 else default
            logits[row, position, labels.index(tag)] = STRONG
    return logits
