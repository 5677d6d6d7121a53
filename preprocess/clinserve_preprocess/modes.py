"""Per-request modes: how a text becomes model sequences and how their outputs combine.

A caller picks the mode with the request parameter ``mode`` (Triton forwards request parameters
from the ensemble to every step, so the tokenizer and the post-processor read the same value).

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

from clinserve_preprocess.validation import InputError

MODE_PARAMETER = "mode"
# Public mode -> segmentation of clinserve_preprocess.encoding.
CLASSIFIER_MODES = {"whole": "whole", "sentences": "sentences", "document": "sentences"}
TOKEN_MODES = {"windows": "windows", "sentences": "sentence_windows"}


def modes_for(token_level: bool) -> dict[str, str]:
    """The modes a model accepts, with the segmentation each uses."""
    return TOKEN_MODES if token_level else CLASSIFIER_MODES


def default_mode(*, token_level: bool, per_sentence: bool) -> str:
    """The mode used when a request names none (the catalog's ``per_sentence`` decides)."""
    if token_level:
        return "windows"
    return "sentences" if per_sentence else "whole"


def requested_mode(parameters_json: str, *, token_level: bool, default: str) -> str:
    """The mode a request asks for, validated.

    Args:
        parameters_json: ``request.parameters()`` of the Python backend (a JSON object).
        token_level: Whether the model is a token classifier.
        default: The model's default mode.

    Raises:
        InputError: For a mode this kind of model does not offer, naming the ones it does.
    """
    try:
        parameters = json.loads(parameters_json or "{}")
    except json.JSONDecodeError:
        parameters = {}
    mode = parameters.get(MODE_PARAMETER, default)
    allowed = modes_for(token_level)
    if mode not in allowed:
        raise InputError(
            f"request parameter mode={mode!r} is not offered by this model; choose one of"
            f" {', '.join(sorted(allowed))}"
        )
    return str(mode)
