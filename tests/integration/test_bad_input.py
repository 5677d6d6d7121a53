"""Bad input gets a clear error naming the problem, or a correct result; the server keeps serving."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clinserve.errors import request_too_large
from clinserve_runtime.configs import ServingSettings
from tests.integration.triton_calls import infer, text_input

pytestmark = pytest.mark.integration
LIMITS = ServingSettings()


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


def prose(chars: int) -> str:
    return ("Patient improved on topotecan. " * (chars // 31 + 1))[:chars]


def test_a_text_at_the_character_limit_is_answered_and_says_it_was_truncated(client):
    (result,) = infer(client, "treatment_changes", [prose(LIMITS.max_text_chars)])
    assert result["truncated"] is True and result["dropped_tokens"] > 5_000


def test_a_text_over_the_character_limit_is_refused_naming_both_figures(client):
    expect_error(
        lambda: infer(client, "treatment_changes", [prose(LIMITS.max_text_chars + 1)]),
        "StatusCode.INVALID_ARGUMENT",
        f"TEXT[0] has {LIMITS.max_text_chars + 1:,} characters",
        f"more than the {LIMITS.max_text_chars:,} one text may have",
    )


def test_texts_over_the_request_character_limit_together_are_refused_as_too_large(client):
    per_text = LIMITS.max_request_chars // 8
    message = expect_error(
        lambda: infer(client, "treatment_changes", [prose(per_text)] * 9),
        "StatusCode.INVALID_ARGUMENT",
        f"have {9 * per_text:,} characters together",
        f"more than the {LIMITS.max_request_chars:,} one request may have",
    )
    # The client library recognises this refusal by its wording and re-splits the request.
    assert request_too_large(message)


@pytest.mark.parametrize(
    ("model", "mode", "text", "fragments"),
    [
        # More sentences than sequences allowed: counted before any word-piece is made.
        ("biomarker", "sentences", prose(40_000), ["at least", "model sequences (one per sentence)"]),
        # More words than token positions allowed: counted before any word-piece is made.
        (
            "drug_development_trials",
            "windows",
            "dose " * 9_000,
            ["at least", "token positions (one per word)"],
        ),
        # Fewer words than positions, but the windows' padded positions are more.
        (
            "drug_development_trials",
            "windows",
            prose(18_000),
            ["token positions (", "model sequences of 128"],
        ),
    ],
    ids=["sentences", "words", "windows"],
)
def test_a_document_beyond_one_request_is_refused_naming_the_limit_it_passes(
    client, model, mode, text, fragments
):
    message = expect_error(
        lambda: infer(client, model, [text], parameters={"mode": mode}),
        "StatusCode.INVALID_ARGUMENT",
        *fragments,
        "one request may use",
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
