"""Connection and retry settings, with every default a named constant."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ADMIN_KEY_HEADER",
    "DEFAULT_BACKOFF_MULTIPLIER",
    "DEFAULT_ENDPOINT_COOLDOWN_S",
    "DEFAULT_INITIAL_BACKOFF_S",
    "DEFAULT_LB_POLICY",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_BACKOFF_S",
    "DEFAULT_MAX_CONCURRENT_REQUESTS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_URL",
    "GRPC_RESTRICTED_HEADER_PREFIX",
    "ChannelOptions",
    "RetryPolicy",
    "TLSConfig",
    "admin_headers",
]

DEFAULT_URL = "127.0.0.1:8001"
#: Deadline of one client call (all its requests and retries together), in seconds.
DEFAULT_TIMEOUT_S = 60.0
#: Requests of one call in flight at once (a long list is split into several requests).
DEFAULT_MAX_CONCURRENT_REQUESTS = 4
#: gRPC load-balancing policy for targets that resolve to several addresses (``dns:///``).
DEFAULT_LB_POLICY = "round_robin"
#: How long an endpoint of an explicit list is skipped after it was found unavailable.
DEFAULT_ENDPOINT_COOLDOWN_S = 2.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_BACKOFF_S = 0.05
DEFAULT_MAX_BACKOFF_S = 2.0
DEFAULT_BACKOFF_MULTIPLIER = 2.0
#: The header name the server's ``--*-restricted-*`` flags are configured with.
ADMIN_KEY_HEADER = "admin-key"
#: Triton's gRPC endpoint prefixes the configured header name with this.
GRPC_RESTRICTED_HEADER_PREFIX = "triton-grpc-protocol-"


def admin_headers(key: str, header: str = ADMIN_KEY_HEADER) -> dict[str, str]:
    """Headers that unlock Triton's restricted gRPC protocols (model index, statistics...).

    The server is started with ``--grpc-restricted-protocol=...:admin-key=<key>``; over gRPC,
    Triton expects that header as ``triton-grpc-protocol-admin-key``.
    """
    return {GRPC_RESTRICTED_HEADER_PREFIX + header: key}


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with capped exponential backoff and full jitter.

    Only errors that say "try again" are retried: unavailable servers and overload (queue full,
    resources exhausted). Inference is idempotent, so a retried request is safe. The call's
    deadline bounds the retries: no attempt starts once the deadline would pass during the
    backoff.

    Attributes:
        max_attempts: Attempts per request, the first included (1 disables retries).
        initial_backoff_s: Backoff cap before the first retry.
        max_backoff_s: Largest backoff cap.
        multiplier: Growth of the cap per retry.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_backoff_s: float = DEFAULT_INITIAL_BACKOFF_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S
    multiplier: float = DEFAULT_BACKOFF_MULTIPLIER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must not be negative")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")

    def backoff_cap(self, retry: int) -> float:
        """Upper bound of the wait before retry number ``retry`` (1 = first retry)."""
        exponent = max(retry - 1, 0)
        return float(min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**exponent))

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Wait before retry number ``retry``: uniform in [0, cap] ("full jitter")."""
        draw = (rng or random).random()
        return self.backoff_cap(retry) * draw


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class TLSConfig:
    """TLS for the gRPC channel.

    Attributes:
        root_ca: PEM file of the CA that signed the server certificate (``None``: the system's
            roots, as gRPC finds them).
        client_cert: PEM certificate chain of this client, for mutual TLS.
        client_key: PEM private key of ``client_cert``.
        server_name: Name to verify the server certificate against, when it differs from the
            address dialled (``grpc.ssl_target_name_override``).
    """

    root_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("mutual TLS needs both client_cert and client_key")

    def read(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """``(root_ca, client_key, client_cert)`` file contents, ``None`` where not set.

        Raises:
            ValueError: When a file cannot be read or is not PEM of the expected kind (gRPC would
                only fail later, at the first call, with a vaguer message).
        """

        def load(path: Path | None, what: str, marker: bytes) -> bytes | None:
            if path is None:
                return None
            try:
                content = Path(path).read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read the TLS {what} {path}: {exc.strerror}") from exc
            if b"-----BEGIN " not in content or marker not in content:
                raise ValueError(
                    f"the TLS {what} {path} is not in PEM format: it has no"
                    f" '-----BEGIN ...{marker.decode()}' block"
                )
            return content

        return (
            load(self.root_ca, "CA certificate", b"CERTIFICATE-----"),
            load(self.client_key, "client key", b"PRIVATE KEY-----"),
            load(self.client_cert, "client certificate", b"CERTIFICATE-----"),
        )


@dataclass(frozen=True)
class ChannelOptions:
    """How the client talks to the server(s).

    Attributes:
        timeout_s: Default deadline of one client call, in seconds (retries included).
        tls: TLS settings; ``None`` for a plaintext channel.
        headers: Extra gRPC metadata sent with every call (e.g. :func:`admin_headers`).
        max_concurrent_requests: Requests of one call in flight at once.
        lb_policy: gRPC load-balancing policy for targets resolving to many addresses.
        endpoint_cooldown_s: How long an unavailable endpoint of a list is skipped.
        keepalive_time_ms: HTTP/2 keepalive ping interval (``None``: gRPC's default, off).
        channel_args: Further raw gRPC channel arguments, appended last.
        max_document_chars: Longest text sent in one request; a longer one is sent in parts and
            merged (``None``: as long as the model's published ``max_text_chars`` allows).
    """

    timeout_s: float = DEFAULT_TIMEOUT_S
    tls: TLSConfig | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    lb_policy: str = DEFAULT_LB_POLICY
    endpoint_cooldown_s: float = DEFAULT_ENDPOINT_COOLDOWN_S
    keepalive_time_ms: int | None = None
    channel_args: tuple[tuple[str, str | int], ...] = ()
    max_document_chars: int | None = None

    def __post_init__(self) -> None:
        if self.max_document_chars is not None and self.max_document_chars < 1:
            raise ValueError(f"max_document_chars must be positive, got {self.max_document_chars}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.max_concurrent_requests < 1:
            raise ValueError(
                f"max_concurrent_requests must be at least 1, got {self.max_concurrent_requests}"
            )
