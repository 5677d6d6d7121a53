"""One exception hierarchy for everything a call can fail with, mapped from gRPC status codes.

Every error carries the server's own message (``message``) and the gRPC status name
(``status``, e.g. ``"INVALID_ARGUMENT"``) when the error came from the wire.

Two Triton habits are undone here: Triton reports a full queue ("Exceeds maximum queue size"), a
request that waited in a queue past the model's timeout ("Request timeout expired") and a refused
restricted protocol as ``UNAVAILABLE``; the first two are overload (retry later, the server itself
is up), the last a permission problem (retrying cannot help). And a server that is stopping
unloads its models first, answering ``NOT_FOUND`` ("... has no available versions") for a model
that exists: that is a server going away (try another replica), not an unknown model.

A ``CANCELLED`` status the caller did not ask for is also a server going away: when Triton's gRPC
endpoint shuts down (the last stage of a SIGTERM stop), gRPC core cancels every call that reached
the server but was not yet handed to a handler (``grpc::Server::Shutdown`` kills pending calls),
and the client sees ``CANCELLED`` with the message ``"CANCELLED"`` (issue 21, docs/reliability.md).
Only a call the caller itself cancelled carries gRPC's local-cancellation message; that one
stays a :class:`CancelledError`.
"""

from __future__ import annotations

import re

__all__ = [
    "CancelledError",
    "ClinServeError",
    "DeadlineExceededError",
    "InvalidInputError",
    "ModelNotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "ResultFormatError",
    "ServerError",
    "TimeoutError",
    "UnavailableError",
    "error_from_status",
    "explain_connection_failure",
]

_QUEUE_FULL = "exceeds maximum queue size"
_QUEUE_TIMEOUT = "request timeout expired"
_RESTRICTED = "this protocol is restricted"
_NO_VERSIONS = "has no available versions"
# What gRPC puts in a call that this process cancelled (grpc/_channel.py, grpc/aio/_call.py);
# every other CANCELLED came from the other side.
LOCAL_CANCELLATION_DETAILS = "Locally cancelled by application!"
# The tokenizer's refusal of a request that needs more of something than one request may use:
# characters, model sequences (sentences, windows) or padded token positions, with the request's
# figure and the limit ("needs 78,080 token positions (610 model sequences of 128 tokens), more
# than the 16,384 one request may use"). The wording is part of the server's contract
# (docs/tensor-contract.md); tests/integration/test_bad_input.py checks that the server's
# messages still match.
_TOO_LARGE = re.compile(
    r"([\d,]+) (?:token positions|model sequences|characters)\b[^:]*?, more than the ([\d,]+) one"
    r" request may (?:use|have)"
)


class ClinServeError(Exception):
    """Base class of every error the client raises.

    Attributes:
        message: The server's message (or the client's, for errors raised locally).
        status: gRPC status name (``"UNAVAILABLE"``, ...) or ``None`` for local errors.
    """

    #: Whether an identical request may succeed later (inference is idempotent).
    retryable = False

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        #: How many attempts were made before giving up (set by the retry loop).
        self.attempts = 1

    def __str__(self) -> str:
        text = f"[{self.status}] {self.message}" if self.status else self.message
        return f"{text} (after {self.attempts} attempts)" if self.attempts > 1 else text


class InvalidInputError(ClinServeError, ValueError):
    """The request was refused as invalid (empty text, too long, not UTF-8, wrong task...)."""


class RequestTooLargeError(InvalidInputError):
    """The request needs more characters, model sequences or token positions than one request may use.

    The client answers this by sending fewer texts per request; it only surfaces when a single
    text alone is too large.

    Attributes:
        fit_fraction: The share of the refused request that would fit, from the counts in the
            server's message (``None`` when the message has none).
    """

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message, status=status)
        self.fit_fraction: float | None = None
        if match := _TOO_LARGE.search(message):
            needed, most = (int(match.group(i).replace(",", "")) for i in (1, 2))
            self.fit_fraction = min(1.0, most / needed) if needed else None


class ModelNotFoundError(ClinServeError, LookupError):
    """No model of that name is served (or it is not a clinserve model)."""


class DeadlineExceededError(ClinServeError, TimeoutError):
    """The call's deadline passed before an answer came back."""


#: Alias: ``clinserve.TimeoutError`` is the same class as :class:`DeadlineExceededError`.
TimeoutError = DeadlineExceededError


class OverloadedError(ClinServeError):
    """The server shed the request (queue full, queue timeout, resources exhausted); retry later."""

    retryable = True


class UnavailableError(ClinServeError):
    """No server could be reached (down, restarting, refused the connection or TLS handshake).

    Also a server that went away mid-call: one that is stopping (unloaded models, stopped
    schedulers) or whose gRPC endpoint cancelled the call while it shut down.
    """

    retryable = True


class PermissionDeniedError(ClinServeError):
    """The server refused the call: a restricted protocol without the right key, or bad credentials."""


class CancelledError(ClinServeError):
    """The caller cancelled the call (a cancelled future or call context); never retried."""


class ServerError(ClinServeError):
    """The server failed while handling a valid request (internal error, unexpected status)."""


class ResultFormatError(ClinServeError):
    """The server answered with something this client version cannot read."""


def request_too_large(message: str) -> bool:
    """True when ``message`` is the tokenizer's "request needs too many sequences" refusal."""
    return _TOO_LARGE.search(message) is not None


def error_from_status(status: str | None, message: str) -> ClinServeError:
    """Build the matching error from a gRPC status and the server's message.

    Args:
        status: A gRPC status name, with or without the ``StatusCode.`` prefix that
            tritonclient's ``InferenceServerException.status()`` uses; ``None`` for an error
            raised inside tritonclient without a status.
        message: The server's message, kept verbatim.
    """
    name = status.rsplit(".", 1)[-1].upper() if status else None
    lowered = message.lower()
    error_type: type[ClinServeError]
    if name == "INVALID_ARGUMENT":
        error_type = RequestTooLargeError if request_too_large(message) else InvalidInputError
    elif name == "NOT_FOUND":
        error_type = UnavailableError if _NO_VERSIONS in lowered else ModelNotFoundError
    elif name == "DEADLINE_EXCEEDED":
        error_type = DeadlineExceededError
    elif name == "RESOURCE_EXHAUSTED":
        error_type = OverloadedError
    elif name == "UNAVAILABLE":
        if _QUEUE_FULL in lowered or _QUEUE_TIMEOUT in lowered:
            error_type = OverloadedError
        elif _RESTRICTED in lowered:
            error_type = PermissionDeniedError
        else:
            error_type = UnavailableError
    elif name == "CANCELLED":
        error_type = CancelledError if message.strip() == LOCAL_CANCELLATION_DETAILS else UnavailableError
    elif name in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        error_type = PermissionDeniedError
    elif name is None:
        error_type = ClinServeError
    else:
        error_type = ServerError
    return error_type(message, status=name)


# Connection failures as gRPC reports them (lower case), with what a person should check. The
# order matters: the first match explains the failure. Those marked False cannot succeed when
# tried again (a TLS mismatch stays a mismatch), so they are not retried.
_CONNECTION_FAILURES: tuple[tuple[str, bool, str, str], ...] = (
    # (pattern, retryable, explanation over plaintext, explanation over TLS)
    (
        "connection refused",
        True,
        "nothing is listening there: is the server running, and is this its gRPC port"
        " (Triton's default is 8001)?",
        "nothing is listening there: is the server running, and is this its gRPC port"
        " (Triton's default is 8001)?",
    ),
    (
        "wrong_version_number",
        False,
        "",
        "the TLS handshake failed because the server speaks plaintext gRPC: connect without TLS",
    ),
    (
        "failed to create security handshaker",
        False,
        "",
        "the TLS settings could not be used: check that the CA certificate, client certificate"
        " and key are PEM files",
    ),
    (
        "tls handshake failed",
        False,
        "",
        "the server's certificate was not accepted: check the CA certificate that signed it and"
        " the name it is checked against (server_name / --server-name)",
    ),
    (
        "verification check failed",
        False,
        "",
        "the server's certificate was not accepted: check the CA certificate that signed it and"
        " the name it is checked against (server_name / --server-name)",
    ),
    (
        "socket closed",
        True,
        "the server closed the connection without a gRPC answer: this is probably not a plaintext"
        " gRPC port but an HTTP one (Triton serves HTTP on 8000, gRPC on 8001) or a server that"
        " expects TLS",
        "the server closed the TLS connection: it may require a client certificate (mutual TLS:"
        " client_cert and client_key / --cert and --key), or it is restarting",
    ),
    (
        "resolv",  # "errors resolving", "name resolution"
        True,
        "the host name could not be resolved: check the address",
        "the host name could not be resolved: check the address",
    ),
    (
        "domain name not found",
        True,
        "the host name could not be resolved: check the address",
        "the host name could not be resolved: check the address",
    ),
)


def explain_connection_failure(error: ClinServeError, target: str, *, tls: bool) -> None:
    """Say which address failed and the likely cause, for a connection failure.

    Rewrites ``error.message`` as "cannot reach <target>: <cause> (<gRPC's message>)" and marks
    the error not retryable when trying again cannot help (a TLS mismatch). Errors that are not
    connection failures are left as they are.

    Args:
        error: The error of one attempt (only :class:`UnavailableError` is explained).
        target: The address the attempt dialled.
        tls: Whether the channel uses TLS.
    """
    if not isinstance(error, UnavailableError) or error.message.startswith("cannot reach "):
        return
    lowered = error.message.lower()
    for pattern, retryable, plaintext, secure in _CONNECTION_FAILURES:
        cause = secure if tls else plaintext
        if pattern in lowered and cause:
            error.message = f"cannot reach {target}: {cause} ({error.message})"
            error.retryable = retryable
            return
