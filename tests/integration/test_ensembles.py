"""All five ensembles end to end on a real Triton server, on the seed cards' sample texts."""

from __future__ import annotations

import json

import pytest
import tritonclient.grpc as grpcclient

from tests.integration.triton_calls import infer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as c:
        yield c


def test_every_catalog_model_is_served_and_ready(client, catalog):
    for spec in catalog.values():
        for name in spec.triton_models:
            assert client.is_model_ready(name), name


def test_ensemble_config_describes_the_model_and_declares_untrained_weights(client, catalog):
    for spec in catalog.values():
        config = client.get_model_config(spec.name, as_json=True)["config"]
        params = {k: v["string_value"] for k, v in config["parameters"].items()}
        assert json.loads(params["labels"]) == list(spec.labels)
        assert params["task"] == spec.task
        assert params["untrained"] == "true" and params["weights"] == "demo-tiny"


def _common(result, name):
    assert result["model"] == name
    assert result["untrained"] is True
    assert result["schema_version"] == 1


@pytest.mark.parametrize("name", ["treatment_changes", "response_to_treatment"])
def test_single_label_models_answer_each_sample(client, catalog, seed_samples, name):
    texts = seed_samples[name]
    results = infer(client, name, texts)
    assert len(results) == len(texts)
    for result in results:
        _common(result, name)
        assert result["label"] in catalog[name].labels
        assert [s["label"] for s in result["scores"]] == list(catalog[name].labels)
        assert sum(s["score"] for s in result["scores"]) == pytest.approx(1.0, abs=1e-4)
        assert result["score"] == max(s["score"] for s in result["scores"])
        assert result["truncated"] is False


def test_biomarker_answers_per_sentence_with_exact_spans(client, seed_samples):
    text = seed_samples["biomarker"][0]
    (result,) = infer(client, "biomarker", [text])
    _common(result, "biomarker")
    sentences = result["sentences"]
    # The card's results table shows these seven sentences.
    assert len(sentences) == 7
    assert sentences[1]["text"].startswith("For instance, the expression levels of HER2/neu")
    for index, sentence in enumerate(sentences):
        assert sentence["index"] == index
        assert text[sentence["begin"] : sentence["end"]] == sentence["text"]
        assert sentence["label"] in ("0", "1")


def test_drug_development_trials_returns_entities_with_offsets_into_the_text(client, catalog, seed_samples):
    text = seed_samples["drug_development_trials"][0]
    (result,) = infer(client, "drug_development_trials", [text])
    _common(result, "drug_development_trials")
    entity_types = {
        label[2:] for label in catalog["drug_development_trials"].labels if label[:2] in ("B-", "I-")
    }
    assert result["entities"], "untrained weights still tag some words"
    for entity in result["entities"]:
        assert entity["entity"] in entity_types
        assert text[entity["begin"] : entity["end"]] == entity["text"]
        assert 0.0 < entity["confidence"] <= 1.0


def test_pubmed_multilabel_returns_labels_above_the_threshold(client, catalog, seed_samples):
    (result,) = infer(client, "pubmed_multilabel", seed_samples["pubmed_multilabel"])
    _common(result, "pubmed_multilabel")
    assert len(result["scores"]) == 14
    above = sorted(s["label"] for s in result["scores"] if s["score"] > result["threshold"])
    assert sorted(x["label"] for x in result["labels"]) == above
    assert all(x["label"] in catalog["pubmed_multilabel"].labels for x in result["labels"])


def test_entity_offsets_are_exact_for_non_ascii_text(client):
    text = "Am 3. Juni 2003 erhielten 23 Patientïnnen 🙂 Topotecan (東京) über 4,0 Monate. Café-Studie."
    (result,) = infer(client, "drug_development_trials", [text])
    for entity in result["entities"]:
        assert text[entity["begin"] : entity["end"]] == entity["text"]


def test_same_text_gets_the_same_answer_alone_and_in_a_batch(client, seed_samples):
    texts = seed_samples["response_to_treatment"]
    batch = infer(client, "response_to_treatment", texts)
    alone = infer(client, "response_to_treatment", [texts[3]])[0]
    assert alone["label"] == batch[3]["label"]
    assert alone["score"] == pytest.approx(batch[3]["score"], abs=1e-5)
