"""Triton Python-backend model: the tokenizer step of every ensemble.

Each ``<model>_tokenizer/1/model.py`` in the repository re-exports :class:`TritonPythonModel`
from here. Per-model settings come from ``config.pbtxt`` parameters (rendered from the catalog);
the vocabulary is ``tokenizer.json`` beside ``model.py``.

One execution serves every request Triton's dynamic batcher handed over: each request is checked
on its own (the cheap limits first, ``clinserve_preprocess.limits``), then the texts of a whole
pass of requests are word-pieced in one call into ``tokenizers``, and each request is cut into
model sequences and padded (``clinserve_preprocess.merging`` groups lengths so that requests
reach the ONNX step together). When an execution takes more than one pass, the answers of each
pass but the last go out through their requests' response senders as soon as the pass is done,
so a short request never waits for a long document beside it; an error stays with its own
request. Each execution's texts, sequences, tokens and errors are added up and handed, with its
duration, to ``clinserve_preprocess.step_metrics`` at its end, which sends them to Triton's
``/metrics`` (the counters at most once a second; docs/metrics.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import triton_python_backend_utils as pb_utils

from clinserve_preprocess.contract import TEXT_INPUT, Step, produced_by
from clinserve_preprocess.encoding import (
    EncodedBatch,
    SequencePlan,
    Span,
    TextEncoder,
    TextPieces,
)
from clinserve_preprocess.limits import RequestLimits, plan_within_limits, segment_within_limits
from clinserve_preprocess.merging import passes, shared_lengths
from clinserve_preprocess.modes import Mode, default_mode, requested_mode
from clinserve_preprocess.step_metrics import (
    TOKENIZER_ERRORS,
    TOKENIZER_STEP,
    ErrorSource,
    ErrorTally,
    ServerErrorKind,
    WorkTally,
    step_metrics,
)
from clinserve_preprocess.triton_params import ModelParameters
from clinserve_preprocess.validation import InputError, InputErrorKind, decode_text, validate_text

OUTPUT_NAMES = tuple(t.name for t in produced_by(Step.TOKENIZER))
# Built only when a request asks for them (token classifiers' ensembles do).
TOKEN_OUTPUTS = frozenset(t.name for t in produced_by(Step.TOKENIZER) if t.token_level_only)


@dataclass(frozen=True)
class PreparedRequest:
    """A request that passed the cheap checks: its texts, mode and segments."""

    position: int
    texts: list[str]
    mode: Mode
    segments: list[list[Span]]
    chars: int


class Replies:
    """Exactly one response per request, whatever happens in between.

    Responses are returned from ``execute`` (one message back to Triton for all of them), except
    while ``early`` is set: then each goes out at once through its request's response sender
    (one message each), so that it does not wait for the passes still to come. What the answers
    carried is added to ``work`` and ``errors`` (handed to the metrics once per execution).
    """

    def __init__(self, requests: Sequence[Any], model: str) -> None:
        self.requests = requests
        self.model = model
        self.early = False
        self.work = WorkTally()
        self.errors = ErrorTally()
        self._sent = [False] * len(requests)
        self._held: list[Any] = [None] * len(requests)

    def answered(self, position: int) -> bool:
        """Whether request ``position`` has its response already."""
        return self._sent[position] or self._held[position] is not None

    def answer(self, position: int, response: Any) -> None:
        """The response of request ``position`` (the first one given wins)."""
        if self.answered(position):
            return
        if self.early:
            self._send(position, response)
        else:
            self._held[position] = response

    def encoded(self, position: int, texts: int, encoded: EncodedBatch, response: Any) -> None:
        """Answer request ``position`` with its ``texts`` texts encoded as ``encoded``."""
        if not self.answered(position):
            self.work.add(texts, encoded)
        self.answer(position, response)

    def send_held(self) -> None:
        """Send every response held so far (before a pass that the others need not wait for)."""
        for position, response in enumerate(self._held):
            if response is not None:
                self._held[position] = None
                self._send(position, response)

    def _send(self, position: int, response: Any) -> None:
        self._sent[position] = True
        sender = self.requests[position].get_response_sender()
        sender.send(response, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def fail(self, position: int, message: str, code: Any, source: ErrorSource, kind: str) -> None:
        """Answer request ``position`` with an error (counted as ``source``/``kind``)."""
        if not self.answered(position):
            self.errors.add(source, kind)
        error = pb_utils.TritonError(message, code)
        self.answer(position, pb_utils.InferenceResponse(output_tensors=[], error=error))

    def refuse(self, position: int, exc: InputError) -> None:
        """Answer request ``position`` with the caller's input error."""
        self.fail(position, str(exc), pb_utils.TritonError.INVALID_ARG, ErrorSource.INPUT, exc.kind.value)

    def internal(self, position: int, exc: BaseException) -> None:
        """Answer with an internal error; the type only, since a message could quote the text."""
        message = f"{self.model}: tokenization failed ({type(exc).__name__})"
        pb_utils.Logger.log_error(message)
        self.fail(
            position,
            message,
            pb_utils.TritonError.INTERNAL,
            ErrorSource.SERVER,
            ServerErrorKind.INTERNAL.value,
        )

    def returned(self) -> list[Any]:
        """What ``execute`` returns: the held responses, ``None`` for those already sent.

        A request still unanswered after a bug gets an internal error, never silence.
        """
        for position in range(len(self.requests)):
            if not self._sent[position] and self._held[position] is None:
                self.internal(position, RuntimeError("no response was built"))
        return list(self._held)


class TritonPythonModel:
    """Validate TEXT and encode it for the model's ONNX step, many requests at a time."""

    def initialize(self, args: dict[str, str]) -> None:
        """Load the tokenizer, the limits and the batching policy from the model config."""
        params = ModelParameters.from_args(args)
        self.model_name = args["model_name"]
        self.public_name = self.model_name.removesuffix("_tokenizer")
        self.token_level = params.text("task") == "token_classification"
        self.default_mode = default_mode(
            token_level=self.token_level, per_sentence=params.flag("per_sentence")
        )
        self.limits = RequestLimits(
            max_texts=params.integer("max_texts_per_request"),
            max_text_chars=params.integer("max_text_chars"),
            max_request_chars=params.integer("max_request_chars"),
            max_sequences=params.integer("max_sequences_per_request"),
            max_positions=params.integer("max_padded_tokens_per_request"),
        )
        self.max_chars_per_pass = params.integer("max_chars_per_pass")
        self.merge_padding_ratio = params.number("merge_padding_ratio")
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
        self.metrics = step_metrics(pb_utils, self.public_name, TOKENIZER_STEP, TOKENIZER_ERRORS, work=True)

    def execute(self, requests: list[Any]) -> list[Any]:
        """Answer every request: the last pass's by returning them, earlier passes' at once."""
        started = time.perf_counter()
        replies = Replies(requests, self.model_name)
        try:
            prepared = []
            for position, request in enumerate(requests):
                try:
                    prepared.append(self._prepare(position, request))
                except InputError as exc:
                    replies.refuse(position, exc)
                except Exception as exc:  # a bug fails its request, not the stub or the others
                    replies.internal(position, exc)
            groups = passes(prepared, lambda p: p.chars, self.max_chars_per_pass)
            for index, group in enumerate(groups):
                # Answers of every pass but the last leave at once: the larger passes that
                # follow would otherwise hold them (one message each costs more, so only then).
                replies.early = index < len(groups) - 1
                if replies.early:
                    replies.send_held()
                self._encode_pass(group, requests, replies)
        except Exception as exc:  # a bug outside any one request: the unanswered get an error below
            pb_utils.Logger.log_error(f"{self.model_name}: tokenization stopped ({type(exc).__name__})")
        replies.early = False
        returned = replies.returned()
        self._report(time.perf_counter() - started, replies)
        return returned

    def finalize(self) -> None:
        """Report the counts not reported yet: the model is being unloaded."""
        try:
            self.metrics.flush()
        except Exception as exc:
            pb_utils.Logger.log_error(
                f"{self.model_name}: metrics not reported ({type(exc).__name__}: {exc})"
            )

    def _report(self, seconds: float, replies: Replies) -> None:
        # Metrics must never cost a request its answer: a failed report is logged, not raised.
        try:
            self.metrics.report(seconds, replies.errors, replies.work)
        except Exception as exc:
            pb_utils.Logger.log_error(
                f"{self.model_name}: metrics not reported ({type(exc).__name__}: {exc})"
            )

    def _prepare(self, position: int, request: Any) -> PreparedRequest:
        tensor = pb_utils.get_input_tensor_by_name(request, TEXT_INPUT)
        if tensor is None:
            raise InputError(f"the request has no {TEXT_INPUT} input", InputErrorKind.BAD_TENSOR)
        raw = tensor.as_numpy()
        # [N, 1] when the step batches (the ensemble reshapes the public [N]), [N] otherwise.
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim != 1:
            raise InputError(
                f"{TEXT_INPUT} must be a 1-D list of strings, got shape {list(raw.shape)}",
                InputErrorKind.BAD_TENSOR,
            )
        if raw.size == 0:
            raise InputError(f"{TEXT_INPUT} holds no texts", InputErrorKind.BAD_TENSOR)
        self.limits.check_count(int(raw.size), self.public_name)
        mode = requested_mode(request.parameters(), token_level=self.token_level, default=self.default_mode)
        texts = [decode_text(item, i) for i, item in enumerate(raw)]
        for index, text in enumerate(texts):
            validate_text(text, index)
        segments = segment_within_limits(self.encoder, self.limits, texts, mode)
        return PreparedRequest(position, texts, mode, segments, sum(len(text) for text in texts))

    def _encode_pass(self, group: list[PreparedRequest], requests: Sequence[Any], replies: Replies) -> None:
        """Word-piece every text of ``group`` in one call, then answer each request."""
        try:
            pieces = self.encoder.pieces([text for prepared in group for text in prepared.texts])
        except Exception as exc:
            if len(group) > 1:  # find the request that breaks it; the others still get answers
                for prepared in group:
                    self._encode_pass([prepared], requests, replies)
            else:
                replies.internal(group[0].position, exc)
            return
        planned: list[tuple[PreparedRequest, list[TextPieces], list[SequencePlan], tuple[int, int]]] = []
        start = 0
        for prepared in group:
            own = pieces[start : start + len(prepared.texts)]
            start += len(prepared.texts)
            try:
                plans, shape = plan_within_limits(
                    self.encoder, self.limits, own, prepared.segments, prepared.mode
                )
            except InputError as exc:
                replies.refuse(prepared.position, exc)
                continue
            except Exception as exc:
                replies.internal(prepared.position, exc)
                continue
            planned.append((prepared, own, plans, shape))
        encoder = self.encoder
        lengths = shared_lengths(
            [shape for *_, shape in planned], self.merge_padding_ratio, encoder.max_tokens, encoder.buckets
        )
        for (prepared, own, plans, _), length in zip(planned, lengths, strict=True):
            try:
                wanted = requests[prepared.position].requested_output_names()
                token_outputs = bool(TOKEN_OUTPUTS & set(wanted))
                encoded = encoder.assemble(prepared.texts, own, plans, length, token_outputs=token_outputs)
                replies.encoded(
                    prepared.position, len(prepared.texts), encoded, self._response(wanted, encoded)
                )
            except Exception as exc:
                replies.internal(prepared.position, exc)

    @staticmethod
    def _response(wanted: Sequence[str], encoded: EncodedBatch) -> Any:
        tensors = [pb_utils.Tensor(name, getattr(encoded, name)) for name in OUTPUT_NAMES if name in wanted]
        return pb_utils.InferenceResponse(output_tensors=tensors)
