"""TLS and mutual TLS between the client (library and CLI) and real Triton servers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from clinserve import (
    AsyncClinServeClient,
    ChannelOptions,
    ClinServeClient,
    RetryPolicy,
    TLSConfig,
    UnavailableError,
)
from tests.integration.client_support import make_tls_files, start_server

pytestmark = pytest.mark.integration

QUICK_RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.01)
CLI = str(Path(sys.executable).with_name("clinserve"))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(triton_server, tls_files):
    server = start_server("tls", triton_server.admin_key, ssl_dir=tls_files.directory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mutual_tls_server(triton_server, tls_files):
    server = start_server("mutual-tls", triton_server.admin_key, ssl_dir=tls_files.directory, mutual_tls=True)
    yield server
    server.stop()


def _classify(url: str, tls: TLSConfig | None) -> str:
    options = ChannelOptions(tls=tls, timeout_s=10)
    with ClinServeClient(url, options=options, retry=QUICK_RETRY) as client:
        [result] = client.classify("treatment_changes", ["I switched to a new inhaler."])
    return result.label


def test_tls_call_with_the_servers_ca(tls_server, tls_files):
    assert _classify(tls_server.grpc_url, TLSConfig(root_ca=tls_files.ca)) in ("negative", "positive")


def test_tls_server_refuses_a_plaintext_client_and_the_error_says_tls_may_be_expected(tls_server):
    with pytest.raises(
        UnavailableError, match=f"cannot reach {tls_server.grpc_url}: .*a server that expects TLS"
    ):
        _classify(tls_server.grpc_url, None)


def test_tls_client_refuses_a_server_signed_by_another_ca_at_once(tls_server, tmp_path):
    other = make_tls_files(tmp_path / "other")
    with pytest.raises(UnavailableError, match="certificate was not accepted: check the CA") as caught:
        _classify(tls_server.grpc_url, TLSConfig(root_ca=other.ca))
    assert caught.value.attempts == 1  # retrying cannot help


def test_tls_server_name_override_lets_a_certificate_name_differ_from_the_address(tls_server, tls_files):
    # The certificate names localhost and 127.0.0.1; dialling 127.0.0.1 while verifying "localhost".
    tls = TLSConfig(root_ca=tls_files.ca, server_name="localhost")
    assert _classify(tls_server.grpc_url, tls)


def test_mutual_tls_call_with_a_client_certificate(mutual_tls_server, tls_files):
    tls = TLSConfig(root_ca=tls_files.ca, client_cert=tls_files.client_cert, client_key=tls_files.client_key)
    assert _classify(mutual_tls_server.grpc_url, tls)


def test_mutual_tls_refuses_a_client_without_a_certificate(mutual_tls_server, tls_files):
    with pytest.raises(UnavailableError, match="may require a client certificate"):
        _classify(mutual_tls_server.grpc_url, TLSConfig(root_ca=tls_files.ca))


def test_mutual_tls_refuses_a_certificate_from_another_ca(mutual_tls_server, tls_files, tmp_path):
    other = make_tls_files(tmp_path / "other")
    tls = TLSConfig(root_ca=tls_files.ca, client_cert=other.client_cert, client_key=other.client_key)
    with pytest.raises(UnavailableError):
        _classify(mutual_tls_server.grpc_url, tls)


def test_async_client_over_mutual_tls(mutual_tls_server, tls_files):
    tls = TLSConfig(root_ca=tls_files.ca, client_cert=tls_files.client_cert, client_key=tls_files.client_key)

    async def scenario():
        async with AsyncClinServeClient(
            mutual_tls_server.grpc_url, options=ChannelOptions(tls=tls)
        ) as client:
            return await client.classify_sentences("biomarker", ["HER2 is high. PSA is low."])

    [result] = asyncio.run(scenario())
    assert [s.text for s in result.sentences] == ["HER2 is high.", "PSA is low."]


def test_cli_over_mutual_tls(mutual_tls_server, tls_files):
    base = [
        CLI,
        "classify",
        "--model",
        "treatment_changes",
        "--url",
        mutual_tls_server.grpc_url,
        "--ca",
        str(tls_files.ca),
    ]
    done = subprocess.run(
        [*base, "--cert", str(tls_files.client_cert), "--key", str(tls_files.client_key), "--json", "text"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"model":"treatment_changes"' in done.stdout
    refused = subprocess.run(
        [*base, "--timeout", "5", "text"], capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 1
    assert "UNAVAILABLE" in refused.stderr and "may require a client certificate" in refused.stderr
