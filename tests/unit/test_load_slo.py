"""Service-level thresholds of the load tests and their verdict."""

from __future__ import annotations

import json

import pytest

from load_tests.slo import (
    EndpointStats,
    RunStats,
    Thresholds,
    checks_json,
    evaluate,
    format_checks,
    parse_p95,
)


def stats(
    *rows: tuple[str, int, int, float | None], duration_s: float = 10.0, exceptions: int = 0
) -> RunStats:
    return RunStats(tuple(EndpointStats(*row) for row in rows), duration_s, exceptions)


def failed(checks) -> list[str]:
    return [c.check for c in checks if not c.passed]


def test_parse_p95_reads_a_general_limit_and_overrides():
    assert parse_p95("1000") == (1000.0, {})
    assert parse_p95("1000, biomarker=3000,biomarker/document=5000") == (
        1000.0,
        {"biomarker": 3000.0, "biomarker/document": 5000.0},
    )
    assert parse_p95("biomarker=3000") == (None, {"biomarker": 3000.0})
    assert parse_p95("off") == (None, {})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("0", "must be a positive number"),
        ("1000,2000", "more than one limit without a model name"),
        ("=300", "expected MS or NAME=MS"),
        ("1000,", "expected MS or NAME=MS"),
        ("biomarker=inf", "must be a positive number"),
    ],
)
def test_parse_p95_names_the_problem(spec, message):
    with pytest.raises(ValueError, match="--slo-p95-ms") as error:
        parse_p95(spec)
    assert message in str(error.value)


def test_p95_limit_lookup_prefers_the_most_specific_name():
    thresholds = Thresholds.from_options(0.0, "1000,biomarker=3000,biomarker/document=5000", 1.0)
    assert thresholds.p95_for("treatment_changes") == 1000
    assert thresholds.p95_for("biomarker") == 3000
    assert thresholds.p95_for("biomarker/sentences") == 3000
    assert thresholds.p95_for("biomarker/document") == 5000


def test_a_clean_run_passes_every_check():
    run = stats(("treatment_changes", 900, 0, 40.0), ("biomarker", 100, 0, 900.0))
    checks = evaluate(
        run, Thresholds.from_options(0.0, "1000", 50.0), expected=["treatment_changes", "biomarker"]
    )
    assert failed(checks) == []
    assert [c.check for c in checks] == [
        "failure ratio",
        "p95 treatment_changes",
        "p95 biomarker",
        "throughput",
    ]
    assert format_checks(checks).endswith("SLO PASSED")


def test_any_failure_breaks_the_default_zero_ratio():
    run = stats(("treatment_changes", 999, 1, 40.0))
    checks = evaluate(run, Thresholds.from_options(0.0, "1000", None))
    assert failed(checks) == ["failure ratio"]
    assert "1/999" in checks[0].observed


def test_failures_within_the_ratio_pass():
    run = stats(("treatment_changes", 1000, 5, 40.0))
    assert failed(evaluate(run, Thresholds.from_options(0.01, "off", None))) == []
    assert failed(evaluate(run, Thresholds.from_options(0.001, "off", None))) == ["failure ratio"]


def test_a_slow_model_fails_its_own_p95_check_only():
    run = stats(("treatment_changes", 500, 0, 40.0), ("biomarker", 50, 0, 3800.0))
    checks = evaluate(run, Thresholds.from_options(0.0, "2000", None))
    assert failed(checks) == ["p95 biomarker"]
    assert failed(evaluate(run, Thresholds.from_options(0.0, "2000,biomarker=4000", None))) == []


def test_p95_at_the_limit_passes():
    run = stats(("biomarker", 10, 0, 2000.0))
    assert failed(evaluate(run, Thresholds.from_options(0.0, "2000", None))) == []


def test_a_selected_model_without_calls_fails():
    run = stats(("treatment_changes", 500, 0, 40.0))
    checks = evaluate(
        run, Thresholds.from_options(0.0, "off", None), expected=["treatment_changes", "biomarker"]
    )
    assert failed(checks) == ["p95 biomarker"]
    assert checks[-1].observed == "no calls"


def test_throughput_below_the_minimum_fails():
    run = stats(("treatment_changes", 90, 0, 40.0), duration_s=10.0)
    assert run.rps == 9.0
    assert failed(evaluate(run, Thresholds.from_options(0.0, "off", 10.0))) == ["throughput"]
    assert failed(evaluate(run, Thresholds.from_options(0.0, "off", 9.0))) == []


def test_a_run_without_calls_fails():
    checks = evaluate(stats(), Thresholds.from_options(0.0, "1000", None))
    assert failed(checks) == ["calls made"]


def test_exceptions_in_the_locustfile_fail_the_run():
    run = stats(("treatment_changes", 100, 0, 40.0), exceptions=3)
    assert failed(evaluate(run, Thresholds.from_options(-1, "off", -1))) == ["locustfile errors"]


def test_negative_values_turn_checks_off():
    thresholds = Thresholds.from_options(-1, "off", -1)
    assert thresholds.max_failure_ratio is None and thresholds.min_rps is None
    run = stats(("treatment_changes", 100, 100, 40.0))
    assert evaluate(run, thresholds) == []
    assert thresholds.describe() == "none"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_failure_ratio": 1.5}, "--slo-max-failure-ratio must be in"),
        ({"min_rps": float("nan")}, "--slo-min-rps"),
    ],
)
def test_thresholds_refuse_impossible_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Thresholds(**kwargs)


def test_unused_overrides_are_reported():
    thresholds = Thresholds.from_options(0.0, "1000,biomarkr=3000,biomarker/document=5000", None)
    assert thresholds.unused_overrides(["biomarker/document", "treatment_changes"]) == ["biomarkr"]


def test_describe_and_json_carry_the_thresholds_and_the_verdict():
    thresholds = Thresholds.from_options(0.0, "1000,biomarker=3000", 5.0)
    assert (
        thresholds.describe()
        == "failure ratio <= 0, p95 <= 1000 ms (biomarker 3000 ms), throughput >= 5 req/s"
    )
    run = stats(("biomarker", 40, 0, 3500.0), duration_s=10.0)
    checks = evaluate(run, thresholds)
    table = format_checks(checks)
    assert "p95 biomarker" in table and "FAILED" in table
    assert table.splitlines()[-1] == "SLO FAILED: 2 of 3 checks"
    document = json.loads(checks_json(checks, thresholds, run))
    assert document["passed"] is False
    assert document["requests"] == 40 and document["rps"] == 4.0
    assert [c["check"] for c in document["checks"] if not c["passed"]] == ["p95 biomarker", "throughput"]
