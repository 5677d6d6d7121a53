"""Triton Python-backend model: the post-processing step of every ensemble.

Each ``<model>_postprocess/1/model.py`` re-exports :class:`TritonPythonModel` from here.
It turns logits (plus the tokenizer's bookkeeping tensors) into one JSON ``RESULT`` per text.
One execution serves every request Triton's dynamic batcher handed over: a sequence
classifier's scores for all of them come from one activation call; a request whose tensors are
wrong or whose logits are not finite gets its own error, and the others their results. Its
errors and duration go to ``clinserve_preprocess.step_metrics`` once per execution, which sends
them to Triton's ``/metrics`` (the error counts at most once a second; docs/metrics.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import triton_python_backend_utils as pb_utils

from clinserve_ensemble.results import (
    ResultContext,
    SequenceOutputs,
    build_results,
    check_consistent,
    probabilities,
)
from clinserve_ensemble.version_record import VersionRecord
from clinserve_preprocess.contract import RESULT_OUTPUT, Step, consumed_by
from clinserve_preprocess.modes import Mode, default_mode, requested_mode
from clinserve_preprocess.step_metrics import (
    POSTPROCESS_ERRORS,
    POSTPROCESS_STEP,
    ErrorSource,
    ErrorTally,
    ServerErrorKind,
    step_metrics,
)
from clinserve_preprocess.triton_params import ModelParameters
from clinserve_preprocess.validation import InputError, InputErrorKind


class TritonPythonModel:
    """Logits to labels, scores and entity chunks."""

    def initialize(self, args: dict[str, str]) -> None:
        """Read labels and task from the model config, provenance from the loaded version."""
        params = ModelParameters.from_args(args)
        task = params.text("task")
        version = int(args["model_version"])
        # The version's own record, not the config: the config is shared by every version.
        record = VersionRecord.read(Path(args["model_repository"]) / str(version))
        self.context = ResultContext(
            model=params.text("public_model_name"),
            task=task,
            labels=tuple(params.json("labels")),
            per_sentence=params.flag("per_sentence"),
            threshold=params.number("threshold") if task == "multi_label" else None,
            untrained=record.untrained if record else params.flag("untrained"),
            weights=record.weights if record else params.text("weights"),
            model_version=version,
            weights_digest=record.weights_digest if record else None,
        )
        self.token_level = task == "token_classification"
        self.default_mode = default_mode(token_level=self.token_level, per_sentence=self.context.per_sentence)
        self.input_names = [t.name for t in consumed_by(Step.POSTPROCESS, token_level=self.token_level)]
        self.metrics = step_metrics(
            pb_utils, self.context.model, POSTPROCESS_STEP, POSTPROCESS_ERRORS, work=False
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        """Build results for every request; a failure stays with its own request."""
        started = time.perf_counter()
        errors = ErrorTally()
        responses: list[Any] = [None] * len(requests)
        accepted: list[tuple[int, Mode, SequenceOutputs]] = []
        for position, request in enumerate(requests):
            try:
                mode = requested_mode(
                    request.parameters(), token_level=self.token_level, default=self.default_mode
                )
                outputs = self._outputs(request)
                check_consistent(self.context, outputs)
            except InputError as exc:
                errors.add(ErrorSource.INPUT, exc.kind.value)
                responses[position] = _error(str(exc), pb_utils.TritonError.INVALID_ARG)
                continue
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                errors.add(ErrorSource.INPUT, InputErrorKind.INCONSISTENT_TENSORS.value)
                responses[position] = self._inconsistent(exc)
                continue
            if not np.isfinite(outputs.logits).all():
                errors.add(ErrorSource.SERVER, ServerErrorKind.NONFINITE_LOGITS.value)
                message = f"{self.context.model}: the model returned NaN or infinite logits"
                responses[position] = _error(message, pb_utils.TritonError.INTERNAL)
                continue
            accepted.append((position, mode, outputs))
        for (position, mode, outputs), probs in zip(accepted, self._probabilities(accepted), strict=True):
            try:
                results = build_results(self.context, outputs, mode, probs)
            except (ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError) as exc:
                errors.add(ErrorSource.INPUT, InputErrorKind.INCONSISTENT_TENSORS.value)
                responses[position] = self._inconsistent(exc)
                continue
            encoded = np.array(
                [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in results], dtype=np.object_
            )
            responses[position] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(RESULT_OUTPUT, encoded)]
            )
        self._report(time.perf_counter() - started, errors)
        return responses

    def finalize(self) -> None:
        """Report the counts not reported yet: the model is being unloaded."""
        try:
            self.metrics.flush()
        except Exception as exc:
            pb_utils.Logger.log_error(
                f"{self.context.model}: metrics not reported ({type(exc).__name__}: {exc})"
            )

    def _report(self, seconds: float, errors: ErrorTally) -> None:
        # Metrics must never cost a request its answer: a failed report is logged, not raised.
        try:
            self.metrics.report(seconds, errors)
        except Exception as exc:
            pb_utils.Logger.log_error(
                f"{self.context.model}: metrics not reported ({type(exc).__name__}: {exc})"
            )

    def _outputs(self, request: Any) -> SequenceOutputs:
        arrays: dict[str, Any] = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"post-processor input {name!r} is missing")
            arrays[name] = tensor.as_numpy()
        return SequenceOutputs(**arrays)

    def _probabilities(
        self, accepted: list[tuple[int, Mode, SequenceOutputs]]
    ) -> list[npt.NDArray[np.float32]]:
        """Scores per request; one activation call for all of them when their rows agree in shape."""
        if not accepted:
            return []
        logits = [outputs.logits for _, _, outputs in accepted]
        if self.token_level:  # [S, L, C] with a length per request
            return [probabilities(self.context, item) for item in logits]
        merged = probabilities(self.context, np.concatenate(logits))
        return np.split(merged, np.cumsum([item.shape[0] for item in logits])[:-1])

    def _inconsistent(self, exc: BaseException) -> Any:
        # Inconsistent tensors: only a caller bypassing the ensemble can send them.
        message = f"{self.context.model}: inconsistent post-processor inputs ({type(exc).__name__}: {exc})"
        return _error(message, pb_utils.TritonError.INVALID_ARG)


def _error(message: str, code: Any) -> Any:
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message, code))
