"""The catalog is the one source of truth: check it against itself and against the seed cards."""

from __future__ import annotations

import re

import pytest

from clinserve_ensemble.catalog import CatalogError, parse_catalog
from tests.conftest import SHARED_SEEDS

VALID_ENTRY = """
[models.demo]
source_model = "x"
seed_card = "x.txt"
description = "d"
task = "single_label"
labels = ["a", "b"]
cased = true
max_tokens = 128
activation = "softmax"
per_sentence = false
"""


def test_catalog_lists_the_five_seed_models(catalog):
    assert sorted(catalog) == [
        "biomarker",
        "drug_development_trials",
        "pubmed_multilabel",
        "response_to_treatment",
        "treatment_changes",
    ]


def test_catalog_facts_match_the_design_table(catalog):
    facts = {
        name: (s.task, len(s.labels), s.cased, s.max_tokens, s.per_sentence) for name, s in catalog.items()
    }
    assert facts == {
        "treatment_changes": ("single_label", 2, True, 128, False),
        "response_to_treatment": ("single_label", 2, True, 128, False),
        "biomarker": ("single_label", 2, False, 512, True),
        "drug_development_trials": ("token_classification", 29, True, 128, False),
        "pubmed_multilabel": ("multi_label", 14, True, 256, False),
    }
    assert catalog["pubmed_multilabel"].threshold == 0.5
    assert catalog["pubmed_multilabel"].labels[2] == "Diseases [C]"


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason="shared/seeds is not beside this checkout")
def test_catalog_labels_and_casing_match_each_seed_card(catalog):
    for spec in catalog.values():
        card = (SHARED_SEEDS / spec.seed_card).read_text(encoding="utf-8")
        assert f"name: {spec.source_model}\n" in card
        section = card[card.index("## Predicted Entities") : card.index("{:.btn-box}")]
        card_labels = set(re.findall(r"`([^`]+)`", section))
        assert card_labels == set(spec.labels), spec.name
        cased = re.search(r"\|Case sensitive:\|(true|false)\|", card)
        assert cased is not None and (cased.group(1) == "true") == spec.cased, spec.name
        length = re.search(r"\|Max sentence length:\|(\d+)\|", card)
        if length is not None:
            assert int(length.group(1)) == spec.max_tokens, spec.name


def test_valid_entry_parses_and_derives_triton_names():
    spec = parse_catalog(VALID_ENTRY)["demo"]
    assert spec.triton_models == ("demo", "demo_tokenizer", "demo_onnx", "demo_postprocess")
    assert spec.threshold is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('task = "single_label"', "task 'regression' is not one of"),
        ('labels = ["a", "b"]', "labels must be a list of at least two"),
        ("max_tokens = 128", "max_tokens must be an integer"),
        ('activation = "softmax"', "activation 'relu'"),
    ],
)
def test_invalid_entries_are_refused_with_the_reason(change, message):
    replacement = {
        'task = "single_label"': 'task = "regression"',
        'labels = ["a", "b"]': 'labels = ["a"]',
        "max_tokens = 128": "max_tokens = 4096",
        'activation = "softmax"': 'activation = "relu"',
    }[change]
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_catalog(VALID_ENTRY.replace(change, replacement))


def test_multi_label_needs_sigmoid_and_gets_the_default_threshold():
    text = VALID_ENTRY.replace('task = "single_label"', 'task = "multi_label"')
    with pytest.raises(CatalogError, match="sigmoid"):
        parse_catalog(text)
    spec = parse_catalog(text.replace('"softmax"', '"sigmoid"'))["demo"]
    assert spec.threshold == 0.5


def test_token_labels_must_be_bio_tags():
    text = VALID_ENTRY.replace('task = "single_label"', 'task = "token_classification"')
    with pytest.raises(CatalogError, match="BIO tags"):
        parse_catalog(text)


def test_unknown_keys_are_refused():
    with pytest.raises(CatalogError, match="unknown keys"):
        parse_catalog(VALID_ENTRY + 'colour = "blue"\n')
