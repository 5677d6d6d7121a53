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
    LOCAL_CANCELLATION_DETAILS,
    CancelledError,
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
        # A stopping server's gRPC endpoint cancels the calls not yet handed to a handler.
        ("StatusCode.CANCELLED", "CANCELLED", UnavailableError),
        ("StatusCode.CANCELLED", "", UnavailableError),
        ("StatusCode.CANCELLED", LOCAL_CANCELLATION_DETAILS, CancelledError),
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
            CancelledError,
            ServerError,
            ClinServeError,
        )
        if cls.retryable
    }
    assert retryable == {OverloadedError, UnavailableError}


@pytest.mark.parametrize(
    ("message", "fit"),
    [
        (
            "in mode 'windows' the request needs 65,536 token positions (512 model sequences of 128"
            " tokens), more than the 16,384 one request may use: send fewer or shorter texts",
            0.25,
        ),
        (
            "in mode 'sentences' the request needs 2,048 model sequences, more than the 1,024 one"
            " request may use: send fewer or shorter texts",
            0.5,
        ),
        (
            "in mode 'windows' the request needs at least 32,768 token positions (one per word),"
            " more than the 16,384 one request may use",
            0.5,
        ),
        (
            "in mode 'sentences' the request needs at least 4,096 model sequences (one per"
            " sentence), more than the 1,024 one request may use",
            0.25,
        ),
        (
            "the request's texts have 600,000 characters together, more than the 300,000 one"
            " request may have: send fewer texts per request",
            0.5,
        ),
    ],
)
def test_a_request_too_large_is_an_invalid_input_that_says_how_much_fits(message, fit):
    error = error_from_status("StatusCode.INVALID_ARGUMENT", f"in ensemble 'biomarker', {message}")
    assert isinstance(error, RequestTooLargeError) and isinstance(error, InvalidInputError)
    assert error.fit_fraction == pytest.approx(fit)


def test_a_single_text_over_its_own_limit_is_a_plain_invalid_input():
    # Splitting the list cannot help a text that is too long by itself.
    error = error_from_status(
        "StatusCode.INVALID_ARGUMENT",
        "TEXT[0] has 400,000 characters, more than the 300,000 one text may have: split the document",
    )
    assert type(error) is InvalidInputError


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


def test_a_call_this_process_cancels_stays_a_cancellation_and_is_not_retried():
    # A real gRPC call, cancelled by the caller: its status and details as gRPC reports them.
    # (Not through tritonclient's get_error_grpc: on a cancelled future, grpc 1.7x's
    # debug_error_string() waits forever.)
    from concurrent import futures

    import grpc

    release: futures.Future[None] = futures.Future()

    def hang(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.result(timeout=10)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "test.Hang", {"Call": grpc.unary_unary_rpc_method_handler(hang)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.Hang/Call").future(b"")
            call.cancel()
            error = translate(InferenceServerException(msg=call.details(), status=str(call.code())))
    finally:
        release.set_result(None)
        server.stop(None)
    assert type(error) is CancelledError
    assert error.status == "CANCELLED" and not error.retryable


def test_a_cancelled_from_a_stopping_server_is_retried_like_any_unavailable_server():
    exc = InferenceServerException(msg="CANCELLED", status="StatusCode.CANCELLED")
    error = translate(exc)
    assert isinstance(error, UnavailableError) and error.retryable
    assert str(error) == "[CANCELLED] CANCELLED"


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
