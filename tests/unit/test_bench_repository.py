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
