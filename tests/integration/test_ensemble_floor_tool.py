"""tools/ensemble_floor.py: a do-nothing ensemble of the served shape answers and reports its cost."""

from __future__ import annotations

import re

import pytest

from tools import ensemble_floor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_the_floor_ensemble_serves_and_reports_cpu_and_requests_per_execution(capsys):
    assert ensemble_floor.main(["--concurrency", "4", "--duration", "1", "--warmup", "0.5"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("c=")]
    match = re.search(r"c=\s*4:\s+([\d.]+) texts/s", line)
    assert match and float(match.group(1)) > 0, line
    for step in ensemble_floor.STEPS:
        assert re.search(rf"{step} [\d.]+", line), line
    assert "requests per execution floor_first" in line and "server" in line
