"""`make serve`'s command stops when asked: Ctrl-C or SIGTERM ends it and its Triton server.

A signal handler that waited for the server deadlocked here once: the main thread was inside
``Popen.wait()`` holding its lock, the handler's own ``wait()`` could never take it, and the
command hung forever next to a zombie ``tritonserver`` (docs/runtime.md, lesson 8).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clinserve_runtime.process_group import kill_group
from clinserve_runtime.triton import free_ports
from tests.conftest import PROJECT_ROOT, TEST_REPOSITORY

READY_LINE = "Triton is ready"
STOP_TIMEOUT_S = 60


def start_serve(exit_timeout_secs: int = 5) -> tuple[subprocess.Popen[str], list[str]]:
    """``python -m clinserve_runtime.serve`` on free ports; its output lines collect in a list."""
    from clinserve_runtime.build_demo import build

    build(TEST_REPOSITORY, "tiny")
    http, grpc, metrics = free_ports(3)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clinserve_runtime.serve",
            f"--model-repository={TEST_REPOSITORY}",
            f"--http-port={http}",
            f"--grpc-port={grpc}",
            f"--metrics-port={metrics}",
            f"--exit-timeout-secs={exit_timeout_secs}",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=collect, daemon=True).start()
    return process, lines


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (zombies included: an unreaped server is a bug too)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_line(lines: list[str], text: str, process: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode} before {text!r}:\n{''.join(lines)}")
        time.sleep(0.2)
    kill_serve(process)
    pytest.fail(f"no {text!r} after {timeout_s:.0f}s:\n{''.join(lines)}")


def kill_serve(process: subprocess.Popen[str]) -> None:
    """Kill the serve command and its servers, each with its stubs (they lead their own groups)."""
    servers = children(process.pid)
    process.kill()
    process.wait()
    for pid in servers:
        kill_group(pid)


def stop_and_wait(process: subprocess.Popen[str], signum: int, lines: list[str]) -> int:
    server_pids = children(process.pid)
    process.send_signal(signum)
    try:
        code = process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        for pid in server_pids:
            kill_group(pid)
        name = signal.Signals(signum).name
        pytest.fail(f"serve still running {STOP_TIMEOUT_S}s after {name}:\n{''.join(lines)}")
    for pid in server_pids:
        assert not Path(f"/proc/{pid}").exists(), f"Triton (pid {pid}) outlived the serve command"
    return code


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_ready_server_stops_on_ctrl_c_and_sigterm(signum):
    process, lines = start_serve()
    wait_for_line(lines, READY_LINE, process, timeout_s=300)
    assert children(process.pid), "serve runs tritonserver as its child"
    assert stop_and_wait(process, signum, lines) == 0
    assert any("stopping Triton" in line for line in lines)


@pytest.mark.integration
def test_a_signal_while_models_load_stops_the_command_too():
    process, lines = start_serve()
    deadline = time.monotonic() + 60
    while not children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stop_and_wait(process, signal.SIGTERM, lines) == 0
    assert not any(READY_LINE in line for line in lines)
