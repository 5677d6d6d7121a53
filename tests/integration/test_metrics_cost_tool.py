"""tools/metrics_cost.py starts its own server with the probe and prints each figure."""

from __future__ import annotations

import re

import pytest

from tools import metrics_cost

pytestmark = pytest.mark.integration


def test_metrics_cost_prints_every_figure_in_microseconds(capsys):
    assert metrics_cost.main(["--rounds", "5", "--calls", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("host: ")
    figures = {}
    for line in lines[1:]:
        match = re.search(r"median (\d+\.\d+) µs", line)
        assert match, line
        figures[line.split(":")[0]] = float(match.group(1))
    assert list(figures) == list(metrics_cost.FIGURES)
    # Every message costs something (no order asserted: one call of 5 rounds on a loaded host is noisy).
    assert all(value > 0 for value in figures.values()), figures
