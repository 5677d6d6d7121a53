"""Process trees, memory and Python-backend stubs (psutil), and the liveness check's own /proc reader
(no server)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from clinserve_runtime.processes import (
    StubProcess,
    command_line,
    descendants,
    parse_stub_command,
    python_stubs,
    rss_kib,
    rss_mib,
)
from clinserve_runtime.procfs import dead_children, dead_stubs, server_pids
from clinserve_runtime.stub_check import main as stub_check

STUB = "/work/main/.runtime/backends/python/triton_python_backend_stub"


def fake_process(proc: Path, pid: int, parent: int, argv: list[str], rss_kib: int, name: str = "x") -> None:
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    # The command name may hold spaces and parentheses; the parser splits after the last ")".
    (folder / "stat").write_text(f"{pid} ({name}) S {parent} 1 1 0 -1\n")
    (folder / "status").write_text(f"Name:\t{name}\nVmRSS:\t{rss_kib} kB\n")
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def stub_argv(model_file: str, instance: str) -> list[str]:
    return [
        STUB,
        model_file,
        "triton_python_backend_shm_region_1",
        "1048576",
        "1048576",
        "10",
        "/b",
        "336",
        instance,
        "DEFAULT",
    ]


def start_stub(tmp_path: Path, model: str, model_file: str, instance: str) -> subprocess.Popen[bytes]:
    """A real child whose command line is a Python-backend stub's (``exec -a`` sets its argv[0])."""
    script = tmp_path / "r" / model / "1" / model_file
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("import time\ntime.sleep(120)\n")
    child = subprocess.Popen(
        ["bash", "-c", 'exec -a "$0" "$@"', STUB, sys.executable, str(script), "shm", instance, "DEFAULT"]
    )
    deadline = time.monotonic() + 30
    while command_line(child.pid)[:1] != [STUB] and time.monotonic() < deadline:  # bash has not exec'd yet
        time.sleep(0.05)
    return child


def test_the_stubs_below_a_process_are_listed_by_model_and_a_dead_one_is_not(tmp_path):
    tokenizer = start_stub(tmp_path, "m_tokenizer", "model.py", "m_tokenizer_0_0")
    onnx = start_stub(tmp_path, "m_onnx", "model.onnx", "m_onnx_0_1")

    # Only this test's stubs: in a full run the session's Triton server is a child of this
    # process too, and its stubs are rightly listed below it as well.
    def these_stubs() -> list[StubProcess]:
        return [s for s in python_stubs(os.getpid()) if s.pid in (tokenizer.pid, onnx.pid)]

    try:
        assert these_stubs() == [
            StubProcess(pid=onnx.pid, model="m_onnx", instance="m_onnx_0_1"),
            StubProcess(pid=tokenizer.pid, model="m_tokenizer", instance="m_tokenizer_0_0"),
        ]
        # What Triton 2.51 leaves after a stub is killed: a zombie child, no longer a live stub.
        onnx.kill()
        deadline = time.monotonic() + 30
        while psutil.Process(onnx.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert onnx.pid in [pid for pid, _ in dead_children(os.getpid())]
        assert these_stubs() == [StubProcess(tokenizer.pid, "m_tokenizer", "m_tokenizer_0_0")]
    finally:
        for child in (tokenizer, onnx):
            child.kill()
            child.wait()


def test_a_process_that_is_gone_counts_no_memory():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert rss_kib(gone.pid) == 0
    assert descendants(gone.pid) == [gone.pid]
    assert command_line(gone.pid) == []


def test_only_python_backend_stubs_are_parsed():
    assert parse_stub_command(1, ["/usr/bin/python3", "/r/m/1/model.py"]) is None
    assert parse_stub_command(1, []) is None
    assert parse_stub_command(1, [STUB]) is None
    # An instance argument that does not match the model keeps the model name.
    assert parse_stub_command(1, [STUB, "/r/m/1/model.py", "x"]) == StubProcess(1, "m", "m")


def test_the_real_process_tree_includes_a_child_and_its_memory():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while rss_kib(child.pid) < 1024 and time.monotonic() < deadline:  # the interpreter is starting
            time.sleep(0.05)
        tree = descendants(os.getpid())
        assert tree[0] == os.getpid() and child.pid in tree
        # The tree holds this process and a Python interpreter (several MiB) on top.
        assert rss_mib(os.getpid()) * 1024 > rss_kib(os.getpid()) + 512
    finally:
        child.kill()
        child.wait()


def test_a_dead_stub_left_unreaped_fails_the_liveness_check(tmp_path, capsys):
    proc = tmp_path / "proc"
    fake_process(proc, 10, 1, ["/opt/tritonserver"], 1024, "tritonserver")
    fake_process(
        proc, 11, 10, stub_argv("/r/m_tokenizer/1/model.py", "m_tokenizer_0_0"), 1024, "triton_python_b"
    )
    assert dead_stubs(10, proc) == [] and stub_check(["--pid", "10"], proc) == 0

    # What Triton 2.51 leaves after a stub is killed: a zombie, empty command line, no memory.
    (proc / "11" / "stat").write_text("11 (triton_python_b) Z 10 1 1 0 -1\n")
    (proc / "11" / "cmdline").write_bytes(b"")
    fake_process(proc, 12, 10, ["/bin/true"], 0, "true")
    (proc / "12" / "stat").write_text("12 (true) Z 10 1 1 0 -1\n")  # a dead child that is no stub
    assert dead_children(10, proc) == [(11, "triton_python_b"), (12, "true")]
    assert dead_stubs(10, proc) == [11]
    assert stub_check(["--pid", "10"], proc) == 1
    assert "died (pid 11)" in capsys.readouterr().err
    assert stub_check(["--pid", "99"], proc) == 2


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def live_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/health/live"
    server.shutdown()
    server.server_close()


def test_the_liveness_check_finds_the_server_by_name_and_asks_its_live_endpoint(tmp_path, capsys, live_url):
    proc = tmp_path / "proc"
    fake_process(proc, 7, 0, ["/bin/sh"], 1024, "nvidia_entrypoi")  # PID 1 need not be the server
    fake_process(proc, 10, 7, ["/opt/tritonserver"], 1024, "tritonserver")
    fake_process(
        proc, 11, 10, stub_argv("/r/m_tokenizer/1/model.py", "m_tokenizer_0_0"), 1024, "triton_python_b"
    )
    assert server_pids(proc) == [10]
    assert stub_check(["--live-url", live_url], proc) == 0

    _Health.status = 503
    try:
        assert stub_check(["--live-url", live_url], proc) == 1
        assert "HTTP 503" in capsys.readouterr().err
    finally:
        _Health.status = 200
    assert stub_check(["--live-url", "http://127.0.0.1:9/v2/health/live"], proc) == 1
    assert "unreachable" in capsys.readouterr().err

    (proc / "11" / "stat").write_text("11 (triton_python_b) Z 10 1 1 0 -1\n")  # the stub died
    assert stub_check(["--live-url", live_url], proc) == 1
    assert "died (pid 11)" in capsys.readouterr().err


def test_the_liveness_check_without_a_server_says_so(tmp_path, capsys):
    proc = tmp_path / "proc"
    fake_process(proc, 7, 0, ["/bin/sh"], 1024, "sh")
    assert stub_check([], proc) == 2
    assert "no tritonserver process" in capsys.readouterr().err


def test_the_liveness_check_imports_nothing_the_server_image_lacks():
    # The image installs the project's wheel --no-deps (deploy/docker/Dockerfile): no psutil.
    code = (
        "import sys, clinserve_runtime.stub_check\n"
        "print(sorted(m for m in ('psutil', 'numpy', 'onnxruntime', 'tritonclient') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
