"""The reliability table, verdicts and JSON report (no server)."""

from __future__ import annotations

import json

from lab.driver import Call, Outcome
from reliability.outcomes import Tally
from reliability.report import COLUMNS, Row, ScenarioResult, render_details, render_table, table_rows, to_json


def scenario(name: str, outcomes: list[Outcome]) -> ScenarioResult:
    result = ScenarioResult(name)
    calls = [
        Call(0.0, 0.01 * (i + 1), outcome, "" if outcome is Outcome.ANSWERED else "kind")
        for i, outcome in enumerate(outcomes)
    ]
    result.rows = [Row(f"{name}: row", Tally.of(calls))]
    result.check_nothing_lost()
    return result


def test_a_scenario_passes_only_when_every_check_passes():
    good = scenario("good", [Outcome.ANSWERED, Outcome.FAILED])
    lost = scenario("lost", [Outcome.ANSWERED, Outcome.LOST])
    wrong = scenario("wrong", [Outcome.WRONG])
    assert good.passed and good.verdict == "PASS"
    assert not lost.passed and lost.verdict == "FAIL"
    assert not wrong.passed
    assert not ScenarioResult("no checks").passed


def test_a_baseline_is_reported_but_does_not_decide_the_run():
    baseline = scenario("before", [Outcome.LOST])
    baseline.baseline = True
    assert baseline.passed and baseline.verdict == "baseline"
    assert table_rows([baseline])[1][-1] == "baseline"


def test_the_table_has_one_line_per_row_with_counts_and_latency():
    results = [scenario("overload", [Outcome.ANSWERED, Outcome.ANSWERED, Outcome.FAILED]), scenario("x", [])]
    rows = table_rows(results)
    assert rows[0] == COLUMNS
    assert rows[1] == ("overload: row", "3", "2", "1", "0", "0", "15", "20", "PASS")
    assert rows[2][6:8] == ("-", "-")  # no answer, no latency
    text = render_table(results)
    lines = text.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1  # aligned
    assert lines[1].startswith("|-") and lines[1].endswith(":|")


def test_details_name_failed_checks_and_error_kinds():
    result = scenario("lost", [Outcome.LOST])
    result.facts["capacity_per_s"] = 12.5
    text = render_details([result])
    assert "lost (0 s): FAIL" in text
    assert "capacity_per_s: 12.5" in text
    assert "FAILED CHECK lost: row: lost = 0: lost 1" in text
    assert "1 x lost: kind" in text


def test_the_json_report_holds_every_count_and_the_overall_verdict():
    payload = json.loads(
        to_json([scenario("a", [Outcome.ANSWERED]), scenario("b", [Outcome.LOST])], profile="short")
    )
    assert payload["profile"] == "short" and payload["passed"] is False
    assert [s["verdict"] for s in payload["scenarios"]] == ["PASS", "FAIL"]
    assert payload["scenarios"][1]["rows"][0]["tally"]["lost"] == 1
