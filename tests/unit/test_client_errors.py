"""Mapping gRPC status codes and Triton's messages onto the client's errors (no server)."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys

import pytest
from tritonclient.utils import InferenceServerException

import clinserve
from clinserve.errors import (
    ClinServeError,
    DeadlineExceededError,
    InvalidInputError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RequestTooLargeError,
    ServerError,
    UnavailableError,
    error_from_status,
)
from clinserve.transport import translate


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("StatusCode.INVALID_ARGUMENT", "in ensemble 'x', TEXT[0] is empty", InvalidInputError),
        ("StatusCode.NOT_FOUND", "Request for unknown model: 'nope' is not found", ModelNotFoundError),
        ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", DeadlineExceededError),
        ("StatusCode.RESOURCE_EXHAUSTED", "resources exhausted", OverloadedError),
        ("StatusCode.UNAVAILABLE", "in ensemble 'x', Exceeds maximum queue size", OverloadedError),
        ("StatusCode.UNAVAILABLE", "failed to connect to all addresses", UnavailableError),
        (
            "StatusCode.UNAVAILABLE",
            "This protocol is restricted, expecting header 'triton-grpc-protocol-admin-key'",
            PermissionDeniedError,
        ),
        ("StatusCode.PERMISSION_DENIED", "no", PermissionDeniedError),
        ("StatusCode.UNAUTHENTICATED", "no", PermissionDeniedError),
        ("StatusCode.INTERNAL", "onnx runtime failed", ServerError),
        ("StatusCode.UNKNOWN", "something", ServerError),
        ("UNAVAILABLE", "bare status name", UnavailableError),
        (None, "raised inside tritonclient", ClinServeError),
    ],
)
def test_error_from_status_picks_the_class_and_keeps_the_server_message(status, message, expected):
    error = error_from_status(status, message)
    assert type(error) is expected
    assert error.message == message
    assert error.status == (status.rsplit(".", 1)[-1] if status else None)
    assert message in str(error)


def test_only_unavailable_and_overload_are_retryable():
    retryable = {
        cls
        for cls in (
            InvalidInputError,
            ModelNotFoundError,
            DeadlineExceededError,
            OverloadedError,
            UnavailableError,
            PermissionDeniedError,
            ServerError,
            ClinServeError,
        )
        if cls.retryable
    }
    assert retryable == {OverloadedError, UnavailableError}


def test_a_request_too_large_is_an_invalid_input_that_says_how_much_fits():
    error = error_from_status(
        "StatusCode.INVALID_ARGUMENT",
        "in ensemble 'biomarker', in mode 'sentences' the request needs 1024 model sequences of 32"
        " tokens; one request may use at most 512 sequences and 65,536 token positions: send fewer",
    )
    assert isinstance(error, RequestTooLargeError) and isinstance(error, InvalidInputError)
    assert error.fit_fraction == pytest.approx(0.5)


def test_errors_also_subclass_the_matching_builtin_exceptions():
    assert issubclass(DeadlineExceededError, builtins.TimeoutError)
    assert clinserve.TimeoutError is DeadlineExceededError
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(ModelNotFoundError, LookupError)


def test_translate_reads_a_real_tritonclient_exception():
    exc = InferenceServerException(
        msg="Request for unknown model: 'x' is not found", status="StatusCode.NOT_FOUND"
    )
    error = translate(exc)
    assert isinstance(error, ModelNotFoundError)
    assert error.message == "Request for unknown model: 'x' is not found"
    assert str(error) == "[NOT_FOUND] Request for unknown model: 'x' is not found"


def test_str_mentions_the_attempts_after_retries():
    error = UnavailableError("down", status="UNAVAILABLE")
    error.attempts = 3
    assert str(error) == "[UNAVAILABLE] down (after 3 attempts)"


# Messages gRPC gave on this machine (grpcio 1.85) for each mistake, shortened to what matters.
REFUSED = (
    "failing; last error: UNKNOWN: ipv4:127.0.0.1:9: Failed to connect to remote host: Connection refused"
)
HTTP_PORT = "connections to all backends failing; last error: UNAVAILABLE: ipv4:127.0.0.1:8000: Socket closed"
TLS_TO_PLAINTEXT = (
    "last error: UNKNOWN: ipv4:127.0.0.1:8001: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL:"
    " error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"
)
WRONG_CA = "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: ECDSA routines: BAD_SIGNATURE"
WRONG_NAME = (
    "Custom verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed."
)
NO_NAME = "errors resolving nohost.invalid:8001: [hostname lookup error: Domain name not found]"


@pytest.mark.parametrize(
    ("message", "tls", "cause", "retryable"),
    [
        (REFUSED, False, "nothing is listening there", True),
        (HTTP_PORT, False, "probably not a plaintext gRPC port but an HTTP one", True),
        (HTTP_PORT, True, "may require a client certificate", True),
        (TLS_TO_PLAINTEXT, True, "the server speaks plaintext gRPC: connect without TLS", False),
        (WRONG_CA, True, "certificate was not accepted", False),
        (WRONG_NAME, True, "certificate was not accepted", False),
        (NO_NAME, False, "host name could not be resolved", True),
    ],
)
def test_a_connection_failure_names_the_address_and_its_likely_cause(message, tls, cause, retryable):
    exc = InferenceServerException(msg=message, status="StatusCode.UNAVAILABLE")
    error = translate(exc, "10.0.0.7:8001", tls=tls)
    assert isinstance(error, UnavailableError)
    assert error.message.startswith("cannot reach 10.0.0.7:8001: ")
    assert cause in error.message and message in error.message
    assert error.retryable is retryable


def test_a_tls_mismatch_is_given_up_at_once():
    from clinserve.options import RetryPolicy
    from clinserve.retry import Deadline, call_with_retry

    calls = 0

    def attempt(remaining_s: float) -> None:
        nonlocal calls
        calls += 1
        raise translate(InferenceServerException(msg=TLS_TO_PLAINTEXT, status="UNAVAILABLE"), "h:1", tls=True)

    with pytest.raises(UnavailableError):
        call_with_retry(attempt, RetryPolicy(max_attempts=5), Deadline(10), sleep=lambda s: None)
    assert calls == 1


def test_server_side_unavailability_is_not_rewritten():
    error = translate(
        InferenceServerException(msg="in ensemble 'x', Exceeds maximum queue size", status="UNAVAILABLE"),
        "h:1",
    )
    assert isinstance(error, OverloadedError) and not error.message.startswith("cannot reach")


def test_importing_the_client_silences_grpc_c_core_logs_unless_the_caller_chose():
    code = "import os, clinserve; print(os.environ['GRPC_VERBOSITY'])"

    def verbosity(env: dict[str, str]) -> str:
        run = [sys.executable, "-c", code]
        return subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout.strip()

    unset = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    assert verbosity(unset) == "NONE"
    assert verbosity({**unset, "GRPC_VERBOSITY": "DEBUG"}) == "DEBUG"
