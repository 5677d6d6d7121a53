"""A short Locust run (about a minute) against the session's real server, through ``make load-test``'s runner.

The runner starts Locust as a subprocess (headless, bounded) with the project's locustfile; the
users call the five models over gRPC with the client library. On a 2-core machine Locust and
the server share the CPU, so the latency limit here is a sanity bound, not a performance claim;
zero failures is the real assertion.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from load_tests import run

pytestmark = pytest.mark.integration

MODELS = (
    "treatment_changes:3,response_to_treatment:3,biomarker:2,drug_development_trials:1,"
    "pubmed_multilabel:1,biomarker/document:1"
)
NAMES = [item.split(":")[0] for item in MODELS.split(",")]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.timeout(300)
def test_one_minute_step_ramp_over_grpc_has_no_failures(triton_server, tmp_path, capfd):
    code = run.main(
        [
            "--host",
            triton_server.grpc_url,
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--run-time",
            "60s",
            "--shape",
            "step",
            "--output",
            str(tmp_path),
            "--",
            "--models",
            MODELS,
            "--slo-max-failure-ratio",
            "0",
            "--slo-p95-ms",
            "30000",
            "--slo-min-rps",
            "1",
        ]
    )
    output = capfd.readouterr()
    log = output.out + output.err
    assert code == 0, log[-4000:]

    rows = {row["Name"]: row for row in read_rows(tmp_path / "clinserve_stats.csv")}
    assert set(rows) == {*NAMES, "Aggregated"}
    for name in NAMES:
        assert rows[name]["Type"] == "grpc"
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, name
        # Every call returns at least one prediction per text (the "content size").
        assert float(rows[name]["Average Content Size"]) >= 1, name
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["Aggregated"]["Request Count"]) >= 60
    # Per-sentence results count their sentences: biomarker answers carry more than one.
    assert float(rows["biomarker"]["Average Content Size"]) > 1

    # The step shape ran: the user count climbed 1 -> 2 -> 3 -> 4 (Locust samples it each second).
    history = read_rows(tmp_path / "clinserve_stats_history.csv")
    assert {1, 2, 3, 4} <= {int(row["User Count"]) for row in history}

    verdict = json.loads((tmp_path / "clinserve_slo.json").read_text(encoding="utf-8"))
    assert verdict["passed"] is True
    assert verdict["failures"] == 0
    assert {c["check"] for c in verdict["checks"]} >= {
        "failure ratio",
        "throughput",
        *(f"p95 {n}" for n in NAMES),
    }
    assert "Service-level thresholds: failure ratio <= 0, p95 <= 30000 ms, throughput >= 1 req/s" in log
    assert "SLO PASSED" in log
    assert "load generator (pid" in log

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "treatment_changes" in report and "biomarker/document" in report


@pytest.mark.timeout(120)
def test_a_broken_threshold_fails_the_run(triton_server, tmp_path, capfd):
    code = run.main(
        [
            "--host",
            triton_server.grpc_url,
            "--users",
            "2",
            "--spawn-rate",
            "2",
            "--run-time",
            "6s",
            "--output",
            str(tmp_path),
            "--",
            "--models",
            "treatment_changes",
            "--slo-p95-ms",
            "30000",
            "--slo-min-rps",
            "1000000",
        ]
    )
    log = "".join(capfd.readouterr())
    assert code == 1, log[-4000:]
    verdict = json.loads((tmp_path / "clinserve_slo.json").read_text(encoding="utf-8"))
    assert verdict["passed"] is False
    assert [c["check"] for c in verdict["checks"] if not c["passed"]] == ["throughput"]
    assert verdict["failures"] == 0 and verdict["requests"] > 0
    assert "SLO FAILED: 1 of 3 checks" in log


@pytest.mark.timeout(120)
def test_a_mode_the_model_lacks_stops_the_run_before_any_load(triton_server, tmp_path, capfd):
    code = run.main(
        [
            *("--host", triton_server.grpc_url, "--run-time", "30s", "--output", str(tmp_path)),
            *("--", "--models", "treatment_changes/windows"),
        ]
    )
    log = "".join(capfd.readouterr())
    assert code == 2, log[-4000:]
    assert "model 'treatment_changes' offers the modes" in log and "not 'windows'" in log
    assert not (tmp_path / "clinserve_slo.json").exists()
