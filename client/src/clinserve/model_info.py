"""What a served model is, read from its ensemble config's ``parameters``.

The server describes each public model in its Triton config (string parameters, labels
JSON-encoded): task, labels, per-sentence or not, request limits and where the weights came
from. That is all the client needs to pick the result type and to split long lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clinserve.errors import InvalidInputError, ModelNotFoundError, ResultFormatError
from clinserve.results import ResultKind

__all__ = [
    "DEFAULT_MAX_TEXTS_PER_REQUEST",
    "KNOWN_MODELS",
    "TASKS",
    "TASK_METHODS",
    "ModelInfo",
    "unknown_model_hint",
]

#: The public names of the catalog's models. ``list_models`` probes these when the server
#: keeps its model index behind the admin key (a unit test checks them against the catalog).
KNOWN_MODELS = (
    "treatment_changes",
    "response_to_treatment",
    "biomarker",
    "drug_development_trials",
    "pubmed_multilabel",
)
TASKS = ("single_label", "multi_label", "token_classification")
#: Used only when a model's config omits ``max_texts_per_request``.
DEFAULT_MAX_TEXTS_PER_REQUEST = 64
#: The client call made for each kind of result.
TASK_METHODS = {
    ResultKind.CLASSIFICATION: "classify",
    ResultKind.MULTI_LABEL: "classify_multi_label",
    ResultKind.SENTENCES: "classify_sentences",
    ResultKind.ENTITIES: "extract_entities",
}


@dataclass(frozen=True)
class ModelInfo:
    """A served clinserve model.

    Attributes:
        name: The name to call it by (the Triton ensemble name).
        task: ``single_label``, ``multi_label`` or ``token_classification``.
        labels: Every label (or BIO tag), in the model's order.
        per_sentence: True when each sentence of a text gets its own prediction.
        max_tokens: Word-pieces per sequence; longer input is truncated.
        max_texts_per_request: Most texts one request may carry (the client splits longer lists).
        source_model: The model it serves (the seed model's name).
        weights: Where the weights came from.
        untrained: True for generated demo weights.
        threshold: Decision threshold of a multi-label model, else ``None``.
        modes: How the server may segment a text for this model (a call's ``mode=``):
            classifiers ``whole``, ``sentences``, ``document``; token classifiers ``windows``,
            ``sentences``. Empty for a server without modes.
        default_mode: The mode of a call that names none.
        max_text_chars: Longest text one request may carry, in characters (``None`` from a server
            that does not publish it). Longer documents are split by the client.
        max_sequences_per_request: Most model sequences (sentences, windows) one request may need.
        max_padded_tokens_per_request: Most token positions (sequences x padded length) one
            request may need.
        model_version: The version of the weights the server's configs serve (``None`` from a
            server without versions).
        weights_digest: ``sha256:`` and 16 hex digits of that version's graph (``None`` from a
            server without versions).
    """

    name: str
    task: str
    labels: tuple[str, ...]
    per_sentence: bool
    max_tokens: int
    max_texts_per_request: int
    source_model: str
    weights: str
    untrained: bool
    threshold: float | None = None
    modes: tuple[str, ...] = ()
    default_mode: str | None = None
    max_text_chars: int | None = None
    max_sequences_per_request: int | None = None
    max_padded_tokens_per_request: int | None = None
    model_version: int | None = None
    weights_digest: str | None = None

    @property
    def result_kind(self) -> str:
        """The :class:`~clinserve.results.ResultKind` this model returns in its default mode."""
        return self.kind_for(None)

    def effective_mode(self, mode: str | None) -> str:
        """The mode a call in ``mode`` runs in (``None``: the model's default)."""
        if mode:
            return mode
        if self.default_mode:
            return self.default_mode
        if self.task == "token_classification":
            return "windows"
        return "sentences" if self.per_sentence else "whole"

    def kind_for(self, mode: str | None) -> str:
        """The :class:`~clinserve.results.ResultKind` of a call in ``mode`` (``None``: default)."""
        if self.task == "token_classification":
            return ResultKind.ENTITIES
        effective = self.effective_mode(mode)
        if effective == "sentences":
            return ResultKind.SENTENCES
        if self.task == "multi_label":
            return ResultKind.MULTI_LABEL
        return ResultKind.CLASSIFICATION

    def check_mode(self, mode: str | None) -> None:
        """Refuse a mode the model does not offer (when the server lists its modes).

        Raises:
            InvalidInputError: Naming the modes it offers.
        """
        if mode is not None and self.modes and mode not in self.modes:
            raise InvalidInputError(
                f"model {self.name!r} offers the modes {', '.join(self.modes)}, not {mode!r}"
            )

    def require_kind(self, expected: str, mode: str | None = None) -> None:
        """Check that a call in ``mode`` returns ``expected`` results.

        Raises:
            InvalidInputError: Naming the call (or mode) that fits this model.
        """
        kind = self.kind_for(mode)
        if kind != expected:
            others = [m for m in self.modes if self.kind_for(m) == expected]
            hint = f" or pass mode={others[0]!r}" if others else ""
            raise InvalidInputError(
                f"model {self.name!r} returns {kind} results ({self.task},"
                f" mode {mode or self.default_mode or 'default'}), not {expected}: call"
                f" {TASK_METHODS[kind]}() or predict(){hint}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "task": self.task,
            "labels": list(self.labels),
            "per_sentence": self.per_sentence,
            "max_tokens": self.max_tokens,
            "max_texts_per_request": self.max_texts_per_request,
            "source_model": self.source_model,
            "weights": self.weights,
            "untrained": self.untrained,
            "threshold": self.threshold,
            "modes": list(self.modes),
            "default_mode": self.default_mode,
            "max_text_chars": self.max_text_chars,
            "max_sequences_per_request": self.max_sequences_per_request,
            "max_padded_tokens_per_request": self.max_padded_tokens_per_request,
            "model_version": self.model_version,
            "weights_digest": self.weights_digest,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelInfo:
        """Read a model config (tritonclient's ``get_model_config(as_json=True)["config"]``).

        Raises:
            ModelNotFoundError: When the model is not a clinserve model: an internal step such
                as ``<name>_tokenizer``, or a foreign model (not an ensemble with a
                ``public_model_name`` parameter).
            ResultFormatError: When a clinserve parameter is missing or malformed.
        """
        name = str(config.get("name", "?"))
        raw = config.get("parameters") or {}
        params = {key: value.get("string_value", "") for key, value in raw.items()}
        # The pipeline's own steps carry some of the same parameters; only the ensemble is public.
        if "public_model_name" not in params or config.get("platform") != "ensemble":
            raise ModelNotFoundError(
                f"model {name!r} is served but is not a clinserve model (not an ensemble with a"
                " public_model_name parameter); call a public model, e.g. one of"
                f" {', '.join(KNOWN_MODELS)}"
            )

        def require(key: str) -> str:
            if key not in params:
                raise ResultFormatError(f"model {name!r}: config parameter {key!r} is missing")
            return str(params[key])

        def flag(key: str) -> bool:
            value = require(key).lower()
            if value not in ("true", "false"):
                raise ResultFormatError(
                    f"model {name!r}: parameter {key!r} should be true/false, got {value!r}"
                )
            return value == "true"

        def integer(key: str, default: int | None = None) -> int:
            if key not in params and default is not None:
                return default
            try:
                return int(require(key))
            except ValueError as exc:
                raise ResultFormatError(f"model {name!r}: parameter {key!r} is not an integer") from exc

        def limit(key: str) -> int | None:
            # Request limits are published by newer servers only; without them the client
            # learns a limit from the server's refusal instead.
            return integer(key) if params.get(key) else None

        task = require("task")
        if task not in TASKS:
            raise ResultFormatError(f"model {name!r}: unknown task {task!r} (this client knows {TASKS})")
        labels = _string_list(require("labels"), name, "labels")
        threshold = float(params["threshold"]) if params.get("threshold") else None
        modes = _string_list(params.get("modes", "[]"), name, "modes")
        return cls(
            name=name,
            task=task,
            labels=tuple(labels),
            per_sentence=flag("per_sentence"),
            max_tokens=integer("max_tokens"),
            max_texts_per_request=integer("max_texts_per_request", DEFAULT_MAX_TEXTS_PER_REQUEST),
            source_model=params.get("source_model", ""),
            weights=params.get("weights", ""),
            untrained=flag("untrained"),
            threshold=threshold,
            modes=tuple(modes),
            default_mode=params.get("default_mode") or None,
            max_text_chars=limit("max_text_chars"),
            max_sequences_per_request=limit("max_sequences_per_request"),
            max_padded_tokens_per_request=limit("max_padded_tokens_per_request"),
            model_version=limit("model_version"),
            weights_digest=params.get("weights_digest") or None,
        )


def unknown_model_hint(model: str, served: Sequence[str]) -> str:
    """What to tell a caller who asked for ``model``, which is not served: the names that are.

    A name that differs from a served one only in case is pointed out (names are case-sensitive).
    """
    if not served:
        return ""
    hint = f"the server serves {', '.join(sorted(served))}"
    same = [name for name in served if name.lower() == model.lower()]
    if same:
        hint += f" (names are case-sensitive: did you mean {same[0]!r}?)"
    return hint


def _string_list(raw: str, model: str, key: str) -> list[str]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ResultFormatError(f"model {model!r}: parameter {key!r} is not JSON") from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ResultFormatError(f"model {model!r}: parameter {key!r} should be a JSON list of strings")
    return value
