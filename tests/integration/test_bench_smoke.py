"""The benchmark harness end to end, tiny and short, so `make bench` cannot rot unnoticed.

One real run of ``python -m benchmarks`` on the tiny demo model at one concurrency: corpus,
limit, a Triton server loaded over gRPC from a separate client process (with statistics),
long documents, the Hugging Face checkpoint (with its logits parity check), both FastAPI peers,
and the report with its plots. It checks that every part produced numbers, not what they are.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clinserve_runtime.triton import PROJECT_ROOT

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    output = root / "out"
    command = [
        sys.executable, "-m", "benchmarks", "--profile", "cpu",
        "--sizes", "tiny", "tiny-int8", "--variants", "current", "--concurrency", "2",
        "--duration", "1", "--warmup", "0.2", "--corpus-size", "16", "--paired-texts", "6",
        "--long-doc-sizes", "1000", "60000", "--long-doc-repeats", "1",
        "--background-sample", "0.2", "--budget", "500",
        "--work-dir", str(root / "work"), "--output-dir", str(output),
    ]  # fmt: skip
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=480, check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout, output, root / "work"


def test_smoke_run_prints_the_key_ratios(smoke_run):
    stdout, _, _ = smoke_run
    assert "tiny served/limit throughput at c=2" in stdout
    # The load ran at c=2 only; the latency target comes from the interleaved single-text run.
    assert "tiny p50 at c=1 minus limit single-text latency (ms)" in stdout
    assert "interleaved (12 pairs)" in stdout
    assert "single text, interleaved (12 calls each), [current]" in stdout
    assert "tiny served/transformers peer peak throughput" in stdout
    assert "tiny served/onnx peer peak throughput" in stdout
    assert "tiny-int8 served/transformers peer peak throughput" in stdout


def test_smoke_run_measures_every_target_without_errors(smoke_run):
    _, output, _ = smoke_run
    results = json.loads((output / "results.json").read_text(encoding="utf-8"))
    tiny = results["sizes"]["tiny"]
    assert tiny["limit"]["best"]["texts_per_s"] > 0
    assert tiny["limit"]["single"]["p50_ms"] > 0
    loads = [
        tiny["variants"][0]["load"],
        tiny["peers"]["transformers"]["load"],
        tiny["peers"]["onnx"]["load"],
    ]
    for load in loads:
        (level,) = load["levels"]
        assert level["summary"]["requests"] > 0
        assert level["summary"]["errors"] == 0, level["error_samples"]
    assert tiny["peers"]["transformers"]["parity"]["max_abs_diff"] < 1e-4
    paired = tiny["paired"]
    assert (paired["texts"], paired["rounds"]) == (6, 2)
    assert paired["targets"]["current"]["calls"] == 12
    assert (
        paired["targets"]["current"]["limit_p50_ms"] > 0 and paired["targets"]["current"]["served_p50_ms"] > 0
    )
    assert results["skipped"] == []


def test_smoke_run_records_where_every_session_ran(smoke_run):
    _, output, _ = smoke_run
    results = json.loads((output / "results.json").read_text(encoding="utf-8"))
    assert results["execution"]["profile"] == "cpu"
    cpu = "CPUExecutionProvider"
    for size in ("tiny", "tiny-int8"):
        record = results["sizes"][size]
        assert record["limit"]["provider"] == cpu
        assert record["variants"][0]["runs_on"] == [cpu]  # read back from the stand-in's log line
        assert record["peers"]["onnx"]["runs_on"] == cpu
        assert record["peers"]["transformers"]["runs_on"].startswith("PyTorch ")
    assert results["sizes"]["tiny"]["paired"]["limit_runs_on"]["provider"] == cpu
    report = (output / "REPORT.md").read_text(encoding="utf-8")
    assert "- Execution profile `cpu`, onnxruntime" in report
    assert "Triton [current]: CPU provider (CPUExecutionProvider)" in report


def test_smoke_run_reports_stages_long_documents_and_plots(smoke_run):
    _, output, _ = smoke_run
    report = (output / "REPORT.md").read_text(encoding="utf-8")
    assert "## Targets" in report
    for model in ("treatment_changes_tokenizer", "treatment_changes_onnx", "treatment_changes_postprocess"):
        assert f"| current | 2 | {model} |" in report
    assert "| 1000 |" in report and "| 60000 |" in report
    assert "Silently truncated" not in report
    # 60,000 characters pass one request's limits (50,000 characters, the token budget): the
    # client library sends the document in parts, as a user's call would.
    documents = json.loads((output / "results.json").read_text(encoding="utf-8"))["long_docs"]["documents"]
    assert [d["chars"] for d in documents] == [1000, 60000]
    assert all("error" not in d and d["entities"] > 0 for d in documents), documents
    assert documents[0]["requests_per_document"] == 1 and documents[1]["requests_per_document"] >= 2
    for name in ("throughput_tiny.png", "latency_tiny.png", "long_docs.png"):
        assert (output / name).read_bytes()[:8] == PNG_MAGIC
        assert f"]({name})" in report


def test_smoke_run_records_cpu_per_text_for_every_process_of_every_target(smoke_run):
    _, output, _ = smoke_run
    tiny = json.loads((output / "results.json").read_text(encoding="utf-8"))["sizes"]["tiny"]
    (served,) = tiny["variants"][0]["load"]["levels"]
    steps = {"treatment_changes_tokenizer", "treatment_changes_onnx", "treatment_changes_postprocess"}
    # tritonserver and each step's stubs, read from the real process tree; every one did work.
    assert {"server", *steps} <= set(served["process_cpu_ms_per_text"]), served["process_cpu_ms_per_text"]
    assert all(served["process_cpu_ms_per_text"][name] > 0 for name in {"server", *steps})
    for kind in ("transformers", "onnx"):
        (level,) = tiny["peers"][kind]["load"]["levels"]
        assert level["process_cpu_ms_per_text"]["server"] > 0
    report = (output / "REPORT.md").read_text(encoding="utf-8")
    assert "### CPU per text, by process" in report
    assert "| Triton [current] | 2 |" in report and "| FastAPI + ONNX Runtime per request | 2 |" in report


def test_int8_size_serves_the_quantized_graph_and_compares_it_with_fp32(smoke_run):
    _, output, work = smoke_run
    import onnx

    graph = onnx.load(str(work / "weights" / "tiny-int8" / "treatment_changes_onnx" / "1" / "model.onnx"))
    operators = {node.op_type for node in graph.graph.node}
    # Calibrated (static) scales: quantize nodes with fixed scales, none computing them per batch.
    assert "QuantizeLinear" in operators and "DynamicQuantizeLinear" not in operators, operators
    fp32 = onnx.load(str(work / "weights" / "tiny" / "treatment_changes_onnx" / "1" / "model.onnx"))
    assert not {"QuantizeLinear", "DynamicQuantizeLinear"} & {node.op_type for node in fp32.graph.node}
    results = json.loads((output / "results.json").read_text(encoding="utf-8"))
    int8 = results["sizes"]["tiny-int8"]
    assert int8["int8_agreement"]["texts"] == 16
    assert 0.0 <= int8["int8_agreement"]["decision_agreement"] <= 1.0
    # The transformers peer keeps the fp32 weights: its checkpoint is the fp32 size's conversion.
    assert int8["peers"]["transformers"]["parity"]["max_abs_diff"] < 1e-4
    for load in (int8["variants"][0]["load"], int8["peers"]["onnx"]["load"]):
        (level,) = load["levels"]
        assert level["summary"]["requests"] > 0
        assert level["summary"]["errors"] == 0, level["error_samples"]
    assert "int8 quantization with scales calibrated at import" in (output / "REPORT.md").read_text(
        encoding="utf-8"
    )
