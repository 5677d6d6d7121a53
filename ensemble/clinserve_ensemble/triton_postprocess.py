"""Triton Python-backend model: the post-processing step of every ensemble.

Each ``<model>_postprocess/1/model.py`` re-exports :class:`TritonPythonModel` from here.
It turns logits (plus the tokenizer's bookkeeping tensors) into one JSON ``RESULT`` per text.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from clinserve_ensemble.activations import NonFiniteLogitsError
from clinserve_ensemble.results import ResultContext, SequenceOutputs, build_results
from clinserve_preprocess.modes import default_mode, requested_mode
from clinserve_preprocess.triton_params import ModelParameters
from clinserve_preprocess.validation import InputError

RESULT_OUTPUT = "RESULT"


def _input(request: Any, name: str, *, required: bool = True) -> Any:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        if required:
            raise ValueError(f"post-processor input {name!r} is missing")
        return None
    return tensor.as_numpy()


class TritonPythonModel:
    """Logits to labels, scores and entity chunks."""

    def initialize(self, args: dict[str, str]) -> None:
        """Read labels, task and weight provenance from the model config."""
        params = ModelParameters.from_args(args)
        task = params.text("task")
        self.context = ResultContext(
            model=params.text("public_model_name"),
            task=task,
            labels=tuple(params.json("labels")),
            per_sentence=params.flag("per_sentence"),
            threshold=params.number("threshold") if task == "multi_label" else None,
            untrained=params.flag("untrained"),
            weights=params.text("weights"),
        )
        self.token_level = task == "token_classification"
        self.default_mode = default_mode(token_level=self.token_level, per_sentence=self.context.per_sentence)

    def execute(self, requests: list[Any]) -> list[Any]:
        """Build results request by request; a failure stays with its own request."""
        responses = []
        for request in requests:
            try:
                mode = requested_mode(
                    request.parameters(), token_level=self.token_level, default=self.default_mode
                )
                texts = [bytes(t).decode("utf-8") for t in _input(request, "TEXT")]
                outputs = SequenceOutputs(
                    logits=_input(request, "logits"),
                    sequence_text_index=_input(request, "sequence_text_index"),
                    sequence_segment=_input(request, "sequence_segment"),
                    sequence_spans=_input(request, "sequence_spans"),
                    dropped_tokens=_input(request, "dropped_tokens"),
                    token_offsets=_input(request, "token_offsets", required=self.token_level),
                    word_ids=_input(request, "word_ids", required=self.token_level),
                    sequence_pieces=_input(request, "sequence_pieces", required=self.token_level),
                )
                results = build_results(self.context, texts, outputs, mode)
            except InputError as exc:
                error = pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            except NonFiniteLogitsError as exc:
                error = pb_utils.TritonError(f"{self.context.model}: {exc}", pb_utils.TritonError.INTERNAL)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            except (ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError) as exc:
                # Inconsistent tensors: only a caller bypassing the ensemble can send them.
                message = (
                    f"{self.context.model}: inconsistent post-processor inputs ({type(exc).__name__}: {exc})"
                )
                error = pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            encoded = np.array(
                [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in results], dtype=np.object_
            )
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(RESULT_OUTPUT, encoded)])
            )
        return responses
