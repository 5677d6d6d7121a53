"""Typed results, parsed from the JSON document the server returns for each text.

The wire schema (``schema_version`` 1) is documented in ``docs/tensor-contract.md``. Every
result says which model produced it and whether its weights are untrained demo weights
(``untrained``): such predictions carry no meaning and must never be used for decisions.
Offsets (``begin``/``end``) are Python ``str`` indices into the text that was sent, end
exclusive, so ``text[begin:end]`` is the span.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from clinserve.errors import ResultFormatError

__all__ = [
    "SUPPORTED_SCHEMA_VERSION",
    "ClassificationResult",
    "EntitiesResult",
    "Entity",
    "LabelScore",
    "MultiLabelResult",
    "Result",
    "ResultKind",
    "SentencePrediction",
    "SentenceResult",
    "parse_result",
    "parse_results",
]

SUPPORTED_SCHEMA_VERSION = 1


class ResultKind:
    """What a model returns; one of the four result types (string constants)."""

    CLASSIFICATION = "classification"
    MULTI_LABEL = "multi_label"
    SENTENCES = "sentences"
    ENTITIES = "entities"
    ALL = (CLASSIFICATION, MULTI_LABEL, SENTENCES, ENTITIES)


@dataclass(frozen=True)
class LabelScore:
    """One label with its probability."""

    label: str
    score: float


@dataclass(frozen=True)
class _ResultBase:
    """Fields every result carries.

    Attributes:
        model: Public model name that produced the result.
        untrained: True when the weights are generated demo weights (meaningless predictions).
        weights: Where the weights came from (``demo-tiny``, an imported checkpoint, ...).
        truncated: True when some of the text did not fit the model's token limit.
        dropped_tokens: How many word-pieces were cut off by truncation.
        mode: How the server segmented the text (``whole``, ``sentences``, ``document``,
            ``windows``; see the model's ``modes``), or ``None`` from a server without modes.

    Every result type also ends with ``model_version`` (the served version of the model's
    weights, an int) and ``weights_digest`` (``sha256:`` and 16 hex digits of the served
    graph), both ``None`` from a server that does not say. They are declared on each type,
    after its own fields, so that they can default to ``None`` (Python 3.9 dataclasses allow
    no defaulted base field before required ones) and existing constructor calls still work.
    """

    model: str
    untrained: bool
    weights: str
    truncated: bool
    dropped_tokens: int
    mode: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (nested results become dicts and lists)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ClassificationResult(_ResultBase):
    """Single-label classification of one text.

    Attributes:
        label: The most probable label.
        score: Its probability.
        scores: Every label's probability, in the model's label order.
        sentence_count: In ``document`` mode, how many sentences' scores were averaged.
    """

    label: str
    score: float
    scores: tuple[LabelScore, ...]
    sentence_count: int | None = None
    model_version: int | None = None
    weights_digest: str | None = None


@dataclass(frozen=True)
class MultiLabelResult(_ResultBase):
    """Multi-label classification of one text.

    Attributes:
        labels: Labels whose score is above ``threshold``, highest first (may be empty).
        scores: Every label's probability, in the model's label order.
        threshold: The decision threshold the server applied.
        sentence_count: In ``document`` mode, how many sentences' scores were averaged.
    """

    labels: tuple[LabelScore, ...]
    scores: tuple[LabelScore, ...]
    threshold: float
    sentence_count: int | None = None
    model_version: int | None = None
    weights_digest: str | None = None


@dataclass(frozen=True)
class SentencePrediction:
    """The prediction for one sentence of a text (per-sentence models).

    Attributes:
        index: Sentence number within the text, from 0.
        begin: Start offset of the sentence in the text.
        end: End offset (exclusive).
        text: ``text[begin:end]``.
        label, score: The most probable label and its probability (single-label models;
            ``None`` for a multi-label model, whose answer is ``labels``).
        scores: Every label's probability, in the model's label order.
        truncated, dropped_tokens: Truncation of this sentence.
        labels: Multi-label models: the labels above ``threshold``, highest first.
        threshold: Multi-label models: the decision threshold.
    """

    index: int
    begin: int
    end: int
    text: str
    label: str | None
    score: float | None
    scores: tuple[LabelScore, ...]
    truncated: bool
    dropped_tokens: int
    labels: tuple[LabelScore, ...] = ()
    threshold: float | None = None


@dataclass(frozen=True)
class SentenceResult(_ResultBase):
    """Per-sentence classification of one text: one prediction per sentence, in text order."""

    sentences: tuple[SentencePrediction, ...]
    model_version: int | None = None
    weights_digest: str | None = None


@dataclass(frozen=True)
class Entity:
    """One entity found in a text.

    Attributes:
        entity: Entity type (the BIO tag without its ``B-``/``I-`` prefix).
        text: ``text[begin:end]``.
        begin: Start offset in the text.
        end: End offset (exclusive).
        confidence: Mean probability of the predicted tag over the entity's tokens.
        sentence: Number of the sentence (model sequence) the entity was found in.
    """

    entity: str
    text: str
    begin: int
    end: int
    confidence: float
    sentence: int


@dataclass(frozen=True)
class EntitiesResult(_ResultBase):
    """Token classification of one text: its entities in text order.

    Attributes:
        entities: The entities, in text order.
        sentence_count: How many segments the text was read in: its sentences in ``sentences``
            mode, 1 in ``windows`` mode (``None`` from a server that does not say).
        sentence_spans: In ``sentences`` mode, ``(begin, end)`` of every sentence, in order,
            those without entities included; an entity's ``sentence`` indexes it (``None`` in
            ``windows`` mode, or from a server that does not say).
    """

    entities: tuple[Entity, ...]
    sentence_count: int | None = None
    sentence_spans: tuple[tuple[int, int], ...] | None = None
    model_version: int | None = None
    weights_digest: str | None = None


Result = Union[ClassificationResult, MultiLabelResult, SentenceResult, EntitiesResult]


def _field(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ResultFormatError(f"{where}: the result has no {key!r} field")
    value = doc[key]
    # bool is an int subclass: never accept it where a number is expected, nor the reverse.
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ResultFormatError(f"{where}: {key!r} should be {expected}, got {type(value).__name__}")
    return value


def _number(doc: Mapping[str, Any], key: str, where: str) -> float:
    return float(_field(doc, key, (int, float), where))


def _label_scores(items: Any, where: str) -> tuple[LabelScore, ...]:
    if not isinstance(items, list):
        raise ResultFormatError(f"{where}: expected a list of {{label, score}}")
    return tuple(
        LabelScore(label=_field(item, "label", str, where), score=_number(item, "score", where))
        for item in items
    )


def _common(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {
        "model": _field(doc, "model", str, where),
        "untrained": _field(doc, "untrained", bool, where),
        "weights": _field(doc, "weights", str, where),
        "truncated": _field(doc, "truncated", bool, where),
        "dropped_tokens": _field(doc, "dropped_tokens", int, where),
        "mode": _optional(doc, "mode", str, where),
        "model_version": _optional(doc, "model_version", int, where),
        "weights_digest": _optional(doc, "weights_digest", str, where),
    }


def _optional(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    return _field(doc, key, kind, where) if doc.get(key) is not None else None


def _sentence(doc: Mapping[str, Any], where: str) -> SentencePrediction:
    multi_label = "labels" in doc
    return SentencePrediction(
        index=_field(doc, "index", int, where),
        begin=_field(doc, "begin", int, where),
        end=_field(doc, "end", int, where),
        text=_field(doc, "text", str, where),
        label=None if multi_label else _field(doc, "label", str, where),
        score=None if multi_label else _number(doc, "score", where),
        scores=_label_scores(_field(doc, "scores", list, where), where),
        truncated=_field(doc, "truncated", bool, where),
        dropped_tokens=_field(doc, "dropped_tokens", int, where),
        labels=_label_scores(doc["labels"], where) if multi_label else (),
        threshold=_number(doc, "threshold", where) if multi_label else None,
    )


def _entity(doc: Mapping[str, Any], where: str) -> Entity:
    return Entity(
        entity=_field(doc, "entity", str, where),
        text=_field(doc, "text", str, where),
        begin=_field(doc, "begin", int, where),
        end=_field(doc, "end", int, where),
        confidence=_number(doc, "confidence", where),
        sentence=_field(doc, "sentence", int, where),
    )


def _spans(doc: Mapping[str, Any], key: str, where: str) -> tuple[tuple[int, int], ...] | None:
    items = _optional(doc, key, list, where)
    if items is None:
        return None
    spans = []
    for item in items:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            and 0 <= item[0] <= item[1]
        ):
            raise ResultFormatError(f"{where}: {key!r} should hold [begin, end] pairs, got {item!r}")
        spans.append((item[0], item[1]))
    return tuple(spans)


def parse_result(doc: Mapping[str, Any], kind: str, *, where: str = "result") -> Result:
    """Turn one decoded JSON result into its dataclass.

    Args:
        doc: The decoded JSON object of one text.
        kind: The :class:`ResultKind` the model returns (from its :class:`~clinserve.ModelInfo`).
        where: Prefix for error messages (which model and text).

    Raises:
        ResultFormatError: When the document is not a supported result of that kind.
    """
    if not isinstance(doc, Mapping):
        raise ResultFormatError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    version = _field(doc, "schema_version", int, where)
    if version != SUPPORTED_SCHEMA_VERSION:
        raise ResultFormatError(
            f"{where}: result schema version {version}; this client reads version"
            f" {SUPPORTED_SCHEMA_VERSION} (install a matching clinserve-client)"
        )
    common = _common(doc, where)
    if kind == ResultKind.CLASSIFICATION:
        return ClassificationResult(
            **common,
            label=_field(doc, "label", str, where),
            score=_number(doc, "score", where),
            scores=_label_scores(_field(doc, "scores", list, where), where),
            sentence_count=_optional(doc, "sentence_count", int, where),
        )
    if kind == ResultKind.MULTI_LABEL:
        return MultiLabelResult(
            **common,
            labels=_label_scores(_field(doc, "labels", list, where), where),
            scores=_label_scores(_field(doc, "scores", list, where), where),
            threshold=_number(doc, "threshold", where),
            sentence_count=_optional(doc, "sentence_count", int, where),
        )
    if kind == ResultKind.SENTENCES:
        items = _field(doc, "sentences", list, where)
        return SentenceResult(**common, sentences=tuple(_sentence(s, where) for s in items))
    if kind == ResultKind.ENTITIES:
        items = _field(doc, "entities", list, where)
        return EntitiesResult(
            **common,
            entities=tuple(_entity(e, where) for e in items),
            sentence_count=_optional(doc, "sentence_count", int, where),
            sentence_spans=_spans(doc, "sentence_spans", where),
        )
    raise ValueError(f"unknown result kind {kind!r}; expected one of {', '.join(ResultKind.ALL)}")


def parse_results(raw: Sequence[bytes | str], kind: str, *, model: str, first_index: int = 0) -> list[Result]:
    """Decode the ``RESULT`` tensor of one response (one UTF-8 JSON document per text).

    Args:
        raw: The tensor's elements.
        kind: The :class:`ResultKind` of the model.
        model: Model name, for error messages.
        first_index: Index of the first text of this request in the caller's whole list.
    """
    results: list[Result] = []
    for offset, item in enumerate(raw):
        where = f"{model} text {first_index + offset}"
        try:
            doc = json.loads(item)
        except (ValueError, TypeError) as exc:
            raise ResultFormatError(f"{where}: the result is not JSON ({exc})") from exc
        results.append(parse_result(doc, kind, where=where))
    return results
