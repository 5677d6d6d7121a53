"""Trimmed graphs give the same results and never compute the padding (runtime.padding_trim)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.padding_trim import is_trimmed, trim_padding, untrim

LENGTHS = (24, 31, 17)
PADDED = 40
# An id no vocabulary has: the word-embedding Gather fails on it wherever it is computed.
OUT_OF_VOCABULARY = 10**9


def graph(token_level: bool) -> onnx.ModelProto:
    name = "drug_development_trials" if token_level else "treatment_changes"
    return build_bert_classifier(
        name, 29 if token_level else 2, token_level=token_level, shape=DEMO_SIZES["tiny"]
    )


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def batch(pad_past_longest: int = 0) -> dict[str, np.ndarray]:
    """Three texts padded to PADDED; positions past the longest text hold ``pad_past_longest``."""
    rng = np.random.default_rng(0)
    ids = np.zeros((len(LENGTHS), PADDED), dtype=np.int64)
    ids[:, max(LENGTHS) :] = pad_past_longest
    mask = np.zeros_like(ids)
    for row, length in enumerate(LENGTHS):
        ids[row, :length] = rng.integers(100, 1000, length)
        mask[row, :length] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@pytest.mark.parametrize("token_level", [False, True])
def test_trimmed_graph_gives_the_plain_graphs_results(token_level):
    plain, trimmed = graph(token_level), trim_padding(graph(token_level), token_level=token_level)
    feeds = batch()
    (expected,) = session(plain).run(["logits"], feeds)
    (got,) = session(trimmed).run(["logits"], feeds)
    assert got.shape == expected.shape  # token logits are padded back to the input's length
    if token_level:
        for row, length in enumerate(LENGTHS):
            np.testing.assert_allclose(got[row, :length], expected[row, :length], atol=1e-5)
        longest = max(LENGTHS)
        assert not got[:, longest:].any(), "positions past the longest text are zeros"
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("token_level", [False, True])
def test_trimmed_graph_never_computes_positions_past_the_longest_text(token_level):
    feeds = batch(pad_past_longest=OUT_OF_VOCABULARY)
    with pytest.raises(Exception, match=r"(?i)indices|out of|range|bounds"):
        session(graph(token_level)).run(["logits"], feeds)
    (logits,) = session(trim_padding(graph(token_level), token_level=token_level)).run(["logits"], feeds)
    assert np.isfinite(logits).all()


def test_an_all_zero_mask_still_runs():
    feeds = batch()
    feeds["attention_mask"][:] = 0
    (logits,) = session(trim_padding(graph(False), token_level=False)).run(["logits"], feeds)
    assert logits.shape == (len(LENGTHS), 2)


@pytest.mark.parametrize("token_level", [False, True])
def test_trimming_is_marked_idempotent_and_undone_exactly(token_level):
    plain = graph(token_level)
    trimmed = trim_padding(plain, token_level=token_level)
    assert is_trimmed(trimmed) and not is_trimmed(plain)
    assert trim_padding(trimmed, token_level=token_level) is trimmed
    assert untrim(trimmed).SerializeToString() == plain.SerializeToString()
    assert untrim(plain) is plain
    # Same inputs, outputs, IR version and opset: configs and the image's ONNX Runtime are unaffected.
    assert [i.name for i in trimmed.graph.input] == [i.name for i in plain.graph.input]
    assert [o.name for o in trimmed.graph.output] == [o.name for o in plain.graph.output]
    assert trimmed.ir_version == plain.ir_version and list(trimmed.opset_import) == list(plain.opset_import)


def test_a_graph_without_bert_inputs_is_refused():
    plain = graph(False)
    plain.graph.input[1].name = "mask"
    with pytest.raises(ValueError, match="no attention_mask"):
        trim_padding(plain, token_level=False)


def test_the_repository_writes_trimmed_graphs_on_cpu_and_plain_ones_on_gpu(tmp_path):
    from clinserve_runtime.build_demo import build
    from clinserve_runtime.configs import ServingSettings

    def served(settings: ServingSettings, folder: str) -> onnx.ModelProto:
        build(tmp_path / folder, "tiny", settings=settings, models=["drug_development_trials"])
        return onnx.load(str(tmp_path / folder / "drug_development_trials_onnx" / "1" / "model.onnx"))

    assert is_trimmed(served(ServingSettings(), "cpu"))
    assert not is_trimmed(served(ServingSettings(execution_profile="gpu"), "gpu"))
    assert not is_trimmed(served(ServingSettings(trim_padding=False), "off"))
