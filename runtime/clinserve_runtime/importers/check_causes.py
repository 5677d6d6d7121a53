"""Why a check failed, one line per cause, from the check's report.

A failed import (or ``parity`` run) prints these lines on stderr, so the cause is visible
without ``--accept-failed-checks`` and without reading the JSON record: a tokenizer that splits
texts differently, labels that differ, logits past the tolerance, answers that change with the
batch. Each function returns no line for a report whose check passed.
"""

from __future__ import annotations

from typing import Any

from clinserve_ensemble.catalog import ModelSpec

EXAMPLE_IDS = 8


def decision_words(spec: ModelSpec) -> tuple[str, str]:
    """What a decision is called for ``spec`` and what it is made on: ("labels", "texts"), …."""
    if spec.is_token_classifier:
        return "entity chunks", "texts"
    what = "label sets" if spec.task == "multi_label" else "labels"
    return what, "sentences" if spec.per_sentence else "texts"


def _tokenizer_cause(spec: ModelSpec, tokenizer: dict[str, Any]) -> list[str]:
    differing, compared = int(tokenizer.get("differing", 0)), int(tokenizer.get("sequences", 0))
    if not differing:
        return []
    line = (
        f"token ids differ on {differing} of {compared} sequences between the served tokenizer"
        f" ({'cased' if spec.cased else 'uncased'}) and the checkpoint's own; check the casing"
        " (tokenizer_config.json do_lower_case) and that the vocabulary belongs to the model"
    )
    examples = tokenizer.get("examples") or []
    if examples:
        first = examples[0]
        line += (
            f"; e.g. {first['text'][:40]!r}: checkpoint {first['source_ids'][:EXAMPLE_IDS]},"
            f" served {first['served_ids'][:EXAMPLE_IDS]}"
        )
    return [line]


def _decision_cause(spec: ModelSpec, report: dict[str, Any]) -> list[str]:
    differing = int(report.get("decisions_differing", 0))
    if not differing:
        return []
    what, units = decision_words(spec)
    line = f"{what} differ on {differing} of {report['decisions_compared']} {units}"
    mismatches = report.get("mismatches") or []
    if mismatches:
        first = mismatches[0]
        line += f" (first: text {first['text']}, expected {first['expected']}, got {first['actual']})"
    return [line]


def parity_causes(
    spec: ModelSpec, report: dict[str, Any], *, agreement_target: float | None = None
) -> list[str]:
    """Causes of a failed parity check against the PyTorch checkpoint.

    With ``agreement_target`` None the targets are exact (fp32: identical token ids and
    decisions, logits within the tolerance); with a target (an int8 graph) the token ids must
    still be identical, and the decisions must agree at least that often.
    """
    causes = _tokenizer_cause(spec, report.get("tokenizer") or {})
    if agreement_target is None or report["decision_agreement"] < agreement_target:
        causes += _decision_cause(spec, report)
    tolerance = float(report["logit_tolerance"])
    if agreement_target is None and report["max_abs_logit_diff"] > tolerance:
        causes.append(
            f"max |Δ logit| {report['max_abs_logit_diff']:.2e} exceeds the tolerance {tolerance:.0e}"
        )
    return causes


def agreement_causes(spec: ModelSpec, report: dict[str, Any]) -> list[str]:
    """Causes of a failed agreement check of an optimized graph (or fp16 run) with fp32."""
    target = float(report["agreement_target"])
    if report["unit_agreement"] >= target:
        return []
    units = "word tags" if report.get("units") == "words" else "sequence labels"
    line = (
        f"{units} agree on {report['unit_agreement']:.1%} ({report['units_differing']} of"
        f" {report['units_compared']} differ), below the {target:.0%} target"
    )
    mismatches = report.get("mismatches") or []
    if mismatches:
        first = mismatches[0]
        line += f" (first: text {first['text']}, fp32 {first['expected']}, optimized {first['actual']})"
    return [line]


def served_causes(
    spec: ModelSpec, report: dict[str, Any], *, exact: bool, agreement_target: float
) -> list[str]:
    """Causes of a failed comparison of the served ensemble with the PyTorch checkpoint."""
    causes = []
    if report["decision_agreement"] < (1.0 if exact else agreement_target):
        causes += _decision_cause(spec, report)
    tolerance = report.get("logit_tolerance")
    difference = report.get("max_abs_logit_diff_from_scores")
    if exact and tolerance is not None and difference is not None and difference > tolerance:
        causes.append(
            f"max |Δ logit| (from the served scores) {difference:.2e} exceeds the tolerance {tolerance:.0e}"
        )
    return causes
