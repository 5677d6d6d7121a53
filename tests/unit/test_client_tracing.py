"""The trace context a call sends: explicit, from the current OpenTelemetry span, or none (no server).

The server side (Triton's spans joining the caller's trace) is tests/integration/test_tracing.py.
"""

from __future__ import annotations

import sys

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from clinserve.errors import InvalidInputError
from clinserve.tracing import (
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    check_traceparent,
    current_span_headers,
    trace_headers,
    with_trace,
)

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def current_span(flags: int = 1, state: TraceState | None = None) -> NonRecordingSpan:
    """A span as a caller's instrumentation would have made current (the API alone, no SDK)."""
    return NonRecordingSpan(
        SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(flags), trace_state=state)
    )


@pytest.mark.parametrize(
    "value",
    [TRACEPARENT, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"],
)
def test_a_w3c_traceparent_is_accepted_as_given(value):
    assert check_traceparent(value) == value
    assert trace_headers(value) == {TRACEPARENT_HEADER: value}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "4bf92f3577b34da6a3ce929d0e0e4736",  # a bare trace id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # invalid trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # invalid parent id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
    ],
)
def test_anything_else_is_refused_naming_the_format(value):
    with pytest.raises(InvalidInputError, match="not a W3C trace context: expected 00-<32"):
        trace_headers(value)


def test_without_a_current_span_nothing_is_sent():
    assert trace_headers() == {}


def test_the_current_span_is_sent_with_its_trace_state_but_never_baggage():
    token = context.attach(baggage.set_baggage("patient", "do-not-send"))
    try:
        with trace.use_span(current_span(state=TraceState([("vendor", "x")]))):
            assert trace_headers() == {TRACEPARENT_HEADER: TRACEPARENT, TRACESTATE_HEADER: "vendor=x"}
    finally:
        context.detach(token)


def test_an_explicit_traceparent_wins_over_the_current_span():
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with trace.use_span(current_span()):
        assert trace_headers(other) == {TRACEPARENT_HEADER: other}


def test_an_unsampled_current_span_is_still_propagated_as_unsampled():
    # The caller decides sampling; its flag travels (docs/tracing.md: Triton traces it anyway).
    with trace.use_span(current_span(flags=0)):
        assert trace_headers() == {TRACEPARENT_HEADER: TRACEPARENT[:-2] + "00"}


def test_without_the_opentelemetry_package_only_an_explicit_traceparent_is_sent(monkeypatch):
    # None in sys.modules makes `import` fail as if the package were not installed.
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError):
        import opentelemetry.trace.propagation.tracecontext  # noqa: F401
    assert current_span_headers() == {}
    assert trace_headers(TRACEPARENT) == {TRACEPARENT_HEADER: TRACEPARENT}


def test_the_calls_context_replaces_one_in_the_clients_headers_and_keeps_the_rest():
    headers = {"admin-key": "k", "Traceparent": "stale", "tracestate": "stale=1"}
    assert with_trace(headers, {TRACEPARENT_HEADER: TRACEPARENT}) == {
        "admin-key": "k",
        TRACEPARENT_HEADER: TRACEPARENT,
    }
    assert with_trace(headers, {}) == headers
