"""The client library against the session's real Triton server: every task, long lists, errors."""

from __future__ import annotations

import asyncio
import time

import pytest
import tritonclient.grpc as grpcclient

from clinserve import (
    AsyncClinServeClient,
    ChannelOptions,
    ClassificationResult,
    ClinServeClient,
    DeadlineExceededError,
    EntitiesResult,
    InvalidInputError,
    ModelNotFoundError,
    MultiLabelResult,
    RetryPolicy,
    SentenceResult,
    UnavailableError,
    admin_headers,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(triton_server):
    with ClinServeClient(triton_server.grpc_url) as c:
        c.wait_until_ready(timeout_s=60)
        yield c


def _check_common(result, name):
    assert result.model == name
    assert result.untrained is True and result.weights == "demo-tiny"


@pytest.mark.parametrize("name", ["treatment_changes", "response_to_treatment"])
def test_classify_answers_each_seed_sample_with_every_label_score(client, catalog, seed_samples, name):
    texts = seed_samples[name]
    results = client.classify(name, texts)
    assert len(results) == len(texts)
    for result in results:
        assert isinstance(result, ClassificationResult)
        _check_common(result, name)
        assert [s.label for s in result.scores] == list(catalog[name].labels)
        assert sum(s.score for s in result.scores) == pytest.approx(1.0, abs=1e-5)
        assert result.score == max(s.score for s in result.scores)
        assert result.label in catalog[name].labels


def test_classify_multi_label_returns_labels_above_the_threshold(client, catalog, seed_samples):
    [result] = client.classify_multi_label("pubmed_multilabel", seed_samples["pubmed_multilabel"])
    assert isinstance(result, MultiLabelResult)
    _check_common(result, "pubmed_multilabel")
    assert result.threshold == catalog["pubmed_multilabel"].threshold
    assert [s.label for s in result.scores] == list(catalog["pubmed_multilabel"].labels)
    above = sorted((s for s in result.scores if s.score > result.threshold), key=lambda s: -s.score)
    assert [s.label for s in result.labels] == [s.label for s in above]


def test_classify_sentences_gives_each_sentence_its_span(client, seed_samples):
    [text] = seed_samples["biomarker"]
    [result] = client.classify_sentences("biomarker", [text])
    assert isinstance(result, SentenceResult)
    _check_common(result, "biomarker")
    assert len(result.sentences) >= 5
    for index, sentence in enumerate(result.sentences):
        assert sentence.index == index
        assert text[sentence.begin : sentence.end] == sentence.text
        assert sentence.label in ("0", "1")
    assert [s.begin for s in result.sentences] == sorted(s.begin for s in result.sentences)


def test_extract_entities_offsets_point_into_the_text(client, seed_samples):
    [text] = seed_samples["drug_development_trials"]
    [result] = client.extract_entities("drug_development_trials", [text])
    assert isinstance(result, EntitiesResult)
    _check_common(result, "drug_development_trials")
    assert result.entities, "the untrained demo model still tags some words"
    for entity in result.entities:
        assert text[entity.begin : entity.end] == entity.text
        assert 0.0 < entity.confidence <= 1.0
        assert not entity.entity.startswith(("B-", "I-")) and entity.entity not in ("O", "PAD")


def test_predict_dispatches_on_the_models_metadata(client, seed_samples):
    expected = {
        "treatment_changes": ClassificationResult,
        "response_to_treatment": ClassificationResult,
        "biomarker": SentenceResult,
        "drug_development_trials": EntitiesResult,
        "pubmed_multilabel": MultiLabelResult,
    }
    for name, kind in expected.items():
        results = client.predict(name, seed_samples[name])
        assert len(results) == len(seed_samples[name])
        assert all(type(r) is kind for r in results), name


def test_list_models_without_the_admin_key_probes_the_catalog(client, catalog):
    models = client.list_models()
    assert [m.name for m in models] == sorted(catalog)
    for info in models:
        assert info.labels == tuple(catalog[info.name].labels)
        assert info.untrained is True


def test_list_models_with_the_admin_key_reads_the_model_index(triton_server, catalog):
    options = ChannelOptions(headers=admin_headers(triton_server.admin_key))
    with ClinServeClient(triton_server.grpc_url, options=options) as admin:
        models = admin.list_models()
    assert [m.name for m in models] == sorted(catalog)


def test_model_info_is_cached(client):
    assert client.model_info("biomarker") is client.model_info("biomarker")
    assert client.model_info("biomarker", refresh=True) == client.model_info("biomarker")


def test_a_long_list_is_split_into_requests_and_comes_back_in_order(client):
    texts = [f"Sentence number {i} mentions HER2." for i in range(150)]
    progress: list[tuple[int, int]] = []
    results = client.predict(
        "biomarker", texts, on_progress=lambda done, total: progress.append((done, total))
    )
    assert [r.sentences[0].text for r in results] == texts  # the server echoes each text's sentence
    # Requests of 64 + 64 + 22 texts complete in any order; progress only grows, to the total.
    assert progress[-1] == (150, 150)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert {done for done, _ in progress} <= {22, 64, 86, 128, 150}


def test_classification_of_a_long_list_matches_one_by_one_calls(client):
    texts = [f"I stopped taking drug number {i} because of headaches." for i in range(70)]
    together = client.classify("treatment_changes", texts)
    for index in (0, 63, 64, 69):
        [alone] = client.classify("treatment_changes", [texts[index]])
        assert together[index].label == alone.label
        assert together[index].score == pytest.approx(alone.score, abs=1e-4)


@pytest.fixture(scope="module")
def max_sequences(triton_server):
    """The biomarker tokenizer's limit on model sequences per request (a server setting)."""
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as raw:
        config = raw.get_model_config("biomarker_tokenizer", as_json=True)["config"]
    return int(config["parameters"]["max_sequences_per_request"]["string_value"])


def test_requests_needing_too_many_sequences_are_split_further(client, max_sequences):
    per_text = max_sequences // 64 + 2  # 64 texts of this many sentences exceed one request
    texts = [" ".join(f"Text {i} sentence {j}." for j in range(per_text)) for i in range(64)]
    results = client.classify_sentences("biomarker", texts)
    assert [len(r.sentences) for r in results] == [per_text] * 64
    assert [r.sentences[0].text for r in results] == [f"Text {i} sentence 0." for i in range(64)]


def test_one_text_too_large_for_a_request_is_sent_in_parts(client, max_sequences):
    text = " ".join(f"Short sentence {i}." for i in range(max_sequences + 10))
    [result] = client.classify_sentences("biomarker", [text])
    assert [s.text for s in result.sentences] == [f"Short sentence {i}." for i in range(max_sequences + 10)]
    assert [s.index for s in result.sentences] == list(range(max_sequences + 10))


def test_entities_per_sentence_of_a_text_too_large_for_a_request_are_sent_in_parts(client, max_sequences):
    count = max_sequences + 10  # more sentences than one request may carry
    text = "Short sentence here. " * count
    [result] = client.extract_entities("drug_development_trials", [text], mode="sentences")
    assert isinstance(result, EntitiesResult) and result.mode == "sentences"
    assert result.sentence_count == count and result.sentence_spans is not None
    assert [text[b:e] for b, e in result.sentence_spans] == ["Short sentence here."] * count
    for entity in result.entities:
        begin, end = result.sentence_spans[entity.sentence]
        assert begin <= entity.begin < entity.end <= end and text[entity.begin : entity.end] == entity.text
    # Every sentence is the same text, read alone: each gets the same entities, in order.
    [alone] = client.extract_entities("drug_development_trials", ["Short sentence here."], mode="sentences")
    found = [(e.entity, e.text) for e in result.entities]
    assert found == [(e.entity, e.text) for e in alone.entities] * count


def test_document_mode_gives_one_averaged_classification_per_text(client, seed_samples):
    [text] = seed_samples["biomarker"]
    [per_sentence] = client.classify_sentences("biomarker", [text])
    [document] = client.classify("biomarker", [text], mode="document")
    assert isinstance(document, ClassificationResult) and document.mode == "document"
    assert document.sentence_count == len(per_sentence.sentences)
    for position, label_score in enumerate(document.scores):
        mean = sum(s.scores[position].score for s in per_sentence.sentences) / len(per_sentence.sentences)
        assert label_score.score == pytest.approx(mean, abs=1e-5)


def test_sentences_mode_on_a_multi_label_model_labels_each_sentence(client):
    text = "Hepatitis C affects millions. Anxiety scores fell."
    [result] = client.classify_sentences("pubmed_multilabel", [text], mode="sentences")
    assert [s.text for s in result.sentences] == ["Hepatitis C affects millions.", "Anxiety scores fell."]
    for sentence in result.sentences:
        assert sentence.label is None and sentence.threshold == 0.5
        assert all(item.score > 0.5 for item in sentence.labels)


def test_a_mode_the_model_does_not_offer_is_refused_before_sending(client):
    with pytest.raises(InvalidInputError, match="offers the modes sentences, windows, not 'whole'"):
        client.extract_entities("drug_development_trials", ["text"], mode="whole")


def test_an_unknown_model_raises_model_not_found_with_the_servers_message(client):
    with pytest.raises(
        ModelNotFoundError, match=r"unknown model: 'no_such_model'.*the server serves biomarker,"
    ):
        client.classify("no_such_model", ["text"])


def test_a_model_name_in_the_wrong_case_is_pointed_out(client):
    with pytest.raises(ModelNotFoundError, match="names are case-sensitive: did you mean 'biomarker'"):
        client.classify_sentences("BioMarker", ["text"])


def test_an_internal_pipeline_step_is_not_callable_as_a_model(client):
    with pytest.raises(ModelNotFoundError, match="not a clinserve model"):
        client.predict("biomarker_tokenizer", ["text"])


def test_the_wrong_task_call_names_the_right_one(client):
    with pytest.raises(InvalidInputError, match=r"classify_sentences\(\)"):
        client.classify("biomarker", ["text"])


def test_an_empty_text_is_refused_with_its_index(client):
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is empty"):
        client.classify("treatment_changes", ["fine", "   "])


def test_a_text_over_the_servers_length_limit_without_whitespace_cannot_be_split(client):
    with pytest.raises(InvalidInputError, match=r"texts\[0\] .*hold no whitespace: a document is split only"):
        client.classify("treatment_changes", ["a" * 2_000_001])


def test_a_refusal_in_a_later_request_names_the_text_by_its_index_in_the_callers_list(client):
    texts = ["A short note."] * 70
    texts[66] = "x" * 60_000  # longer than one request may carry, with nowhere to cut it
    refusal = r"^texts\[66\] \(60,000 characters, sent in parts\): .*no whitespace"
    with pytest.raises(InvalidInputError, match=refusal):
        client.extract_entities("drug_development_trials", texts)


def test_a_passed_deadline_raises_deadline_exceeded_and_the_client_still_works(client):
    texts = ["A long clinical note about treatment. " * 40] * 64
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        client.classify("treatment_changes", texts, timeout_s=0.005)
    assert isinstance(caught.value, TimeoutError)
    assert time.monotonic() - started < 2.0
    assert len(client.classify("treatment_changes", ["still fine"])) == 1


def test_wait_until_ready_times_out_naming_what_is_missing(client):
    with pytest.raises(DeadlineExceededError, match="model 'no_such_model' not ready"):
        client.wait_until_ready(timeout_s=0.5, models=["no_such_model"])
    client.wait_until_ready(timeout_s=5, models=["biomarker", "pubmed_multilabel"])


def test_an_unreachable_server_is_unavailable_after_the_retries():
    from clinserve_runtime.triton import free_ports

    [port] = free_ports(1)
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
    with ClinServeClient(f"127.0.0.1:{port}", retry=retry) as nobody:
        assert nobody.is_ready() is False
        with pytest.raises(UnavailableError) as caught:
            nobody.classify("treatment_changes", ["text"], timeout_s=5)
    assert caught.value.attempts == 3


def test_async_client_runs_every_task_and_long_lists(triton_server, seed_samples):
    async def scenario():
        async with AsyncClinServeClient(triton_server.grpc_url) as client:
            await client.wait_until_ready(timeout_s=30)
            classified = await client.classify("treatment_changes", seed_samples["treatment_changes"])
            multi = await client.classify_multi_label("pubmed_multilabel", seed_samples["pubmed_multilabel"])
            sentences = await client.classify_sentences("biomarker", seed_samples["biomarker"])
            entities = await client.extract_entities(
                "drug_development_trials", seed_samples["drug_development_trials"]
            )
            texts = [f"Sentence number {i}." for i in range(130)]
            long = await client.predict("biomarker", texts)
            models = await client.list_models()
            with pytest.raises(ModelNotFoundError):
                await client.predict("no_such_model", ["x"])
            return classified, multi, sentences, entities, texts, long, models

    classified, multi, sentences, entities, texts, long, models = asyncio.run(scenario())
    assert all(isinstance(r, ClassificationResult) for r in classified)
    assert isinstance(multi[0], MultiLabelResult)
    assert isinstance(sentences[0], SentenceResult) and isinstance(entities[0], EntitiesResult)
    assert [r.sentences[0].text for r in long] == texts
    assert len(models) == 5
