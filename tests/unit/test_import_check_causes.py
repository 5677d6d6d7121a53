"""Every failed check says why, one line per cause (issue 16, finding 5 and item 4)."""

from __future__ import annotations

from clinserve_runtime.importers.check_causes import agreement_causes, parity_causes, served_causes


def parity_report(**overrides):
    report = {
        "texts": 64,
        "decisions_compared": 64,
        "decisions_differing": 0,
        "decision_agreement": 1.0,
        "max_abs_logit_diff": 2.03e-06,
        "logit_tolerance": 1e-3,
        "mismatches": [],
        "tokenizer": {"sequences": 64, "differing": 0, "examples": []},
    }
    report.update(overrides)
    return report


def test_a_passing_parity_report_has_no_cause(catalog):
    assert parity_causes(catalog["treatment_changes"], parity_report()) == []


def test_token_ids_that_differ_are_named_even_when_logits_and_labels_agree(catalog):
    # The finding: "max |Δ logit| 2.03e-06, agreement 100.0%, passed=False" and nothing more.
    tokenizer = {
        "sequences": 64,
        "differing": 64,
        "examples": [
            {"text": "I stopped taking metformin", "source_ids": [101, 1045], "served_ids": [101, 100]}
        ],
    }
    [cause] = parity_causes(catalog["treatment_changes"], parity_report(tokenizer=tokenizer))
    assert cause.startswith("token ids differ on 64 of 64 sequences between the served tokenizer (cased)")
    assert "do_lower_case" in cause and "checkpoint [101, 1045], served [101, 100]" in cause
    assert "\n" not in cause


def test_labels_and_logits_each_get_their_line(catalog):
    report = parity_report(
        decisions_compared=77,
        decisions_differing=3,
        decision_agreement=74 / 77,
        max_abs_logit_diff=0.02,
        mismatches=[{"text": 5, "expected": ["0"], "actual": ["1"]}],
    )
    causes = parity_causes(catalog["biomarker"], report)
    assert causes == [
        "labels differ on 3 of 77 sentences (first: text 5, expected ['0'], got ['1'])",
        "max |Δ logit| 2.00e-02 exceeds the tolerance 1e-03",
    ]
    # An int8 graph is held to decision agreement only: 74/77 is below 99%, the logits are not judged.
    assert parity_causes(catalog["biomarker"], report, agreement_target=0.99) == causes[:1]


def test_entity_chunks_and_label_sets_are_named_as_what_they_are(catalog):
    report = parity_report(decisions_differing=2, decision_agreement=62 / 64)
    assert parity_causes(catalog["drug_development_trials"], report)[0].startswith(
        "entity chunks differ on 2 of 64 texts"
    )
    assert parity_causes(catalog["pubmed_multilabel"], report)[0].startswith(
        "label sets differ on 2 of 64 texts"
    )


def test_profile_agreement_below_target_names_the_share_and_the_count(catalog):
    report = {
        "unit_agreement": 0.984,
        "units_differing": 1,
        "units_compared": 64,
        "agreement_target": 0.99,
        "units": "sequences",
    }
    assert agreement_causes(catalog["treatment_changes"], report) == [
        "sequence labels agree on 98.4% (1 of 64 differ), below the 99% target"
    ]
    report["mismatches"] = [{"text": 36, "expected": ["positive"], "actual": ["negative"]}]
    assert agreement_causes(catalog["treatment_changes"], report)[0].endswith(
        "target (first: text 36, fp32 ['positive'], optimized ['negative'])"
    )
    assert agreement_causes(catalog["treatment_changes"], {**report, "unit_agreement": 1.0}) == []


def test_served_comparison_names_labels_and_logits_from_scores(catalog):
    report = {
        "decisions_compared": 6,
        "decisions_differing": 1,
        "decision_agreement": 5 / 6,
        "mismatches": [],
        "max_abs_logit_diff_from_scores": 0.5,
        "logit_tolerance": 1e-3,
    }
    causes = served_causes(catalog["treatment_changes"], report, exact=True, agreement_target=0.99)
    assert causes == [
        "labels differ on 1 of 6 texts",
        "max |Δ logit| (from the served scores) 5.00e-01 exceeds the tolerance 1e-03",
    ]
