"""The dashboard and alert rules of deploy/k8s/components/observability, read for the tests.

``metric_names`` lists the series a PromQL expression reads, so that the unit tests can hold
them against docs/metrics.md and the integration test against what a running server exports.
Series that come from outside Triton (kube-state-metrics, Prometheus itself) cannot be exported
by the server; they are listed in ``EXTERNAL_SERIES`` with their source, and docs/metrics.md
lists the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
OBSERVABILITY = PROJECT_ROOT / "deploy" / "k8s" / "components" / "observability"
RULES_FILE = OBSERVABILITY / "prometheusrule.yaml"
DASHBOARD_FILE = OBSERVABILITY / "clinserve-dashboard.json"
RULE_SCHEMA = PROJECT_ROOT / "deploy" / "k8s" / "schemas" / "prometheusrule-monitoring.coreos.com-v1.json"

# Series the dashboard and rules read that Triton does not export: name -> where they come from.
EXTERNAL_SERIES = {
    "kube_deployment_status_replicas_available": "kube-state-metrics",
    "kube_deployment_spec_replicas": "kube-state-metrics",
    "up": "Prometheus (one per scraped target)",
}
# Grafana's variables, replaced by values PromQL accepts before an expression is parsed.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$namespace": "clinserve"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
}


def rule_document() -> dict[str, Any]:
    """The PrometheusRule object."""
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def all_rules() -> list[dict[str, Any]]:
    """Every rule (recording and alerting) of every group."""
    return [rule for group in rule_document()["spec"]["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict[str, Any]]:
    """The alerting rules."""
    return [rule for rule in all_rules() if "alert" in rule]


def recorded_series() -> set[str]:
    """Series the recording rules make (Prometheus computes them; no server exports them)."""
    return {rule["record"] for rule in all_rules() if "record" in rule}


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard."""
    return json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def dashboard_queries() -> dict[str, str]:
    """``"<panel title> <refId>"`` -> PromQL, Grafana variables replaced by plain values."""
    queries = {}
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries[f"{panel['title']} {target['refId']}"] = expr
    return queries


def rule_queries() -> dict[str, str]:
    """Alert or recorded series name -> PromQL."""
    return {rule.get("alert") or rule["record"]: rule["expr"] for rule in all_rules()}


def metric_names(expr: str) -> set[str]:
    """The series names an expression reads (not its functions, keywords or labels)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if name in _KEYWORDS or following.startswith("("):  # a function call
            continue
        names.add(name)
    return names


def variable_series() -> dict[str, str]:
    """Dashboard variable -> the series its ``label_values(series, label)`` query reads."""
    found = {}
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["definition"])
            assert match, f"variable {variable['name']}: unexpected query {variable['definition']!r}"
            found[variable["name"]] = match.group(1)
    return found


def used_series() -> dict[str, set[str]]:
    """Series name -> the panels, variables and rules that read it."""
    used: dict[str, set[str]] = {}
    for where, expr in {**dashboard_queries(), **rule_queries()}.items():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(where)
    for variable, name in variable_series().items():
        used.setdefault(name, set()).add(f"variable ${variable}")
    return used
