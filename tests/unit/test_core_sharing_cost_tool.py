"""tools/core_sharing_cost.py runs a real graph from one and two processes and prints each way."""

from __future__ import annotations

import re

from clinserve_runtime.build_demo import build
from clinserve_runtime.ort_options import available_cores
from tools import core_sharing_cost


def test_core_sharing_cost_prints_every_way(tmp_path, capsys):
    build(tmp_path, "tiny", models=["treatment_changes"])
    capsys.readouterr()  # the build's progress lines
    assert core_sharing_cost.main([str(tmp_path), "--seconds", "0.3", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    cores = available_cores()
    ways = [re.search(r"(\d) process\(es\) x (\d+) thread", line).groups() for line in lines]  # type: ignore[union-attr]
    assert ways == [("1", str(cores)), ("1", "1"), ("2", str(cores)), ("2", "1")]
    rates = [float(re.search(r"(\d+\.\d) texts/s", line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert all(rate > 0 for rate in rates)


def test_core_sharing_cost_reports_what_a_second_session_costs(tmp_path, capsys):
    build(tmp_path, "tiny", models=["treatment_changes"])
    capsys.readouterr()
    assert core_sharing_cost.main([str(tmp_path), "--seconds", "0.2", "--rounds", "1", "--memory"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    one, second = (float(v) for v in re.findall(r"(\d+) MiB", first))
    assert first.startswith("memory: one session") and one > 0 and second > 0
