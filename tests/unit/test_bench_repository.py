"""Benchmark variants share the weights, and get their own graph only when its form differs."""

from __future__ import annotations

import onnx

from benchmarks.repository import materialize
from benchmarks.variants import VARIANTS
from clinserve_runtime.build_demo import build
from clinserve_runtime.padding_trim import is_trimmed

MODEL = "drug_development_trials"


def test_variants_link_the_weights_unless_their_graph_form_differs(tmp_path):
    weights = tmp_path / "weights"
    build(weights, "tiny", models=[MODEL])
    source = weights / f"{MODEL}_onnx" / "1" / "model.onnx"
    assert is_trimmed(onnx.load(str(source)))  # the default cpu settings trim

    current = materialize(weights, tmp_path / "current", [MODEL], VARIANTS["current"], weights="demo-tiny")
    graph = current / f"{MODEL}_onnx" / "1" / "model.onnx"
    assert graph.stat().st_ino == source.stat().st_ino, "same form: a hard link, no copy"

    for name in ("untuned", "no-trim"):
        plain = materialize(weights, tmp_path / name, [MODEL], VARIANTS[name], weights="demo-tiny")
        graph = plain / f"{MODEL}_onnx" / "1" / "model.onnx"
        assert graph.stat().st_ino != source.stat().st_ino
        assert not is_trimmed(onnx.load(str(graph)))
        tokenizer = f"{MODEL}_tokenizer/1/tokenizer.json"
        assert (plain / tokenizer).stat().st_ino == (weights / tokenizer).stat().st_ino


def test_int8_weights_are_what_the_cpu_import_writes_batch_independent_and_trimmed(tmp_path, catalog):
    from benchmarks.repository import build_weights
    from clinserve_runtime.importers.batch_independence import check_batch_independence
    from clinserve_runtime.importers.parity_texts import DEFAULT_TEXTS

    model = "treatment_changes"
    spec = catalog[model]
    repository = build_weights(tmp_path, "tiny-int8", [model])
    graph = repository / spec.onnx_model / "1" / "model.onnx"
    ops = {node.op_type for node in onnx.load(str(graph)).graph.node}
    assert "QuantizeLinear" in ops and "DynamicQuantizeLinear" not in ops  # calibrated scales
    assert is_trimmed(onnx.load(str(graph)))
    tokenizer = repository / spec.tokenizer_model / "1" / "tokenizer.json"
    assert check_batch_independence(spec, tokenizer, graph, DEFAULT_TEXTS)["passed"]
    stamp = graph.stat().st_mtime_ns
    assert build_weights(tmp_path, "tiny-int8", [model]) == repository
    assert graph.stat().st_mtime_ns == stamp, "up to date: not quantized again"
