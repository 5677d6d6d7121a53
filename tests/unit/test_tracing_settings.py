"""Tracing settings of the local server and the OTLP receiver's decoding (no server).

The running server's spans are tests/integration/test_tracing.py; the manifests'
tests/unit/test_deploy_tracing.py.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from clinserve_runtime import serve
from clinserve_runtime.triton import (
    DEFAULT_TRACE_RATE,
    TRACE_SERVICE_NAME,
    ServerOptions,
    server_flags,
    trace_flags,
)
from tools.otlp_receiver import HEX_ID_FIELDS, JSON, PROTOBUF, OtlpReceiver, decode

URL = "http://collector.test:4318/v1/traces"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
PARENT_ID = "b7ad6b7169203331"


def test_tracing_is_off_by_default():
    assert not [f for f in server_flags(ServerOptions(model_repository=Path("/m"))) if "trace" in f]
    assert trace_flags("") == []


def test_a_trace_url_turns_on_opentelemetry_mode_at_timestamps_level():
    flags = server_flags(ServerOptions(model_repository=Path("/m"), trace_url=URL, trace_rate=7))
    assert flags[-5:] == [
        "--trace-config=mode=opentelemetry",
        # Triton's default level is OFF: without TIMESTAMPS nothing is traced in either mode.
        "--trace-config=level=TIMESTAMPS",
        "--trace-config=rate=7",
        f"--trace-config=opentelemetry,url={URL}",
        f"--trace-config=opentelemetry,resource=service.name={TRACE_SERVICE_NAME}",
    ]
    assert ServerOptions(model_repository=Path("/m")).trace_rate == DEFAULT_TRACE_RATE


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trace-url", "collector:4317"], "must be an OTLP/HTTP endpoint"),
        (["--trace-url", "grpc://collector:4317"], "not gRPC"),
        (["--trace-url", URL, "--trace-rate", "-1"], "--trace-rate must be 0 or more"),
    ],
)
def test_serve_refuses_a_trace_setting_triton_could_not_use(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        serve.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_serve_says_whether_and_where_traces_go():
    repository = Path("/m")
    assert serve.trace_summary(ServerOptions(model_repository=repository)).startswith(
        "off (make serve TRACE_URL="
    )
    on = serve.trace_summary(ServerOptions(model_repository=repository, trace_url=URL, trace_rate=0))
    assert URL in on and "no other requests" in on


def export_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", TRACE_SERVICE_NAME
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id = bytes.fromhex(TRACE_ID), bytes.fromhex(SPAN_ID)
    span.parent_span_id, span.name = bytes.fromhex(PARENT_ID), "treatment_changes"
    span.start_time_unix_nano, span.end_time_unix_nano = 10, 20
    model = span.attributes.add()
    model.key, model.value.string_value = "triton.model_name", "treatment_changes"
    version = span.attributes.add()
    version.key, version.value.int_value = "triton.model_version", 1
    span.events.add().name = "REQUEST_START"
    return request


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as an exporter writes it: ids in hex (what Triton's opentelemetry-cpp sends)."""

    def to_hex(node):
        if isinstance(node, list):
            return [to_hex(item) for item in node]
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in HEX_ID_FIELDS else to_hex(v) for k, v in node.items()
            }
        return node

    return json.dumps(to_hex(json_format.MessageToDict(request))).encode()


def test_both_otlp_encodings_decode_to_the_same_span_with_hex_ids():
    request = export_request()
    body = otlp_json(request)
    assert TRACE_ID.encode() in body  # hex in the JSON, as OTLP/JSON writes ids
    [from_json] = decode(body, JSON)
    [from_protobuf] = decode(request.SerializeToString(), PROTOBUF)
    assert from_json == from_protobuf
    assert (from_json.trace_id, from_json.span_id, from_json.parent_span_id) == (TRACE_ID, SPAN_ID, PARENT_ID)
    assert from_json.attributes == {"triton.model_name": "treatment_changes", "triton.model_version": 1}
    assert from_json.resource == {"service.name": TRACE_SERVICE_NAME}
    assert from_json.events == ("REQUEST_START",)


def post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_receiver_keeps_exported_spans_and_names_what_it_refused():
    with OtlpReceiver() as receiver:
        assert post(receiver.url, otlp_json(export_request()), JSON) == 200
        [span] = receiver.wait_for(lambda spans: len(spans) == 1, timeout_s=10)
        assert span.trace_id == TRACE_ID
        assert post(receiver.url, b"{}", "text/plain") == 415
        assert post(receiver.url, b"not json", JSON) == 400
        assert receiver.rejected[0] == "content type text/plain"
        assert receiver.rejected[1].startswith("undecodable body")
        with pytest.raises(TimeoutError, match=r"1 received \(\['treatment_changes'\]\)"):
            receiver.wait_for(lambda spans: len(spans) > 1, timeout_s=0.2)


def test_the_docs_quote_the_servers_trace_flags_and_the_default_rate():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "tracing.md").read_text(encoding="utf-8")
    example = "http://collector:4318/v1/traces"
    assert "```text\n" + "\n".join(trace_flags(example)) + "\n```" in docs
    assert re.search(rf"\(default\s+{DEFAULT_TRACE_RATE}, Triton's default", docs)
