"""Triton Python-backend model: the tokenizer step of every ensemble.

Each ``<model>_tokenizer/1/model.py`` in the repository re-exports :class:`TritonPythonModel`
from here. Per-model settings come from ``config.pbtxt`` parameters (rendered from the catalog);
the vocabulary is ``tokenizer.json`` beside ``model.py``.

Errors are returned per request (``InferenceResponse(error=...)``), so one bad text never fails
the other requests Triton handed over in the same call.
"""

from __future__ import annotations

import os
from typing import Any

import triton_python_backend_utils as pb_utils

from clinserve_preprocess.encoding import EncodedBatch, TextEncoder
from clinserve_preprocess.modes import default_mode, modes_for, requested_mode
from clinserve_preprocess.triton_params import ModelParameters
from clinserve_preprocess.validation import InputError, decode_text, validate_text

TEXT_INPUT = "TEXT"
# Output name -> EncodedBatch attribute. Only the outputs the ensemble maps are requested,
# and only those are sent on.
OUTPUTS = {
    "input_ids": "input_ids",
    "attention_mask": "attention_mask",
    "token_type_ids": "token_type_ids",
    "token_offsets": "token_offsets",
    "word_ids": "word_ids",
    "sequence_text_index": "sequence_text_index",
    "sequence_segment": "sequence_segment",
    "sequence_spans": "sequence_spans",
    "sequence_pieces": "sequence_pieces",
    "dropped_tokens": "dropped_tokens",
}


class TritonPythonModel:
    """Validate TEXT and encode it for the model's ONNX step."""

    def initialize(self, args: dict[str, str]) -> None:
        """Load the tokenizer and the limits from the model config."""
        params = ModelParameters.from_args(args)
        self.model_name = args["model_name"]
        self.token_level = params.text("task") == "token_classification"
        self.default_mode = default_mode(
            token_level=self.token_level, per_sentence=params.flag("per_sentence")
        )
        self.max_texts = params.integer("max_texts_per_request")
        self.max_sequences = params.integer("max_sequences_per_request")
        self.max_padded_tokens = params.integer("max_padded_tokens_per_request")
        self.max_text_chars = params.integer("max_text_chars")
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        tokenizer_path = os.path.join(version_dir, "tokenizer.json")
        if not os.path.isfile(tokenizer_path):
            raise FileNotFoundError(
                f"model {self.model_name!r}: {tokenizer_path} is missing; build the repository"
                " with demo weights (make repository) or import real ones (clinserve import)"
            )
        self.encoder = TextEncoder.from_file(
            tokenizer_path, params.integer("max_tokens"), buckets=params.json("length_buckets")
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        """Encode each request on its own; a bad request gets its own error response."""
        responses = []
        for request in requests:
            try:
                encoded = self._encode_request(request)
            except InputError as exc:
                error = pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            except Exception as exc:  # a bug must fail its request, not the stub or the others
                # The type only: the message of an unexpected error could quote the text.
                message = f"{self.model_name}: tokenization failed ({type(exc).__name__})"
                pb_utils.Logger.log_error(message)
                error = pb_utils.TritonError(message, pb_utils.TritonError.INTERNAL)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            wanted = request.requested_output_names()
            tensors = [
                pb_utils.Tensor(name, getattr(encoded, attribute))
                for name, attribute in OUTPUTS.items()
                if name in wanted
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def _encode_request(self, request: Any) -> EncodedBatch:
        tensor = pb_utils.get_input_tensor_by_name(request, TEXT_INPUT)
        if tensor is None:
            raise InputError(f"the request has no {TEXT_INPUT} input")
        raw = tensor.as_numpy()
        if raw.ndim != 1:
            raise InputError(f"{TEXT_INPUT} must be a 1-D list of strings, got shape {list(raw.shape)}")
        if raw.size == 0:
            raise InputError(f"{TEXT_INPUT} holds no texts")
        if raw.size > self.max_texts:
            raise InputError(
                f"{TEXT_INPUT} holds {raw.size} texts; {self.model_name.removesuffix('_tokenizer')}"
                f" takes at most {self.max_texts} per request (the client library splits longer lists)"
            )
        mode = requested_mode(request.parameters(), token_level=self.token_level, default=self.default_mode)
        texts = [decode_text(item, i) for i, item in enumerate(raw)]
        for index, text in enumerate(texts):
            validate_text(text, index, max_chars=self.max_text_chars)
        encoded = self.encoder.encode(texts, segmentation=modes_for(self.token_level)[mode])
        # Bounds on one ONNX execution: its batch, and the positions it computes (memory).
        if encoded.num_sequences > self.max_sequences or encoded.padded_tokens > self.max_padded_tokens:
            raise InputError(
                f"in mode {mode!r} the request needs {encoded.num_sequences} model sequences of"
                f" {encoded.input_ids.shape[1]} tokens; one request may use at most {self.max_sequences}"
                f" sequences and {self.max_padded_tokens:,} token positions: send fewer or shorter texts"
                " (see docs/long-documents.md for the limits)"
            )
        return encoded
