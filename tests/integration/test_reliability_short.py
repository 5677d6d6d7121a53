"""The reliability scenarios, short durations, against real local Triton servers (about 2 min).

Each scenario starts its own servers on loopback (not the session's server: it kills and
overloads them) on a small repository built with the shipped serving settings, and must pass
every check: nothing lost, nothing wrong, overload refused fast and clearly, SIGTERM and
SIGKILL carried by a second replica, a killed stub visible and cured by a restart, memory flat.
``make reliability`` runs the same scenarios for longer (docs/reliability.md).
"""

from __future__ import annotations

import asyncio

import pytest

from clinserve_runtime.configs import ServingSettings
from reliability.context import SHORT, Context
from reliability.report import render_details, render_table
from reliability.runner import SCENARIOS
from reliability.servers import build_repository, close_all
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

WORKDIR = PROJECT_ROOT / "build" / "reliability-test"


@pytest.fixture(scope="module")
def context():
    settings = ServingSettings()
    workdir = WORKDIR.resolve()
    yield Context(
        profile=SHORT,
        repository=build_repository(workdir, settings),
        settings=settings,
        log_dir=workdir / "logs",
        workdir=workdir,
    )
    close_all()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_passes_every_check(context, name):
    result = asyncio.run(SCENARIOS[name](context))
    report = f"\n{render_table([result])}\n{render_details([result])}"
    assert result.passed, report
    for row in result.rows:
        assert row.tally.lost == 0 and row.tally.wrong == 0, report
        assert row.tally.sent > 0, report
