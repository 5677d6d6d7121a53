"""The dashboard and alert rules (deploy/k8s/components/observability) parse and read real series.

Always: the PrometheusRule against a strict schema, every rule's required parts, the dashboard's
panels, and every series a panel or rule reads against the series docs/metrics.md documents (or
the allow-list of external series). When ``promtool`` (Debian package ``prometheus``) is on PATH,
it parses the rules and every dashboard query too, and runs the rules' unit tests
(tests/fixtures/alert_rules_test.yaml: recorded values and firing alerts on Triton-like
series). That the server really exports the series is checked against a running server in
tests/integration/test_metrics.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from clinserve_runtime.configs import ServingSettings
from tests.observability import (
    EXTERNAL_SERIES,
    RULE_SCHEMA,
    alert_rules,
    dashboard,
    dashboard_queries,
    metric_names,
    recorded_series,
    rule_document,
    rule_queries,
    used_series,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
METRICS_DOC = PROJECT_ROOT / "docs" / "metrics.md"
RULES_TEST = PROJECT_ROOT / "tests" / "fixtures" / "alert_rules_test.yaml"
# What the issue asks the dashboard to show, as words its panel titles must contain.
REQUIRED_PANELS = {
    "throughput in texts/s": ("throughput", "texts/s"),
    "latency percentiles": ("latency", "p95"),
    "queue time per step": ("queue time per step",),
    "batch size per step": ("batch size per step",),
    "error ratio by kind": ("error ratio by kind",),
    "padding ratio": ("padding ratio",),
    "pod count": ("pods",),
}
REQUIRED_ALERTS = {
    "ClinServeServerErrorRatioHigh",
    "ClinServeInputErrorRatioHigh",
    "ClinServeQueueTimeNearTimeout",
    "ClinServePythonStubDead",
    "ClinServeNoReadyReplicas",
}


def test_rules_match_the_strict_schema():
    schema = json.loads(RULE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(rule_document())


def test_the_schema_rejects_a_misspelt_rule_field():
    schema = json.loads(RULE_SCHEMA.read_text(encoding="utf-8"))
    document = rule_document()
    document["spec"]["groups"][0]["rules"][0]["expresion"] = "up"
    with pytest.raises(jsonschema.ValidationError, match="expresion"):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_every_alert_is_asked_for_and_says_what_to_do():
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]


def test_expressions_are_balanced():
    # A cheap syntax check that runs without promtool: brackets and quotes pair up.
    pairs = {")": "(", "]": "[", "}": "{"}
    for where, expr in {**rule_queries(), **dashboard_queries()}.items():
        stack: list[str] = []
        for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], f"{where}: unbalanced {char!r} in {expr}"
        assert not stack, f"{where}: unclosed {stack} in {expr}"
        assert expr.count('"') % 2 == 0, f"{where}: unpaired quote"


def test_queue_alert_fires_at_half_of_the_configured_queue_timeout():
    # The rule cannot read the model configs; it quotes the generator's figure, checked here.
    (rule,) = [r for r in alert_rules() if r["alert"] == "ClinServeQueueTimeNearTimeout"]
    match = re.search(r">\s*0\.5\s*\*\s*(\d+)\s*$", rule["expr"])
    assert match, rule["expr"]
    timeout_us = ServingSettings().queue_timeout_us
    assert int(match.group(1)) == timeout_us
    assert f"{timeout_us:,}" in Path(RULE_SCHEMA).parents[1].joinpath(
        "components", "observability", "prometheusrule.yaml"
    ).read_text(encoding="utf-8")
    assert "nv_inference_queue_summary_us" in metric_names(rule["expr"])


def test_dashboard_has_every_panel_asked_for():
    board = dashboard()
    titles = [panel["title"].lower() for panel in board["panels"]]
    for what, words in REQUIRED_PANELS.items():
        assert any(all(w in title for w in words) for title in titles), f"no panel for {what}: {titles}"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "namespace"}


def documented_series() -> set[str]:
    """Series named in the first column of docs/metrics.md's tables."""
    text = METRICS_DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_:][a-z0-9_:]*)`", text, flags=re.MULTILINE))


def test_recorded_series_follow_the_naming_convention_and_are_read():
    # level:metric:operations (Prometheus' convention); a recording rule nothing reads is dead.
    used = used_series()
    for name in recorded_series():
        assert re.fullmatch(r"clinserve:[a-z_]+:rate\d+m", name), name
        assert name in used, f"{name} is recorded but no panel or rule reads it"


def test_every_series_a_panel_or_rule_reads_is_documented():
    documented = documented_series()
    for name, where in used_series().items():
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name.startswith("clinserve_") else name
        assert base in documented or name in documented, (
            f"{name} (read by {sorted(where)}) is not in docs/metrics.md"
        )


def test_external_series_are_documented_as_such():
    text = METRICS_DOC.read_text(encoding="utf-8")
    for name, source in EXTERNAL_SERIES.items():
        assert f"| `{name}` | {source}" in text, name
    assert set(EXTERNAL_SERIES) <= set(used_series()), "an allow-listed series no panel or rule reads"


def test_metric_names_ignores_functions_labels_and_strings():
    expr = (
        'sum by (model) (rate(a_total{model=~"x_(tokenizer|onnx)"}[5m])) / on (model) group_left ()'
        ' label_join(b_us{q="0.5"}, "model", "_", "model", "step") > 0.5 * 2e6'
    )
    assert metric_names(expr) == {"a_total", "b_us"}


promtool = shutil.which("promtool")


@pytest.mark.skipif(promtool is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_parses_the_rules_and_every_dashboard_query(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule_document()["spec"]), encoding="utf-8")
    # Dashboard queries as recording rules: promtool parses each expression.
    records = [
        {"record": f"clinserve:dashboard:{index}", "expr": expr}
        for index, expr in enumerate(dashboard_queries().values())
    ]
    queries = tmp_path / "dashboard.yaml"
    queries.write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}), encoding="utf-8"
    )
    assert promtool is not None
    for path in (rules, queries):
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"promtool check rules {path.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.skipif(promtool is None, reason="promtool not installed (Debian package prometheus)")
def test_rules_compute_and_fire_as_documented_on_triton_like_series(tmp_path):
    # Two scenarios: callers sending empty texts (input-error alert only); a dead stub, a queue
    # near its timeout and no ready replica (the other four). Expected values in the fixture.
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_document()["spec"]), encoding="utf-8")
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    assert promtool is not None
    result = subprocess.run(
        [promtool, "test", "rules", RULES_TEST.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


def test_the_rules_test_covers_every_alert():
    tests = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))["tests"]
    fired = set(re.findall(r'alertname="(\w+)"', json.dumps(tests).replace('\\"', '"')))
    assert fired == REQUIRED_ALERTS
