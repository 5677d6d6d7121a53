"""Shared fixtures: the catalog, the seed cards' sample texts, and one real Triton server.

The server fixture builds a tiny demo repository once (cached under build/test_repository),
starts ``tritonserver`` on free loopback ports and stops it at the end of the session.

The session fails when a test leaves a process running (a server, its Python stubs, a peer):
every process the tests start inherits a session variable, and what still carries it at the
end is listed and killed (``tests/process_guard.py``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clinserve_ensemble.catalog import ModelSpec, load_catalog
from tests.process_guard import SESSION_VARIABLE, end_leftovers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"
TEST_REPOSITORY = PROJECT_ROOT / "build" / "test_repository"
LOG_DIR = PROJECT_ROOT / "build" / "test-logs"


def pytest_configure(config: pytest.Config) -> None:
    # A value of this session's own: a pytest run inside a test guards its own children.
    os.environ[SESSION_VARIABLE] = f"{os.getpid()}-{secrets.token_hex(8)}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = end_leftovers(os.environ[SESSION_VARIABLE])
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"{len(left)} process(es) started by the tests were still running at the end (killed now):",
        *left,
    ]
    if reporter is not None:
        reporter.write_sep("=", "processes left behind", red=True)
        for line in lines:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def catalog() -> dict[str, ModelSpec]:
    return load_catalog()


@pytest.fixture(scope="session")
def seed_samples() -> dict[str, list[str]]:
    """Sample texts of each seed card, by public model name."""
    samples: dict[str, list[str]] = json.loads((FIXTURES / "seed_samples.json").read_text(encoding="utf-8"))
    return {k: v for k, v in samples.items() if not k.startswith("_")}


@dataclass(frozen=True)
class RunningServer:
    """Where the session's Triton server listens."""

    grpc_url: str
    http_url: str
    metrics_url: str
    admin_key: str
    log_path: Path
    repository: Path


@pytest.fixture(scope="session")
def triton_server() -> Iterator[RunningServer]:
    """One real Triton server with all catalog models on tiny demo weights."""
    from clinserve_runtime.build_demo import build
    from clinserve_runtime.triton import TritonServer, loopback_options

    build(TEST_REPOSITORY, "tiny")
    log_path = LOG_DIR / "triton.log"
    if log_path.exists():
        log_path.unlink()
    options = loopback_options(TEST_REPOSITORY)
    admin_key = options.admin_key
    server = TritonServer(options, log_path=log_path)
    server.start()
    try:
        server.wait_until_ready(timeout_s=300)
        yield RunningServer(
            grpc_url=server.grpc_url,
            http_url=server.http_url,
            metrics_url=server.metrics_url,
            admin_key=admin_key,
            log_path=log_path,
            repository=TEST_REPOSITORY,
        )
    finally:
        server.stop()
