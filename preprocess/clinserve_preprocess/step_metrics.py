"""The series the Python steps add to Triton's ``/metrics`` (docs/metrics.md says how to read them).

The tokenizer and the post-processor report through the Python backend's custom metrics API
(``pb_utils.MetricFamily``; Triton 2.51's stub offers counters, gauges and histograms). Every
update of a metric is a message from the stub process to the Triton process, and one
``execute()`` serves many requests of many texts: a step therefore adds the figures of a whole
execution up in a :class:`WorkTally` and an :class:`ErrorTally`. At the end of ``execute()`` it
observes the execution's duration (one message) and adds the tallies to those not yet reported;
the counters go out, one message per figure that is not 0, at most once per
``REPORT_INTERVAL_S`` (and when the model is unloaded). Counters therefore lag by at most that
much traffic, and the last interval before a step goes idle is reported with its next
execution. Metric calls must stay on the thread that runs ``execute()``: an update sent from
another thread of the stub crashed Triton 2.51 (docs/metrics.md). Every label set is created
when the model loads, so each series exists (at 0) from the start: ratios and joins in PromQL
never miss a series that simply has not happened yet.

This module does not import ``triton_python_backend_utils`` (the step passes it in), so that
its bookkeeping runs in unit tests without a server.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from clinserve_preprocess.contract import SequenceColumn
from clinserve_preprocess.encoding import EncodedBatch
from clinserve_preprocess.validation import InputErrorKind


class MetricKind(StrEnum):
    """The Python backend's metric kinds that clinserve uses."""

    COUNTER = "counter"
    HISTOGRAM = "histogram"


class ErrorSource(StrEnum):
    """Whose fault a refused request is: the ``source`` label of ``clinserve_errors_total``."""

    INPUT = "input"  # the caller's request (INVALID_ARG): fixing the request fixes it
    SERVER = "server"  # the step failed on a valid request (INTERNAL)


class ServerErrorKind(StrEnum):
    """``kind`` of the errors that are the server's fault."""

    INTERNAL = "internal"  # an unexpected exception in the step (a bug)
    NONFINITE_LOGITS = "nonfinite_logits"  # the ONNX model returned NaN or infinity


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its name, kind, labels and help text (also the docs' table)."""

    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    description: str


TEXTS = MetricSpec(
    "clinserve_texts_total", MetricKind.COUNTER, ("model",), "Texts the tokenizer encoded for the model"
)
SEQUENCES = MetricSpec(
    "clinserve_sequences_total",
    MetricKind.COUNTER,
    ("model",),
    "Model sequences (texts, sentences or windows) the tokenizer sent to the ONNX step",
)
TOKENS = MetricSpec(
    "clinserve_tokens_total",
    MetricKind.COUNTER,
    ("model", "kind"),
    "Token positions the tokenizer sent to the ONNX step: kind=real (word-pieces and special tokens)"
    " or kind=padding",
)
TRUNCATED_TEXTS = MetricSpec(
    "clinserve_truncated_texts_total",
    MetricKind.COUNTER,
    ("model",),
    "Texts of which truncation dropped at least one word-piece",
)
DROPPED_PIECES = MetricSpec(
    "clinserve_dropped_word_pieces_total",
    MetricKind.COUNTER,
    ("model",),
    "Word-pieces that truncation dropped (never in windowed modes)",
)
ERRORS = MetricSpec(
    "clinserve_errors_total",
    MetricKind.COUNTER,
    ("model", "step", "source", "kind"),
    "Requests a step refused: source=input (the caller's request) or source=server, and why",
)
DURATION = MetricSpec(
    "clinserve_step_duration_seconds",
    MetricKind.HISTOGRAM,
    ("model", "step"),
    "Wall time of one execution of a Python step (one batch of requests), in seconds",
)
METRICS: tuple[MetricSpec, ...] = (
    TEXTS,
    SEQUENCES,
    TOKENS,
    TRUNCATED_TEXTS,
    DROPPED_PIECES,
    ERRORS,
    DURATION,
)

# Upper bounds (seconds) of the duration buckets: from a short request's tokenization (~0.3 ms)
# to a request at the size limit (hundreds of ms), with room above for an overloaded host.
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

# Longest time counters wait between two reports (seconds): under load it turns one message per
# figure per execution into one per figure per second (docs/metrics.md, "What the metrics cost").
REPORT_INTERVAL_S = 1.0

TOKENIZER_STEP = "tokenizer"
POSTPROCESS_STEP = "postprocess"
# The kinds each step can report (every label set is created at load time).
TOKENIZER_ERRORS: tuple[tuple[ErrorSource, str], ...] = (
    *((ErrorSource.INPUT, k.value) for k in InputErrorKind if k is not InputErrorKind.INCONSISTENT_TENSORS),
    (ErrorSource.SERVER, ServerErrorKind.INTERNAL.value),
)
POSTPROCESS_ERRORS: tuple[tuple[ErrorSource, str], ...] = (
    (ErrorSource.INPUT, InputErrorKind.UNKNOWN_MODE.value),
    (ErrorSource.INPUT, InputErrorKind.INCONSISTENT_TENSORS.value),
    (ErrorSource.SERVER, ServerErrorKind.NONFINITE_LOGITS.value),
    (ErrorSource.SERVER, ServerErrorKind.INTERNAL.value),
)


@dataclass
class WorkTally:
    """What one tokenizer execution encoded, added up over its requests."""

    texts: int = 0
    sequences: int = 0
    real_tokens: int = 0
    padding_tokens: int = 0
    truncated_texts: int = 0
    dropped_pieces: int = 0

    def merge(self, other: WorkTally) -> None:
        """Add ``other``'s figures to these."""
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add(self, texts: int, encoded: EncodedBatch) -> None:
        """Count one answered request: ``texts`` texts encoded as ``encoded``."""
        real = int(encoded.attention_mask.sum())
        dropped = encoded.column(SequenceColumn.DROPPED)
        self.texts += texts
        self.sequences += encoded.num_sequences
        self.real_tokens += real
        self.padding_tokens += encoded.padded_tokens - real
        self.dropped_pieces += int(dropped.sum())
        if dropped.any():
            self.truncated_texts += len(np.unique(encoded.column(SequenceColumn.TEXT)[dropped > 0]))


@dataclass
class ErrorTally:
    """Refused requests of one execution, by (source, kind)."""

    counts: Counter[tuple[ErrorSource, str]] = field(default_factory=Counter)

    def add(self, source: ErrorSource, kind: str) -> None:
        """Count one refused request."""
        self.counts[source, kind] += 1


class StepMetrics:
    """The metric objects of one step of one model, created once when the model loads."""

    def __init__(
        self,
        pb_utils: Any,
        model: str,
        step: str,
        errors: Sequence[tuple[ErrorSource, str]],
        *,
        work: bool,
        interval_s: float = REPORT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the families and every label set.

        Args:
            pb_utils: The ``triton_python_backend_utils`` module.
            model: The public model (ensemble) name, the ``model`` label.
            step: ``tokenizer`` or ``postprocess``.
            errors: The (source, kind) pairs this step reports.
            work: Whether this step reports the texts, sequences and tokens (the tokenizer).
            interval_s: Longest wait between two reports of the counters.
            clock: Seconds, monotonic (tests pass their own).
        """
        self._interval_s = interval_s
        self._clock = clock
        self._last_report = -float("inf")  # the first execution reports at once
        self._pending_work = WorkTally()
        self._pending_errors = ErrorTally()
        specs = (ERRORS, DURATION, TEXTS, SEQUENCES, TOKENS, TRUNCATED_TEXTS, DROPPED_PIECES)
        families = {spec.name: _family(pb_utils, spec) for spec in (specs if work else specs[:2])}
        self._model = model
        self._step = step
        self._error_family = families[ERRORS.name]
        self._errors = {key: self._error_metric(key) for key in errors}
        self._duration = families[DURATION.name].Metric(
            labels={"model": model, "step": step}, buckets=list(DURATION_BUCKETS)
        )
        self._work: dict[str, Any] = {}
        if work:
            self._work = {
                "texts": families[TEXTS.name].Metric(labels={"model": model}),
                "sequences": families[SEQUENCES.name].Metric(labels={"model": model}),
                "real_tokens": families[TOKENS.name].Metric(labels={"model": model, "kind": "real"}),
                "padding_tokens": families[TOKENS.name].Metric(labels={"model": model, "kind": "padding"}),
                "truncated_texts": families[TRUNCATED_TEXTS.name].Metric(labels={"model": model}),
                "dropped_pieces": families[DROPPED_PIECES.name].Metric(labels={"model": model}),
            }
        # The families must outlive their metrics (a family's end removes its series).
        self._families = families

    def _error_metric(self, key: tuple[ErrorSource, str]) -> Any:
        source, kind = key
        labels = {"model": self._model, "step": self._step, "source": source.value, "kind": kind}
        return self._error_family.Metric(labels=labels)

    def report(self, seconds: float, errors: ErrorTally, work: WorkTally | None = None) -> None:
        """Record one execution: its duration now, its counts with the next report of the counters."""
        self._duration.observe(seconds)
        self._pending_errors.counts.update(errors.counts)
        if work is not None:
            self._pending_work.merge(work)
        if self._clock() - self._last_report >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        """Send every count not reported yet: one message per figure that is not 0."""
        self._last_report = self._clock()
        errors, self._pending_errors = self._pending_errors, ErrorTally()
        work, self._pending_work = self._pending_work, WorkTally()
        for key, count in errors.counts.items():
            if key not in self._errors:  # a kind not declared up front still gets counted
                self._errors[key] = self._error_metric(key)
            self._errors[key].increment(count)
        for name, metric in self._work.items():
            value = getattr(work, name)
            if value:
                metric.increment(value)


def _family(pb_utils: Any, spec: MetricSpec) -> Any:
    kinds = {
        MetricKind.COUNTER: pb_utils.MetricFamily.COUNTER,
        MetricKind.HISTOGRAM: pb_utils.MetricFamily.HISTOGRAM,
    }
    return pb_utils.MetricFamily(name=spec.name, description=spec.description, kind=kinds[spec.kind])


class NoMetrics:
    """Stands in for :class:`StepMetrics` where the server refused to create them."""

    def report(self, seconds: float, errors: ErrorTally, work: WorkTally | None = None) -> None:
        """Report nothing."""

    def flush(self) -> None:
        """Send nothing."""


def step_metrics(
    pb_utils: Any,
    model: str,
    step: str,
    errors: Sequence[tuple[ErrorSource, str]],
    *,
    work: bool,
) -> StepMetrics | NoMetrics:
    """:class:`StepMetrics`, or :class:`NoMetrics` with a logged warning when the server refuses them.

    A step whose metrics cannot be created still serves: metrics are worth less than the model
    loading. (Triton 2.51 started with ``--allow-metrics=false`` creates them without error.)
    """
    try:
        return StepMetrics(pb_utils, model, step, errors, work=work)
    except Exception as exc:
        pb_utils.Logger.log_warn(f"{model} {step}: no clinserve metrics ({type(exc).__name__}: {exc})")
        return NoMetrics()
