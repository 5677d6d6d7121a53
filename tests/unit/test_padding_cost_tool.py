"""tools/padding_cost.py times the three ways on a real graph and prints one line each."""

from __future__ import annotations

import re

from clinserve_runtime.build_demo import build
from tools import padding_cost


def test_padding_cost_prints_the_three_ways(tmp_path, capsys):
    build(tmp_path, "tiny", models=["treatment_changes"])
    capsys.readouterr()  # the build's progress lines
    assert padding_cost.main([str(tmp_path), "--tokens", "10", "--bucket", "16", "--calls", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["plain", "plain", "trimmed"]
    assert "padded to 16" in lines[0] and "own 10" in lines[1] and "padded to 16" in lines[2]
    assert all(float(re.search(r"(\d+\.\d+) ms", line).group(1)) > 0 for line in lines)  # type: ignore[union-attr]
