"""Bad input gets a clear error naming the problem, or a correct result; the server keeps serving."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve.errors import request_too_large
from tests.integration.triton_calls import infer, text_input

pytestmark = pytest.mark.integration
ONE_MB = 1024 * 1024


@pytest.fixture(scope="module")
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as c:
        yield c


@pytest.fixture(autouse=True)
def server_still_serves_afterwards(client):
    yield
    assert client.is_server_ready()
    (result,) = infer(client, "treatment_changes", ["Switched from ambien to melatonin."])
    assert result["label"] in ("negative", "positive")


def expect_error(call, status: str, *fragments: str) -> str:
    with pytest.raises(InferenceServerException) as info:
        call()
    message = str(info.value)
    assert info.value.status() == status, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("text", ["", "   \n\t  "])
@pytest.mark.parametrize("model", ["treatment_changes", "biomarker", "drug_development_trials"])
def test_empty_or_whitespace_text_is_refused_naming_the_text(client, model, text):
    expect_error(
        lambda: infer(client, model, ["fine text", text]), "StatusCode.INVALID_ARGUMENT", "TEXT[1]", "empty"
    )


def test_invalid_utf8_is_refused_naming_the_byte(client):
    expect_error(
        lambda: infer(client, "pubmed_multilabel", [b"ok", b"caf\xc3(\xff"]),
        "StatusCode.INVALID_ARGUMENT",
        "TEXT[1] is not valid UTF-8",
        "byte 3",
    )


def test_a_one_megabyte_text_is_answered_and_says_it_was_truncated(client):
    text = ("Patient improved on topotecan. " * (ONE_MB // 31 + 1))[:ONE_MB]
    (result,) = infer(client, "treatment_changes", [text])
    assert result["truncated"] is True and result["dropped_tokens"] > 100_000


@pytest.mark.parametrize("model", ["biomarker", "drug_development_trials"])
def test_a_one_megabyte_document_beyond_one_request_is_refused_naming_the_limit(client, model):
    # Per-sentence and windowed models see every word-piece, so 1 MB needs thousands of model
    # sequences: more than one request may carry (docs/long-documents.md).
    text = ("Patient improved on topotecan. " * (ONE_MB // 31 + 1))[:ONE_MB]
    message = expect_error(
        lambda: infer(client, model, [text]),
        "StatusCode.INVALID_ARGUMENT",
        "model sequences",
        "at most 1024 sequences",
    )
    # The client library recognises this refusal by its wording and re-splits the request.
    assert request_too_large(message)


def test_nul_and_control_characters_are_ignored_and_offsets_stay_exact(client):
    text = "In June\x00 2003,\x07 23 patients\x1b received\u200b topotecan.\r\n"
    (result,) = infer(client, "drug_development_trials", [text])
    for entity in result["entities"]:
        assert text[entity["begin"] : entity["end"]] == entity["text"]
        assert "\x00" not in entity["text"][:1]
    (single,) = infer(client, "response_to_treatment", [text])
    assert single["label"] in ("Yes", "No")


def test_mixed_scripts_and_emoji_are_answered(client):
    texts = ["Пациент 患者 مريض 🤒💊 responded well to therapy", "🙂" * 500]
    results = infer(client, "biomarker", texts)
    assert len(results) == 2
    for text, result in zip(texts, results, strict=True):
        for sentence in result["sentences"]:
            assert text[sentence["begin"] : sentence["end"]] == sentence["text"]


def test_a_request_over_the_batch_limit_is_refused_with_the_limit(client):
    expect_error(
        lambda: infer(client, "treatment_changes", ["x"] * 65),
        "StatusCode.INVALID_ARGUMENT",
        "65 texts",
        "at most 64",
    )


def test_an_unknown_model_is_not_found(client):
    expect_error(lambda: infer(client, "no_such_model", ["x"]), "StatusCode.NOT_FOUND", "no_such_model")


def test_a_wrong_input_name_is_refused(client):
    tensor = grpcclient.InferInput("TXT", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
    expect_error(lambda: client.infer("treatment_changes", [tensor]), "StatusCode.INVALID_ARGUMENT", "TXT")


def test_a_wrong_input_type_is_refused(client):
    tensor = grpcclient.InferInput("TEXT", [1], "INT32")
    tensor.set_data_from_numpy(np.array([7], dtype=np.int32))
    expect_error(
        lambda: client.infer("treatment_changes", [tensor]),
        "StatusCode.INVALID_ARGUMENT",
        "TEXT",
        "INT32",
        "BYTES",
    )


def test_a_wrong_input_rank_is_refused(client):
    tensor = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[b"x"]], dtype=np.object_))
    expect_error(lambda: client.infer("treatment_changes", [tensor]), "StatusCode.INVALID_ARGUMENT", "TEXT")


def test_an_empty_text_list_is_refused(client):
    tensor = text_input([])
    expect_error(lambda: client.infer("treatment_changes", [tensor]), "StatusCode.INVALID_ARGUMENT")
