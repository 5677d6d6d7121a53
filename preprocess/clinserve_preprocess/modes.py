"""Per-request modes: how a text becomes model sequences and how their outputs combine.

The one table of modes. A caller picks a mode with the request parameter ``mode`` (Triton
forwards request parameters from the ensemble to every step, so the tokenizer and the
post-processor read the same value); the catalog's task and ``per_sentence`` decide the default.

Sequence classifiers:
    ``whole``      one prediction for the text, truncated to the model length (the result says
                   how many word-pieces were dropped);
    ``sentences``  one prediction per sentence, with its character span;
    ``document``   one prediction for the text: the average of its sentences' scores (Spark NLP's
                   ``coalesceSentences``).
Token classifiers:
    ``windows``    overlapping windows over the whole text; no word-piece is dropped;
    ``sentences``  the same inside each sentence; entities carry their sentence index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from clinserve_preprocess.validation import InputError, InputErrorKind

MODE_PARAMETER = "mode"


class Segmentation(StrEnum):
    """How the word-pieces of one text are cut into model sequences."""

    #: One sequence per text, truncated to the model length.
    WHOLE = "whole"
    #: One sequence per sentence, each truncated.
    SENTENCES = "sentences"
    #: Overlapping windows over the whole text: no piece is dropped.
    WINDOWS = "windows"
    #: Overlapping windows inside each sentence.
    SENTENCE_WINDOWS = "sentence_windows"

    @property
    def splits_sentences(self) -> bool:
        """Whether the text is split into sentences first."""
        return self in (Segmentation.SENTENCES, Segmentation.SENTENCE_WINDOWS)

    @property
    def windowed(self) -> bool:
        """Whether a segment becomes overlapping windows instead of one truncated sequence."""
        return self in (Segmentation.WINDOWS, Segmentation.SENTENCE_WINDOWS)


class Combination(StrEnum):
    """How the outputs of a text's sequences become its result."""

    #: The text's one sequence gives its label and scores.
    SINGLE = "single"
    #: Each sentence's sequence gives that sentence's prediction.
    PER_SENTENCE = "per_sentence"
    #: The text's scores are the mean of its sentences' scores.
    SENTENCE_MEAN = "sentence_mean"
    #: Token tags over every sequence become entity chunks.
    ENTITIES = "entities"


@dataclass(frozen=True)
class Mode:
    """One request mode: its segmentation and how its outputs combine."""

    name: str
    segmentation: Segmentation
    combination: Combination

    @property
    def quotes_text(self) -> bool:
        """Whether the results quote the text (sentence texts, entity texts).

        Only then does the tokenizer send the text on to the post-processor.
        """
        return self.combination in (Combination.PER_SENTENCE, Combination.ENTITIES)


CLASSIFIER_MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("whole", Segmentation.WHOLE, Combination.SINGLE),
        Mode("sentences", Segmentation.SENTENCES, Combination.PER_SENTENCE),
        Mode("document", Segmentation.SENTENCES, Combination.SENTENCE_MEAN),
    )
}
TOKEN_MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("windows", Segmentation.WINDOWS, Combination.ENTITIES),
        Mode("sentences", Segmentation.SENTENCE_WINDOWS, Combination.ENTITIES),
    )
}


def modes_for(token_level: bool) -> dict[str, Mode]:
    """The modes a model accepts, by name."""
    return TOKEN_MODES if token_level else CLASSIFIER_MODES


def default_mode(*, token_level: bool, per_sentence: bool) -> str:
    """The mode used when a request names none (the catalog's ``per_sentence`` decides)."""
    if token_level:
        return "windows"
    return "sentences" if per_sentence else "whole"


_ABSENT = object()


@lru_cache(maxsize=256)
def _mode_parameter(parameters_json: str) -> object:
    """The ``mode`` of a request's parameters (``_ABSENT`` when none).

    Cached: a server sees few distinct parameter strings, each parsed once.
    """
    try:
        parameters = json.loads(parameters_json)
    except json.JSONDecodeError:
        return _ABSENT
    return parameters.get(MODE_PARAMETER, _ABSENT) if isinstance(parameters, dict) else _ABSENT


def requested_mode(parameters_json: str, *, token_level: bool, default: str) -> Mode:
    """The mode a request asks for, validated.

    Args:
        parameters_json: ``request.parameters()`` of the Python backend (a JSON object).
        token_level: Whether the model is a token classifier.
        default: The model's default mode's name.

    Raises:
        InputError: For a mode this kind of model does not offer, naming the ones it does.
    """
    name = _mode_parameter(parameters_json or "{}")
    name = default if name is _ABSENT else name
    allowed = modes_for(token_level)
    if not isinstance(name, str) or name not in allowed:
        raise InputError(
            f"request parameter mode={name!r} is not offered by this model; choose one of"
            f" {', '.join(sorted(allowed))}",
            InputErrorKind.UNKNOWN_MODE,
        )
    return allowed[name]
