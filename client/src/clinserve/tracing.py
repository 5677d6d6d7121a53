"""W3C trace context for the requests a call sends (docs/tracing.md).

A server started with tracing on (Triton's OpenTelemetry mode) reads the ``traceparent`` gRPC
metadata of each request and makes its spans children of the caller's span, so they join the
caller's trace. The client sends, per call:

- the ``traceparent`` given to the call, when one is given (checked against the W3C format);
- otherwise, when the ``opentelemetry`` API package is importable and a valid span is current in
  the calling thread or task, that span's context (``traceparent`` and ``tracestate``, through
  the W3C propagator only: baggage, which may hold anything, is never sent);
- otherwise nothing.

``opentelemetry-api`` is optional (``pip install 'clinserve-client[tracing]'``); without it only
an explicit ``traceparent`` is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clinserve.errors import InvalidInputError

__all__ = ["TRACEPARENT_HEADER", "TRACESTATE_HEADER", "check_traceparent", "trace_headers"]

#: gRPC metadata key of the W3C trace context (lower case: gRPC metadata keys must be).
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"
# version 00: 00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>, lower case.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def check_traceparent(value: str) -> str:
    """``value`` when it is a valid W3C ``traceparent`` (version 00); a clear error otherwise.

    Raises:
        InvalidInputError: Wrong format, or an all-zero trace or span id (invalid per W3C).
    """
    match = _TRACEPARENT.fullmatch(value) if isinstance(value, str) else None
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        raise InvalidInputError(
            f"traceparent {value!r} is not a W3C trace context: expected"
            " 00-<32 lower-case hex trace id>-<16 hex parent span id>-<2 hex flags>, ids not all zero"
        )
    return value


def trace_headers(traceparent: str | None = None) -> dict[str, str]:
    """The trace-context metadata for one call (see the module's docstring for the order)."""
    if traceparent is not None:
        return {TRACEPARENT_HEADER: check_traceparent(traceparent)}
    return current_span_headers()


def current_span_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current OpenTelemetry span, if any.

    Empty without the ``opentelemetry`` package or without a valid current span; the W3C
    propagator injects nothing for an invalid span context.
    """
    try:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return {}
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return {key: value for key, value in carrier.items() if key in (TRACEPARENT_HEADER, TRACESTATE_HEADER)}


def with_trace(headers: Mapping[str, str], trace: Mapping[str, str]) -> dict[str, str]:
    """The client's headers with the call's trace context; the call's context wins."""
    if not trace:
        return dict(headers)
    kept = {k: v for k, v in headers.items() if k.lower() not in (TRACEPARENT_HEADER, TRACESTATE_HEADER)}
    return {**kept, **trace}
