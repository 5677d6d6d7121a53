"""Documents of any length: modes per request, windows that drop nothing, offsets into the original."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve_preprocess.sentences import split_sentences
from tests.integration.triton_calls import text_input

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as c:
        yield c


def call(client, model, texts, mode=None):
    parameters = {"mode": mode} if mode else None
    response = client.infer(model, [text_input(texts)], parameters=parameters)
    return [json.loads(doc) for doc in response.as_numpy("RESULT")]


def clinical_note(sentences: int) -> str:
    """A long note with CRLF line ends, non-ASCII and numbers that the demo model tags."""
    rng = np.random.default_rng(7)
    lines = []
    for i in range(sentences):
        dose = rng.integers(1, 90)
        lines.append(
            f"Day {i}: {dose} patients on topotecan 4.{i % 10} mg reported fièvre;"
            f" median survival {dose}.5 months."
        )
    return "\r\n".join(lines)


def test_windows_mode_sees_the_whole_note_and_every_offset_is_exact(client):
    text = clinical_note(120)  # about 12,000 characters, far over one 128-token window
    (result,) = call(client, "drug_development_trials", [text])
    assert result["mode"] == "windows"
    assert result["truncated"] is False and result["dropped_tokens"] == 0
    assert result["entities"]
    for entity in result["entities"]:
        assert text[entity["begin"] : entity["end"]] == entity["text"]
        assert entity["sentence"] == 0
    # Entities are found to the end of the note, not only in the first window.
    assert max(e["end"] for e in result["entities"]) > len(text) * 0.9
    ordered = [(e["begin"], e["end"]) for e in result["entities"]]
    assert ordered == sorted(ordered)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered)), "no entity twice"


def test_windows_of_a_short_text_equal_the_single_sequence_answer(client, seed_samples):
    text = seed_samples["drug_development_trials"][0]
    assert call(client, "drug_development_trials", [text]) == call(
        client, "drug_development_trials", [text], "windows"
    )


def test_sentences_mode_for_entities_gives_each_its_sentence(client):
    text = clinical_note(6)
    (result,) = call(client, "drug_development_trials", [text], "sentences")
    spans = split_sentences(text)
    assert result["mode"] == "sentences"
    for entity in result["entities"]:
        begin, end = spans[entity["sentence"]]
        assert begin <= entity["begin"] < entity["end"] <= end
        assert text[entity["begin"] : entity["end"]] == entity["text"]


def test_sequence_classifiers_offer_whole_sentences_and_document_modes(client, seed_samples):
    text = seed_samples["biomarker"][0]
    (by_sentence,) = call(client, "biomarker", [text])  # the catalog's default for biomarker
    assert by_sentence["mode"] == "sentences" and len(by_sentence["sentences"]) == 7
    (document,) = call(client, "biomarker", [text], "document")
    assert document["sentence_count"] == 7
    mean = np.mean(
        [[s["score"] for s in sentence["scores"]] for sentence in by_sentence["sentences"]], axis=0
    )
    assert [s["score"] for s in document["scores"]] == pytest.approx(mean.tolist(), abs=1e-5)
    (whole,) = call(client, "biomarker", [text], "whole")
    assert whole["mode"] == "whole" and "sentences" not in whole


def test_whole_mode_says_how_much_it_truncated(client):
    text = clinical_note(40)
    (result,) = call(client, "treatment_changes", [text], "whole")
    assert result["truncated"] is True and result["dropped_tokens"] > 500
    (per_sentence,) = call(client, "treatment_changes", [text], "sentences")
    assert len(per_sentence["sentences"]) == 40 and per_sentence["truncated"] is False


def test_multi_label_document_mode_thresholds_the_mean(client, seed_samples):
    (result,) = call(client, "pubmed_multilabel", seed_samples["pubmed_multilabel"], "document")
    above = sorted(s["label"] for s in result["scores"] if s["score"] > result["threshold"])
    assert sorted(x["label"] for x in result["labels"]) == above


@pytest.mark.parametrize(
    ("model", "mode"), [("treatment_changes", "windows"), ("drug_development_trials", "document")]
)
def test_a_mode_the_model_does_not_offer_is_refused(client, model, mode):
    with pytest.raises(InferenceServerException) as info:
        call(client, model, ["Some text."], mode)
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "choose one of" in str(info.value)
