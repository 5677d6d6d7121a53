"""Probabilities to labels and entity chunks, with Spark NLP's semantics.

- Single-label: argmax label plus every label's score.
- Multi-label: every label whose score is strictly greater than the threshold.
- Token classification: a word takes the tag of its first word-piece; chunks follow Spark
  NLP's ``NerConverter``: a chunk starts on ``B-X`` (or a stray ``I-X``), extends over the
  following ``I-*`` words, and ends on ``B-*`` or ``O``; its type is the starting tag's; its
  confidence is the mean over its words of the predicted tag's probability. ``PAD`` counts as
  ``O`` and never forms an entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

OUTSIDE_TAGS = frozenset({"O", "PAD"})


Scores = Sequence[float] | npt.NDArray[np.floating[Any]]


def _floats(probs: Scores) -> list[float]:
    # One conversion per row: Python floats index and compare far faster than numpy scalars,
    # and float32 -> float is exact, so the JSON is the same.
    return probs.tolist() if isinstance(probs, np.ndarray) else [float(p) for p in probs]


def label_scores(probs: Scores, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Every label with its score, in the model's label order."""
    return [{"label": label, "score": p} for label, p in zip(labels, _floats(probs), strict=True)]


def single_label(probs: Scores, labels: Sequence[str]) -> dict[str, Any]:
    """The winning label, its score, and all scores (ties go to the first label)."""
    values = _floats(probs)
    best = max(range(len(values)), key=values.__getitem__)  # the first of equal maxima
    return {"label": labels[best], "score": values[best], "scores": label_scores(values, labels)}


def multi_label(probs: Scores, labels: Sequence[str], threshold: float) -> dict[str, Any]:
    """Labels scoring above ``threshold``, highest first (ties in label order), plus all scores."""
    values = _floats(probs)
    chosen = [i for i in sorted(range(len(values)), key=lambda i: -values[i]) if values[i] > threshold]
    return {
        "labels": [{"label": labels[i], "score": values[i]} for i in chosen],
        "threshold": threshold,
        "scores": label_scores(values, labels),
    }


@dataclass(frozen=True)
class TaggedWord:
    """A word of the original text with the tag of its first word-piece."""

    begin: int
    end: int
    tag: str
    probability: float


def tag_words(
    tag_probs: npt.NDArray[np.floating[Any]],
    word_ids: npt.NDArray[np.integer[Any]],
    offsets: npt.NDArray[np.integer[Any]],
    labels: Sequence[str],
) -> list[TaggedWord]:
    """Collapse word-pieces to words.

    Args:
        tag_probs: [L, C] per-piece tag probabilities.
        word_ids: [L] word index of each piece, negative for special and padding positions.
        offsets: [L, 2] character span of each piece in the original text.
        labels: Tag names by index.

    Returns:
        Words in order; each spans from its first piece's begin to its last piece's end.
    """
    best = np.argmax(tag_probs, axis=-1)
    words: list[TaggedWord] = []
    previous = -1
    for position in np.flatnonzero(word_ids >= 0):
        word = int(word_ids[position])
        begin, end = int(offsets[position, 0]), int(offsets[position, 1])
        if word != previous:
            tag = int(best[position])
            words.append(TaggedWord(begin, end, labels[tag], float(tag_probs[position, tag])))
            previous = word
        else:
            last = words[-1]
            words[-1] = TaggedWord(last.begin, end, last.tag, last.probability)
    return words


def bio_chunks(
    words: Sequence[TaggedWord], text: str, sentence: int, *, offset: int = 0
) -> list[dict[str, Any]]:
    """Group tagged words into entity chunks (NerConverter semantics).

    Args:
        words: Tagged words, offsets into the original text.
        text: The part of the original text that holds the words, starting at ``offset``.
        sentence: Sentence index every chunk carries.
        offset: Where ``text`` starts in the original text.

    Raises:
        ValueError: When a chunk falls outside ``text`` (inconsistent inputs).
    """
    chunks: list[dict[str, Any]] = []
    current: list[TaggedWord] = []
    entity = ""

    def flush() -> None:
        begin, end = current[0].begin, current[-1].end
        if begin < offset or end - offset > len(text):
            raise ValueError(
                f"entity [{begin}, {end}) lies outside its text [{offset}, {offset + len(text)})"
            )
        chunks.append(
            {
                "entity": entity,
                "text": text[begin - offset : end - offset],
                "begin": begin,
                "end": end,
                "confidence": float(np.mean([w.probability for w in current])),
                "sentence": sentence,
            }
        )

    for word in words:
        tag = word.tag
        if current and (tag.startswith("B-") or tag in OUTSIDE_TAGS):
            flush()
            current = []
        if tag in OUTSIDE_TAGS:
            continue
        if not current:
            entity = tag[2:]
        current.append(word)
    if current:
        flush()
    return chunks
