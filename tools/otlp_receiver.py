"""A small OTLP/HTTP traces receiver: what Triton's OpenTelemetry mode exports, decoded.

Accepts ``POST /v1/traces`` with an ``ExportTraceServiceRequest`` body in either OTLP/HTTP
encoding, JSON (what Triton 2.51's exporter, opentelemetry-cpp 1.13, sends) or protobuf, gzip
encoded or not, and keeps every span. The tracing test and
``tools/trace_cost.py`` point a server's ``trace_url`` at it (docs/tracing.md).

    with OtlpReceiver() as receiver:
        ...  # start a server with trace_url=receiver.url, send requests
        spans = receiver.wait_for(lambda spans: len(spans) >= 8, timeout_s=60)

Needs ``opentelemetry-proto`` (the dev extra).
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP/JSON writes these bytes fields as hex, not as the base64 of protobuf's JSON mapping
# (OTLP specification, "JSON Protobuf Encoding"): json_format would read the hex digits as
# base64 and give wrong ids without an error.
HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span; ids in lower-case hex as in a W3C ``traceparent``."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: tuple[str, ...] = ()


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP attribute value (scalars; arrays as lists)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP key-value pairs as a dict."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def hex_ids_to_base64(node: Any) -> Any:
    """An OTLP/JSON document with its hex ids rewritten as protobuf JSON's base64."""
    if isinstance(node, list):
        return [hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: base64.b64encode(bytes.fromhex(value)).decode()
        if key in HEX_ID_FIELDS and isinstance(value, str)
        else hex_ids_to_base64(value)
        for key, value in node.items()
    }


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """One export request, from either OTLP/HTTP encoding."""
    request = ExportTraceServiceRequest()
    if content_type == JSON:
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), request)
    else:
        request.ParseFromString(body)
    return request


def decode(body: bytes, content_type: str = PROTOBUF) -> list[ReceivedSpan]:
    """Every span of one ``ExportTraceServiceRequest``."""
    request = parse_request(body, content_type)
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=attributes(span.attributes),
                        resource=resource,
                        events=tuple(event.name for event in span.events),
                    )
                )
    return spans


class OtlpReceiver:
    """OTLP/HTTP traces endpoint on a free loopback port, in a background thread.

    Attributes:
        rejected: Why each request that was not a decodable trace export was refused.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        """Bind now (port chosen by the kernel); serve from :meth:`start` or ``with``."""
        self._spans: list[ReceivedSpan] = []
        self._changed = threading.Condition()
        self.rejected: list[str] = []
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The traces URL to give a server (``--trace-config opentelemetry,url=...``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{TRACES_PATH}"

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        with self._changed:
            return list(self._spans)

    def wait_for(
        self, condition: Callable[[list[ReceivedSpan]], bool], timeout_s: float
    ) -> list[ReceivedSpan]:
        """The spans, once ``condition(spans)`` holds.

        Raises:
            TimeoutError: After ``timeout_s``, naming what did arrive.
        """
        with self._changed:
            if self._changed.wait_for(lambda: condition(self._spans), timeout=timeout_s):
                return list(self._spans)
            names = sorted({s.name for s in self._spans})
            raise TimeoutError(
                f"spans did not arrive within {timeout_s:g}s: {len(self._spans)} received ({names});"
                f" rejected exports: {self.rejected or 'none'}"
            )

    def _received(self, spans: list[ReceivedSpan]) -> None:
        with self._changed:
            self._spans.extend(spans)
            self._changed.notify_all()

    def _rejected(self, reason: str) -> None:
        with self._changed:
            self.rejected.append(reason)
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != TRACES_PATH:
                    return self._refuse(404, f"POST {self.path}")
                content_type = self.headers.get_content_type()
                if content_type not in (PROTOBUF, JSON):
                    return self._refuse(415, f"content type {content_type}")
                try:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    spans = decode(body, content_type)
                except Exception as exc:  # a malformed export is reported, not fatal to the receiver
                    return self._refuse(400, f"undecodable body: {exc}")
                receiver._received(spans)
                response = ExportTraceServiceResponse()
                reply = (
                    json_format.MessageToJson(response).encode()
                    if content_type == JSON
                    else response.SerializeToString()
                )
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _refuse(self, status: int, reason: str) -> None:
                receiver._rejected(reason)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per export would flood the test output

        return Handler

    def start(self) -> OtlpReceiver:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
