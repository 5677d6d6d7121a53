"""The Python steps' metrics: what an execution adds up, and how few messages it reports with.

The step modules take ``triton_python_backend_utils`` as an argument; here it is a recorder with
the same ``MetricFamily``/``Metric`` calls, so each test sees every call a report would make
(each one is a message from the stub to the Triton process on a real server).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from clinserve_preprocess.encoding import TextEncoder
from clinserve_preprocess.step_metrics import (
    DURATION,
    DURATION_BUCKETS,
    ERRORS,
    METRICS,
    POSTPROCESS_ERRORS,
    POSTPROCESS_STEP,
    REPORT_INTERVAL_S,
    TOKENIZER_ERRORS,
    TOKENIZER_STEP,
    ErrorSource,
    ErrorTally,
    NoMetrics,
    ServerErrorKind,
    StepMetrics,
    WorkTally,
    step_metrics,
)
from clinserve_preprocess.validation import InputErrorKind

METRICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


class FakeMetric:
    def __init__(self, calls: list[tuple[Any, ...]], family: str, labels: dict[str, str]) -> None:
        self.calls = calls
        self.key = (family, tuple(sorted(labels.items())))

    def increment(self, value: float) -> None:
        self.calls.append(("increment", self.key, value))

    def observe(self, value: float) -> None:
        self.calls.append(("observe", self.key, value))


class FakeFamily:
    COUNTER = "COUNTER"
    GAUGE = "GAUGE"
    HISTOGRAM = "HISTOGRAM"

    def __init__(self, calls: list[tuple[Any, ...]], name: str, description: str, kind: str) -> None:
        self.calls = calls
        self.name = name
        self.kind = kind
        calls.append(("family", name, kind))

    def Metric(self, labels: dict[str, str], buckets: list[float] | None = None) -> FakeMetric:
        assert (buckets is not None) == (self.kind == "HISTOGRAM"), self.name
        self.calls.append(("metric", self.name, tuple(sorted(labels.items())), buckets))
        return FakeMetric(self.calls, self.name, labels)


class FakeUtils:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        outer = self

        class MetricFamily(FakeFamily):
            def __init__(self, name: str, description: str, kind: str) -> None:
                super().__init__(outer.calls, name, description, kind)

        self.MetricFamily = MetricFamily


@pytest.fixture
def encoder(uncased_tokenizer) -> TextEncoder:
    return TextEncoder(uncased_tokenizer, 16)


def test_work_tally_counts_texts_sequences_tokens_and_truncation(encoder):
    long_text = " ".join(["word"] * 40)  # 40 pieces: 14 fit beside [CLS] and [SEP]
    tally = WorkTally()
    first = encoder.encode(["a short note", long_text], segmentation="whole")
    tally.add(2, first)
    second = encoder.encode(
        ["The patient improved. The dose was halved. She went home."], segmentation="sentences"
    )
    tally.add(1, second)
    assert tally.texts == 3
    assert tally.sequences == 2 + 3
    real = int(first.attention_mask.sum() + second.attention_mask.sum())
    assert tally.real_tokens == real
    assert tally.padding_tokens == first.input_ids.size + second.input_ids.size - real
    assert tally.truncated_texts == 1
    assert tally.dropped_pieces == 40 - 14


def test_truncated_text_counts_once_however_many_sentences_are_cut(encoder):
    cut = " ".join(["word"] * 20)
    batch = encoder.encode([f"The {cut}. The {cut}. She went home."], segmentation="sentences")
    tally = WorkTally()
    tally.add(1, batch)
    assert tally.sequences == 3
    assert tally.truncated_texts == 1
    assert tally.dropped_pieces == 2 * (22 - 14)  # "The", 20 words and "." per cut sentence


def test_every_label_set_exists_from_load_time():
    utils = FakeUtils()
    StepMetrics(utils, "treatment_changes", TOKENIZER_STEP, TOKENIZER_ERRORS, work=True)
    created = {(c[1], c[2]) for c in utils.calls if c[0] == "metric"}
    for source, kind in TOKENIZER_ERRORS:
        labels = (
            ("kind", kind),
            ("model", "treatment_changes"),
            ("source", source.value),
            ("step", "tokenizer"),
        )
        assert (ERRORS.name, labels) in created
    assert (DURATION.name, (("model", "treatment_changes"), ("step", "tokenizer"))) in created
    families = {c[1]: c[2] for c in utils.calls if c[0] == "family"}
    assert families == {spec.name: spec.kind.value.upper() for spec in METRICS}
    buckets = [c[3] for c in utils.calls if c[0] == "metric" and c[1] == DURATION.name]
    assert buckets == [list(DURATION_BUCKETS)]


def test_post_processor_creates_no_work_series():
    utils = FakeUtils()
    StepMetrics(utils, "biomarker", POSTPROCESS_STEP, POSTPROCESS_ERRORS, work=False)
    assert {c[1] for c in utils.calls if c[0] == "family"} == {ERRORS.name, DURATION.name}


def test_a_report_sends_one_message_per_figure_that_is_not_zero():
    utils = FakeUtils()
    metrics = StepMetrics(utils, "m", TOKENIZER_STEP, TOKENIZER_ERRORS, work=True)
    utils.calls.clear()
    work = WorkTally(texts=64, sequences=70, real_tokens=900, padding_tokens=100)
    errors = ErrorTally()
    errors.add(ErrorSource.INPUT, InputErrorKind.EMPTY_TEXT.value)
    errors.add(ErrorSource.INPUT, InputErrorKind.EMPTY_TEXT.value)
    metrics.report(0.004, errors, work)
    sent = [(c[0], c[1][0], dict(c[1][1]).get("kind"), c[2]) for c in utils.calls]
    assert sent == [
        ("observe", DURATION.name, None, 0.004),
        ("increment", ERRORS.name, "empty_text", 2),
        ("increment", "clinserve_texts_total", None, 64),
        ("increment", "clinserve_sequences_total", None, 70),
        ("increment", "clinserve_tokens_total", "real", 900),
        ("increment", "clinserve_tokens_total", "padding", 100),
    ]


def test_an_undeclared_kind_is_still_counted():
    utils = FakeUtils()
    metrics = StepMetrics(utils, "m", POSTPROCESS_STEP, POSTPROCESS_ERRORS, work=False)
    errors = ErrorTally()
    errors.add(ErrorSource.SERVER, "something_new")
    metrics.report(0.001, errors)
    assert (
        "increment",
        (
            ERRORS.name,
            (("kind", "something_new"), ("model", "m"), ("source", "server"), ("step", "postprocess")),
        ),
        1,
    ) in utils.calls


def test_each_step_declares_the_kinds_it_can_raise():
    tokenizer_kinds = {kind for _, kind in TOKENIZER_ERRORS}
    assert tokenizer_kinds == {k.value for k in InputErrorKind} - {"inconsistent_tensors"} | {"internal"}
    assert {kind for _, kind in POSTPROCESS_ERRORS} == {
        "unknown_mode",
        "inconsistent_tensors",
        ServerErrorKind.NONFINITE_LOGITS.value,
        ServerErrorKind.INTERNAL.value,
    }


def test_docs_list_every_series_and_every_error_kind():
    text = METRICS_DOC.read_text(encoding="utf-8")
    for spec in METRICS:
        assert f"| `{spec.name}` |" in text, spec.name
        for label in spec.labels:
            assert re.search(rf"^\| `{spec.name}` \|[^\n]*`{label}`", text, flags=re.MULTILINE), (
                spec.name,
                label,
            )
    kinds = {k.value for k in InputErrorKind} | {k.value for k in ServerErrorKind}
    for kind in kinds:
        assert f"| `{kind}` |" in text, kind


def test_a_server_that_refuses_metrics_still_loads_the_step():
    warnings: list[str] = []

    class Refusing:
        class MetricFamily:
            COUNTER = HISTOGRAM = "x"

            def __init__(self, **kwargs: Any) -> None:
                raise RuntimeError("metrics are disabled")

        class Logger:
            @staticmethod
            def log_warn(message: str) -> None:
                warnings.append(message)

    metrics = step_metrics(Refusing, "m", TOKENIZER_STEP, TOKENIZER_ERRORS, work=True)
    assert isinstance(metrics, NoMetrics)
    metrics.report(0.1, ErrorTally(), WorkTally(texts=1))
    assert warnings == ["m tokenizer: no clinserve metrics (RuntimeError: metrics are disabled)"]


def test_counters_wait_for_the_interval_and_go_out_summed():
    utils = FakeUtils()
    now = [100.0]
    metrics = StepMetrics(
        utils, "m", TOKENIZER_STEP, TOKENIZER_ERRORS, work=True, interval_s=1.0, clock=lambda: now[0]
    )
    errors = ErrorTally()
    errors.add(ErrorSource.INPUT, InputErrorKind.EMPTY_TEXT.value)
    metrics.report(0.002, ErrorTally(), WorkTally(texts=2, sequences=2, real_tokens=20, padding_tokens=4))
    utils.calls.clear()
    for _ in range(3):  # within the interval: only each execution's duration goes out
        now[0] += 0.25
        metrics.report(0.003, errors, WorkTally(texts=1, sequences=1, real_tokens=10, padding_tokens=6))
    assert [c[0] for c in utils.calls] == ["observe"] * 3
    utils.calls.clear()
    now[0] += 0.25  # one second since the last report: everything pending, summed
    metrics.report(0.004, ErrorTally(), WorkTally(texts=1, sequences=1, real_tokens=10, padding_tokens=6))
    sent = [(c[0], c[1][0], dict(c[1][1]).get("kind"), c[2]) for c in utils.calls]
    assert sent == [
        ("observe", DURATION.name, None, 0.004),
        ("increment", ERRORS.name, "empty_text", 3),
        ("increment", "clinserve_texts_total", None, 4),
        ("increment", "clinserve_sequences_total", None, 4),
        ("increment", "clinserve_tokens_total", "real", 40),
        ("increment", "clinserve_tokens_total", "padding", 24),
    ]


def test_flush_sends_what_is_pending_once():
    utils = FakeUtils()
    now = [0.0]
    metrics = StepMetrics(
        utils, "m", POSTPROCESS_STEP, POSTPROCESS_ERRORS, work=False, interval_s=1.0, clock=lambda: now[0]
    )
    metrics.report(0.001, ErrorTally())  # the first execution reports at once (nothing to count)
    errors = ErrorTally()
    errors.add(ErrorSource.SERVER, ServerErrorKind.NONFINITE_LOGITS.value)
    metrics.report(0.001, errors)
    utils.calls.clear()
    metrics.flush()  # the model is unloaded
    metrics.flush()
    assert [(c[0], dict(c[1][1])["kind"], c[2]) for c in utils.calls] == [
        ("increment", "nonfinite_logits", 1)
    ]


def test_docs_quote_the_report_interval():
    text = " ".join(METRICS_DOC.read_text(encoding="utf-8").split())
    assert REPORT_INTERVAL_S == 1.0, "docs/metrics.md says once per second: update it with the constant"
    assert "at most once per second per step instance" in text
