"""tools/step_overhead.py measures a running server, or starts its own with the identity step."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_REPOSITORY
from tools import step_overhead

pytestmark = pytest.mark.integration


def milliseconds(line: str) -> float:
    return float(re.search(r"\s(\d+\.\d+) ms", line).group(1))  # type: ignore[union-attr]


def test_step_overhead_reports_each_tensor_count_and_the_ensemble(triton_server, capsys):
    assert step_overhead.main(["--url", triton_server.grpc_url, "--calls", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    counts = [int(m.group(1)) for line in lines if (m := re.search(r"(\d+) output tensor", line))]
    assert counts == [1, 3, 5, len(step_overhead.TOKENIZER_OUTPUTS)]
    assert lines[-1].startswith("treatment_changes (ensemble")
    assert all(milliseconds(line) > 0 for line in lines)
    assert not any("server ms/request" in line for line in lines)  # no admin key given


def test_step_overhead_with_its_own_server_adds_the_floor_and_server_side_times(triton_server, capsys):
    # triton_server builds TEST_REPOSITORY; the tool starts a second server on a copy of it.
    assert step_overhead.main(["--start", str(TEST_REPOSITORY), "--calls", "20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    identity = next(line for line in lines if line.startswith("python_identity"))
    ensemble = next(line for line in lines if line.startswith("treatment_changes (ensemble"))
    # The ensemble runs three Python steps, so it cannot be cheaper than one that does nothing.
    assert milliseconds(ensemble) > milliseconds(identity)
    steps = re.findall(r"(\w+) (\d+\.\d+) \(queue (\d+\.\d+), infer (\d+\.\d+)\)", ensemble)
    assert [name for name, *_ in steps] == [
        "treatment_changes_tokenizer",
        "treatment_changes_onnx",
        "treatment_changes_postprocess",
    ]
    for _, total, queue, infer in steps:
        assert 0 < float(infer) <= float(total) and float(queue) <= float(total)
    assert lines[-2].startswith("TextEncoder.encode in process") and milliseconds(lines[-2]) > 0
    assert lines[-1].startswith("ONNX Runtime run in process") and milliseconds(lines[-1]) > 0
