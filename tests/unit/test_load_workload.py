"""Model selection and weights of the load tests (``--models``, ``--payloads``)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from clinserve import KNOWN_MODELS
from lab.corpus import KINDS
from load_tests.workload import (
    DEFAULT_MODELS,
    DEFAULT_PAYLOADS,
    Target,
    Workload,
    parse_models,
    parse_payloads,
    parse_weights,
)


def test_parse_models_reads_models_modes_and_weights():
    targets = parse_models("treatment_changes:3, biomarker/document:0.5,drug_development_trials")
    assert targets == (
        Target("treatment_changes", None, 3.0),
        Target("biomarker", "document", 0.5),
        Target("drug_development_trials", None, 1.0),
    )
    assert [t.name for t in targets] == ["treatment_changes", "biomarker/document", "drug_development_trials"]


def test_one_model_in_two_modes_gives_two_targets():
    targets = parse_models("biomarker/document:1,biomarker/sentences:1")
    assert [t.name for t in targets] == ["biomarker/document", "biomarker/sentences"]


def test_default_models_cover_every_catalog_model(catalog):
    targets = parse_models(DEFAULT_MODELS)
    assert sorted(t.model for t in targets) == sorted(catalog) == sorted(KNOWN_MODELS)
    assert set(DEFAULT_PAYLOADS) == set(catalog)
    assert all(set(mix) <= set(KINDS) for mix in DEFAULT_PAYLOADS.values())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("treatment_change:1", "unknown model 'treatment_change'; the models are treatment_changes"),
        ("biomarker:0", "weight must be a positive number, got '0'"),
        ("biomarker:-2", "weight must be a positive number"),
        ("biomarker:nan", "weight must be a positive number"),
        ("biomarker:x", "weight 'x' is not a number"),
        ("biomarker,biomarker:2", "'biomarker' is listed twice"),
        ("biomarker,,pubmed_multilabel", "expected NAME[:WEIGHT] items"),
        ("", "expected NAME[:WEIGHT] items"),
        (":3", "has no name"),
        ("biomarker/paragraphs", "has mode 'paragraphs'; modes are whole, sentences, document, windows"),
    ],
)
def test_parse_models_names_the_problem(spec, message):
    with pytest.raises(ValueError, match="--models") as error:
        parse_models(spec)
    assert message in str(error.value)


def test_parse_weights_defaults_to_one():
    assert parse_weights("a,b:2", what="x") == {"a": 1.0, "b": 2.0}


def test_parse_payloads_refuses_unknown_kinds():
    assert parse_payloads("tweet:2,long") == {"tweet": 2.0, "long": 1.0}
    with pytest.raises(ValueError, match="unknown payload kind 'novel'; the kinds are tweet, sentence"):
        parse_payloads("tweet,novel")


def test_workload_uses_each_models_default_mix_unless_overridden():
    default = Workload.from_options("treatment_changes,pubmed_multilabel")
    assert default.payloads["treatment_changes"] == {"tweet": 1.0}
    assert default.payloads["pubmed_multilabel"] == DEFAULT_PAYLOADS["pubmed_multilabel"]
    override = Workload.from_options("treatment_changes,pubmed_multilabel", "long")
    assert override.payloads == {"treatment_changes": {"long": 1.0}, "pubmed_multilabel": {"long": 1.0}}


def test_shares_follow_the_weights():
    workload = Workload.from_options("treatment_changes:3,biomarker:1")
    assert workload.shares() == {"treatment_changes": 0.75, "biomarker": 0.25}


def test_pick_draws_targets_and_payloads_in_proportion():
    workload = Workload.from_options("treatment_changes:3,biomarker:1")
    rng = random.Random(7)
    picks = [workload.pick(rng) for _ in range(20_000)]
    targets = Counter(target.name for target, _ in picks)
    assert targets["treatment_changes"] / len(picks) == pytest.approx(0.75, abs=0.015)
    kinds = Counter(kind for target, kind in picks if target.model == "biomarker")
    biomarker_total = sum(kinds.values())
    mix = DEFAULT_PAYLOADS["biomarker"]
    for kind, weight in mix.items():
        assert kinds[kind] / biomarker_total == pytest.approx(weight / sum(mix.values()), abs=0.03)
    assert {kind for target, kind in picks if target.model == "treatment_changes"} == {"tweet"}


def test_describe_lists_every_target_with_its_share():
    text = Workload.from_options("treatment_changes:3,biomarker/document:1").describe()
    assert "treatment_changes" in text and "75.0% of calls" in text
    assert "biomarker/document" in text and "25.0% of calls" in text
