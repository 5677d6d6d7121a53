"""tools/step_overhead.py runs against a real server and prints one line per measurement."""

from __future__ import annotations

import re

import pytest

from tools import step_overhead

pytestmark = pytest.mark.integration


def test_step_overhead_reports_each_tensor_count_and_the_ensemble(triton_server, capsys):
    assert step_overhead.main(["--url", triton_server.grpc_url, "--calls", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(m.group(1)) for line in lines if (m := re.search(r"(\d+) output tensor", line))] == [
        1,
        3,
        7,
        10,
    ]
    assert lines[-1].startswith("treatment_changes (ensemble")
    assert all(float(line.split(":")[-1].split()[0]) > 0 for line in lines)
