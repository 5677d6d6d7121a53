"""Model descriptions read from the server's rendered configs, and endpoint handling (no server)."""

from __future__ import annotations

import pytest

from clinserve.endpoints import EndpointPool, parse_targets
from clinserve.errors import InvalidInputError, ModelNotFoundError, ResultFormatError
from clinserve.model_info import KNOWN_MODELS, ModelInfo, unknown_model_hint
from clinserve.options import ChannelOptions, TLSConfig, admin_headers
from clinserve.results import ResultKind
from clinserve.transport import channel_arguments
from clinserve_preprocess.modes import default_mode, modes_for
from clinserve_runtime.configs import (
    Provenance,
    ServingSettings,
    ensemble_config,
    postprocess_config,
    tokenizer_config,
)

EXPECTED_KIND = {
    "treatment_changes": ResultKind.CLASSIFICATION,
    "response_to_treatment": ResultKind.CLASSIFICATION,
    "biomarker": ResultKind.SENTENCES,
    "drug_development_trials": ResultKind.ENTITIES,
    "pubmed_multilabel": ResultKind.MULTI_LABEL,
}


def test_known_models_are_the_catalog_models(catalog):
    assert set(KNOWN_MODELS) == set(catalog)


@pytest.mark.parametrize("name", sorted(EXPECTED_KIND))
def test_model_info_reads_the_rendered_ensemble_config(catalog, name):
    spec = catalog[name]
    settings = ServingSettings(max_texts_per_request=32)
    config = ensemble_config(spec, settings, Provenance(weights="demo-tiny", untrained=True))
    info = ModelInfo.from_config(config)
    assert info.name == name
    assert info.task == spec.task
    assert info.labels == tuple(spec.labels)
    assert info.per_sentence == spec.per_sentence
    assert info.max_tokens == spec.max_tokens
    assert info.max_texts_per_request == 32
    assert info.source_model == spec.source_model
    assert (info.weights, info.untrained) == ("demo-tiny", True)
    assert info.threshold == spec.threshold
    assert info.result_kind == EXPECTED_KIND[name]
    token_level = spec.task == "token_classification"
    assert set(info.modes) == set(modes_for(token_level))
    assert info.default_mode == default_mode(token_level=token_level, per_sentence=spec.per_sentence)
    assert (info.max_text_chars, info.max_sequences_per_request, info.max_padded_tokens_per_request) == (
        settings.max_text_chars,
        settings.max_batch_size,
        settings.token_budget(),
    )
    assert info.effective_mode(None) == info.default_mode


def test_a_server_that_publishes_no_request_limits_leaves_them_unknown(catalog):
    config = ensemble_config(catalog["biomarker"], ServingSettings(), Provenance("w", False))
    for key in ("max_text_chars", "max_sequences_per_request", "max_padded_tokens_per_request"):
        del config["parameters"][key]
    info = ModelInfo.from_config(config)
    assert info.max_text_chars is None and info.max_sequences_per_request is None


def test_model_info_names_the_served_version_and_is_none_from_a_server_without_versions(catalog):
    provenance = Provenance("huggingface:x", False, version=3, digest="sha256:0123456789abcdef")
    config = ensemble_config(catalog["biomarker"], ServingSettings(), provenance)
    info = ModelInfo.from_config(config)
    assert (info.model_version, info.weights_digest) == (3, "sha256:0123456789abcdef")
    assert info.to_dict()["model_version"] == 3
    for key in ("model_version", "weights_digest"):
        del config["parameters"][key]
    older = ModelInfo.from_config(config)
    assert (older.model_version, older.weights_digest) == (None, None)


@pytest.mark.parametrize(
    ("asked", "served", "hint"),
    [
        ("Biomarker", ["biomarker", "pubmed_multilabel"], "serves biomarker, pubmed_multilabel (names are"
         " case-sensitive: did you mean 'biomarker'?)"),
        ("nope", ["b", "a"], "the server serves a, b"),
        ("nope", [], ""),
    ],
)  # fmt: skip
def test_an_unknown_model_is_answered_with_the_served_names(asked, served, hint):
    assert unknown_model_hint(asked, served).endswith(hint)


def test_the_mode_decides_the_result_kind(catalog):
    def info(name):
        return ModelInfo.from_config(
            ensemble_config(catalog[name], ServingSettings(), Provenance("w", False))
        )

    biomarker, pubmed, ner = info("biomarker"), info("pubmed_multilabel"), info("drug_development_trials")
    assert [biomarker.kind_for(m) for m in (None, "document", "whole")] == [
        ResultKind.SENTENCES,
        ResultKind.CLASSIFICATION,
        ResultKind.CLASSIFICATION,
    ]
    assert [pubmed.kind_for(m) for m in (None, "sentences")] == [ResultKind.MULTI_LABEL, ResultKind.SENTENCES]
    assert ner.kind_for("sentences") == ResultKind.ENTITIES
    with pytest.raises(InvalidInputError, match="offers the modes sentences, windows, not 'document'"):
        ner.check_mode("document")
    with pytest.raises(
        InvalidInputError, match=r"call classify_sentences\(\) or predict\(\) or pass mode='document'"
    ):
        biomarker.require_kind(ResultKind.CLASSIFICATION)
    biomarker.require_kind(ResultKind.CLASSIFICATION, "document")


def test_internal_steps_are_not_clinserve_models(catalog):
    spec = catalog["biomarker"]
    provenance = Provenance("w", False)
    for config in (
        tokenizer_config(spec, ServingSettings()),
        postprocess_config(spec, ServingSettings(), provenance),
    ):
        with pytest.raises(ModelNotFoundError, match="not a clinserve model"):
            ModelInfo.from_config(config)


def test_a_malformed_parameter_is_reported_by_name(catalog):
    config = ensemble_config(catalog["biomarker"], ServingSettings(), Provenance("w", False))
    config["parameters"]["labels"] = {"string_value": "not json"}
    with pytest.raises(ResultFormatError, match="parameter 'labels' is not JSON"):
        ModelInfo.from_config(config)
    config["parameters"]["labels"] = {"string_value": "[]"}
    config["parameters"]["task"] = {"string_value": "regression"}
    with pytest.raises(ResultFormatError, match="unknown task 'regression'"):
        ModelInfo.from_config(config)


def test_require_kind_names_the_call_that_fits(catalog):
    config = ensemble_config(catalog["biomarker"], ServingSettings(), Provenance("w", False))
    info = ModelInfo.from_config(config)
    info.require_kind(ResultKind.SENTENCES)
    with pytest.raises(InvalidInputError, match=r"call classify_sentences\(\) or predict\(\)"):
        info.require_kind(ResultKind.CLASSIFICATION)
    with pytest.raises(InvalidInputError, match=r"call classify\(\) or predict\(\)"):
        info.require_kind(ResultKind.SENTENCES, "whole")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("127.0.0.1:8001", ["127.0.0.1:8001"]),
        (" a:1 , b:2 ", ["a:1", "b:2"]),
        (["a:1", "b:2"], ["a:1", "b:2"]),
        ("dns:///clinserve-headless.ns.svc:8001", ["dns:///clinserve-headless.ns.svc:8001"]),
        ("ipv4:10.0.0.1:8001,10.0.0.2:8001", ["ipv4:10.0.0.1:8001,10.0.0.2:8001"]),
    ],
)
def test_parse_targets(url, expected):
    assert parse_targets(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no server address"),
        ("a:1,,b:2", "no server address"),
        ([], "no server address"),
        ("http://localhost:8001", "not an http"),
    ],
)
def test_parse_targets_refuses_what_grpc_cannot_dial(url, message):
    with pytest.raises(ValueError, match=message):
        parse_targets(url)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pool_round_robins_and_skips_an_endpoint_while_it_cools_down():
    clock = Clock()
    pool = EndpointPool([("a", 1), ("b", 2), ("c", 3)], cooldown_s=2.0, clock=clock)
    assert [pool.pick()[0] for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    pool.mark_unavailable("b")
    assert [pool.pick()[0] for _ in range(4)] == ["a", "c", "a", "c"]
    clock.now = 2.5
    assert {pool.pick()[0] for _ in range(3)} == {"a", "b", "c"}


def test_pool_with_every_endpoint_down_tries_the_one_that_recovers_first():
    clock = Clock()
    pool = EndpointPool([("a", 1), ("b", 2)], cooldown_s=2.0, clock=clock)
    pool.mark_unavailable("a")
    clock.now = 1.0
    pool.mark_unavailable("b")
    assert not pool.has_available()
    assert pool.pick()[0] == "a"
    pool.mark_available("b")
    assert pool.has_available() and pool.pick()[0] == "b"


def test_channel_arguments_set_round_robin_and_the_tls_name_override():
    args = dict(channel_arguments(ChannelOptions(tls=TLSConfig(server_name="clinserve.internal"))))
    assert args["grpc.lb_policy_name"] == "round_robin"
    assert args["grpc.ssl_target_name_override"] == "clinserve.internal"
    assert args["grpc.max_receive_message_length"] == 2**31 - 1


def test_tls_config_needs_cert_and_key_together(tmp_path):
    with pytest.raises(ValueError, match="both client_cert and client_key"):
        TLSConfig(client_cert=tmp_path / "c.pem")
    with pytest.raises(ValueError, match="cannot read the TLS CA certificate"):
        TLSConfig(root_ca=tmp_path / "missing.pem").read()


def test_tls_files_that_are_not_pem_are_refused_before_grpc_sees_them(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match=r"CA certificate .*notes.txt is not in PEM format"):
        TLSConfig(root_ca=tmp_path / "notes.txt").read()
    with pytest.raises(ValueError, match=r"client key .* is not in PEM format.*PRIVATE KEY"):
        TLSConfig(client_cert=tmp_path / "ca.pem", client_key=tmp_path / "ca.pem").read()
    assert TLSConfig(root_ca=tmp_path / "ca.pem").read()[0] is not None


def test_admin_headers_use_tritons_grpc_prefix():
    assert admin_headers("k") == {"triton-grpc-protocol-admin-key": "k"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout_s": 0}, "timeout_s must be positive"), ({"max_concurrent_requests": 0}, "at least 1")],
)
def test_channel_options_refuse_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChannelOptions(**kwargs)
