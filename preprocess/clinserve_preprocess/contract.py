"""The tensors between the steps of every ensemble, declared once.

An ensemble is ``tokenizer -> onnx -> postprocess``. Every tensor that crosses a step boundary
is declared here with its Triton type, its dimensions, the step that produces it and the steps
that consume it. The Triton configs (``clinserve_runtime.configs``), the tokenizer's outputs
(:class:`~clinserve_preprocess.encoding.EncodedBatch`) and the post-processor's inputs
(``clinserve_ensemble.results.SequenceOutputs``) derive from this table or are checked against
it by ``tests/unit/test_contract.py``.

Every intermediate tensor has one row per *model sequence* (S of them for a request): the
tokenizer step cuts each text into sequences (one, one per sentence, or windows), so S is the
batch dimension of the ONNX step and of the post-processor, while the public ``TEXT`` and
``RESULT`` have one element per text. The per-sequence bookkeeping travels as one INT32 matrix,
``sequence_info``, whose columns :class:`SequenceColumn` names: one tensor instead of seven,
because every tensor costs the Python backend a shared-memory allocation and a copy on each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

import numpy as np

#: The public input of every ensemble: the texts of one request, UTF-8.
TEXT_INPUT = "TEXT"
#: The public output: one JSON document per text, in request order.
RESULT_OUTPUT = "RESULT"

# Symbolic dimensions of the table below.
#: The padded sequence length of a request (a length bucket).
LENGTH = "L"
#: The number of labels of the model.
LABELS = "C"
Dim = int | str


class Step(StrEnum):
    """The steps of an ensemble, and the ensemble itself (for its public tensors)."""

    ENSEMBLE = "ensemble"
    TOKENIZER = "tokenizer"
    ONNX = "onnx"
    POSTPROCESS = "postprocess"


class SequenceColumn(IntEnum):
    """Columns of ``sequence_info`` (INT32 ``[S, len(SequenceColumn)]``); meanings in ``COLUMN_MEANINGS``."""

    TEXT = 0
    SEGMENT = 1
    SPAN_BEGIN = 2
    SPAN_END = 3
    DROPPED = 4
    WINDOW_START = 5
    ANSWER_BEGIN = 6
    ANSWER_END = 7
    SLICE_BEGIN = 8


COLUMN_MEANINGS: dict[SequenceColumn, str] = {
    SequenceColumn.TEXT: "which text of the request the sequence came from",
    SequenceColumn.SEGMENT: "its segment: the sentence index, or 0 for the whole text",
    SequenceColumn.SPAN_BEGIN: "character span of the segment in its text: begin",
    SequenceColumn.SPAN_END: "... and end (exclusive)",
    SequenceColumn.DROPPED: "word-pieces of the segment cut off by truncation (0 in windowed modes)",
    SequenceColumn.WINDOW_START: "index, among the text's word-pieces, of the piece at position 1",
    SequenceColumn.ANSWER_BEGIN: (
        "the pieces this sequence answers for: first (overlapping windows cut their overlap at its"
        " midpoint, so every piece is answered exactly once)"
    ),
    SequenceColumn.ANSWER_END: "... and past the last",
    SequenceColumn.SLICE_BEGIN: "character offset in the text where the sequence's `sequence_text` starts",
}

#: Width of ``sequence_info``.
SEQUENCE_INFO_WIDTH = len(SequenceColumn)

_NUMPY_TYPES = {
    "TYPE_INT64": np.int64,
    "TYPE_INT32": np.int32,
    "TYPE_FP32": np.float32,
    "TYPE_STRING": np.object_,
}


@dataclass(frozen=True)
class StepTensor:
    """One tensor that crosses a step boundary.

    Attributes:
        name: Tensor name, the same in every step and in the ensemble's mapping.
        triton_type: Triton data type (``TYPE_INT64``, ...).
        dims: Dimensions of one row, the leading dimension (sequences, or texts for the public
            tensors) excluded; ``"L"`` is the padded length, ``"C"`` the number of labels.
        producer: The step that writes it.
        consumers: The steps that read it.
        token_level_only: Only token classifiers carry it.
        token_level_dims: Row dimensions for token classifiers, when they differ (logits).
        meaning: One line for the docs.
    """

    name: str
    triton_type: str
    dims: tuple[Dim, ...]
    producer: Step
    consumers: tuple[Step, ...]
    meaning: str
    token_level_only: bool = False
    token_level_dims: tuple[Dim, ...] | None = None

    def row_dims(self, *, token_level: bool, labels: int) -> list[int]:
        """Concrete row dimensions for a model (``-1`` where the length varies)."""
        dims = self.token_level_dims if token_level and self.token_level_dims is not None else self.dims
        return [labels if d == LABELS else -1 if d == LENGTH else int(d) for d in dims]

    def varies_in_length(self, *, token_level: bool) -> bool:
        """Whether a row's shape depends on the request's padded length (ragged across requests)."""
        dims = self.token_level_dims if token_level and self.token_level_dims is not None else self.dims
        return LENGTH in dims

    @property
    def numpy_type(self) -> type:
        """The numpy dtype of the tensor's values."""
        return _NUMPY_TYPES[self.triton_type]

    def carried_by(self, *, token_level: bool) -> bool:
        """Whether a model of this kind carries the tensor."""
        return token_level or not self.token_level_only


TOKENIZER, ONNX, POSTPROCESS, ENSEMBLE = Step.TOKENIZER, Step.ONNX, Step.POSTPROCESS, Step.ENSEMBLE

#: Every tensor between the steps, in the order the steps produce them.
STEP_TENSORS: tuple[StepTensor, ...] = (
    StepTensor(
        "TEXT", "TYPE_STRING", (), ENSEMBLE, (TOKENIZER,), "the request's texts, UTF-8 (one per text)"
    ),
    StepTensor("input_ids", "TYPE_INT64", (LENGTH,), TOKENIZER, (ONNX,), "word-piece ids, padded"),
    StepTensor("attention_mask", "TYPE_INT64", (LENGTH,), TOKENIZER, (ONNX,), "1 on real tokens"),
    StepTensor("token_type_ids", "TYPE_INT64", (LENGTH,), TOKENIZER, (ONNX,), "all 0 (one segment)"),
    StepTensor(
        "sequence_info",
        "TYPE_INT32",
        (SEQUENCE_INFO_WIDTH,),
        TOKENIZER,
        (POSTPROCESS,),
        "per-sequence bookkeeping, columns named by SequenceColumn",
    ),
    StepTensor(
        "sequence_text",
        "TYPE_STRING",
        (1,),
        TOKENIZER,
        (POSTPROCESS,),
        "the slice of its text the sequence answers for, when the mode's results quote text;"
        " a text's slices, in order, are its segments' text exactly once",
    ),
    StepTensor(
        "token_offsets",
        "TYPE_INT32",
        (LENGTH, 2),
        TOKENIZER,
        (POSTPROCESS,),
        "(begin, end) of each piece in the original text; (0, 0) on special and padding positions",
        token_level_only=True,
    ),
    StepTensor(
        "word_ids",
        "TYPE_INT32",
        (LENGTH,),
        TOKENIZER,
        (POSTPROCESS,),
        "index of the word a piece belongs to (over the whole text); -1 elsewhere",
        token_level_only=True,
    ),
    StepTensor(
        "logits",
        "TYPE_FP32",
        (LABELS,),
        ONNX,
        (POSTPROCESS,),
        "the model's output per sequence (per position for token classifiers)",
        token_level_dims=(LENGTH, LABELS),
    ),
    StepTensor("RESULT", "TYPE_STRING", (), POSTPROCESS, (ENSEMBLE,), "one JSON document per text"),
)

_BY_NAME = {t.name: t for t in STEP_TENSORS}


def tensor(name: str) -> StepTensor:
    """The declaration of one tensor."""
    return _BY_NAME[name]


def produced_by(step: Step, *, token_level: bool | None = None) -> tuple[StepTensor, ...]:
    """Tensors ``step`` writes (for a model kind, or every one when ``token_level`` is None)."""
    return tuple(
        t
        for t in STEP_TENSORS
        if t.producer is step and (token_level is None or t.carried_by(token_level=token_level))
    )


def consumed_by(step: Step, *, token_level: bool | None = None) -> tuple[StepTensor, ...]:
    """Tensors ``step`` reads (for a model kind, or every one when ``token_level`` is None)."""
    return tuple(
        t
        for t in STEP_TENSORS
        if step in t.consumers and (token_level is None or t.carried_by(token_level=token_level))
    )


#: The ONNX graph's inputs, in the order exporters write them.
MODEL_INPUTS: tuple[str, ...] = tuple(t.name for t in consumed_by(ONNX))


def _dims_text(dims: tuple[Dim, ...]) -> str:
    return "`[" + ", ".join(["S", *map(str, dims)]) + "]`"


def markdown_table() -> str:
    """The intermediate tensors as the Markdown table in docs/tensor-contract.md."""
    rows = ["| tensor | type | dims | producer → consumers | meaning |", "|---|---|---|---|---|"]
    for item in STEP_TENSORS:
        if item.name in (TEXT_INPUT, RESULT_OUTPUT):
            continue
        dims = _dims_text(item.dims)
        if item.token_level_dims is not None:
            dims += f" (token classifiers: {_dims_text(item.token_level_dims)})"
        flow = f"{item.producer.value} → {', '.join(c.value for c in item.consumers)}"
        meaning = item.meaning + (" (token classifiers only)" if item.token_level_only else "")
        rows.append(
            f"| `{item.name}` | {item.triton_type.removeprefix('TYPE_')} | {dims} | {flow} | {meaning} |"
        )
    rows += ["", "`sequence_info` columns:", "", "| column | meaning |", "|---|---|"]
    rows += [f"| {c.value} `{c.name}` | {COLUMN_MEANINGS[c]} |" for c in SequenceColumn]
    return "\n".join(rows)
