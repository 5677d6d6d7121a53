"""CPU time per process of a served target (psutil), and what the report makes of it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from benchmarks.loadgen import Level, level_record, read_targets
from benchmarks.process_cpu import cpu_by_label, cpu_used, per_text_ms, process_label, tree_cpu_seconds
from benchmarks.report import cpu_finding, cpu_section
from benchmarks.stats import Request
from clinserve_runtime.processes import cpu_seconds
from tests.unit.test_bench_report import MODELS, results

STUB = "/opt/backends/python/triton_python_backend_stub"


def stub(model_file, instance):
    return [STUB, model_file, "shm_region", "1048576", "1048576", "10", "/b", "336", instance, "DEFAULT"]


def test_a_tree_adds_up_per_server_model_and_executable():
    snapshot = [
        (10, ["/opt/tritonserver"], 4.0),
        (11, stub("/r/m_onnx/1/model.onnx", "m_onnx_0_0"), 2.0),
        (12, stub("/r/m_onnx/1/model.onnx", "m_onnx_0_1"), 1.0),
        (13, stub("/r/m_tokenizer/1/model.py", "m_tokenizer_0_0"), 1.0),
        (14, ["/bin/helper", "--x"], 0.5),
        (15, [], 0.25),  # exited while the tree was read: no command line left
    ]
    assert cpu_by_label(snapshot, 10) == {
        "server": 4.0,
        "m_onnx": 3.0,  # both instances
        "m_tokenizer": 1.0,
        "helper": 0.5,
        "pid 15": 0.25,
    }
    assert process_label(13, 10, stub("/r/m_tokenizer/1/model.py", "m_tokenizer_0_0")) == "m_tokenizer"


def test_a_process_that_is_gone_counts_nothing():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert cpu_seconds(gone.pid) == 0.0
    assert tree_cpu_seconds(gone.pid) == {"server": 0.0}


def test_the_window_difference_is_never_negative():
    before = {"server": 4.0, "m_onnx": 3.0, "gone": 1.0}
    after = {"server": 5.5, "m_onnx": 2.0, "new": 0.25}  # an instance restarted; one started
    assert cpu_used(before, after) == {"server": 1.5, "m_onnx": 0.0, "new": 0.25}
    assert per_text_ms({"server": 1.5}, 30) == {"server": 50.0}
    assert per_text_ms({"server": 1.5}, 0) == {}


def test_a_busy_child_shows_its_cpu_under_this_process():
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.2
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt=time.process_time()+0.4\nwhile time.process_time()<t: pass\ntime.sleep(30)",
        ]
    )
    try:
        label = os.path.basename(sys.executable)
        deadline = time.monotonic() + 20
        while tree_cpu_seconds(os.getpid()).get(label, 0.0) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_cpu_seconds(os.getpid())[label] >= 0.3
    finally:
        child.kill()
        child.wait()


def test_a_level_record_divides_the_window_cpu_by_the_texts_answered_in_it():
    requests = [Request(0.5, 1.0 + i * 0.1, True) for i in range(20)]  # 20 end inside [1, 3]
    requests += [Request(2.0, 2.5, False), Request(2.9, 3.5, True)]  # a failure; one ends after
    level = Level(8, requests, (1.0, 3.0), [], None, None, process_cpu_s={"server": 0.4, "m_onnx": 1.0})
    record = level_record(level)
    assert record["process_cpu_ms_per_text"] == pytest.approx({"server": 20.0, "m_onnx": 50.0})
    assert "process_cpu_s" not in level_record(Level(8, requests, (1.0, 3.0), [], None, None))


def test_targets_name_their_server_process(tmp_path):
    path = tmp_path / "targets.json"
    path.write_text(
        '[{"name": "a", "url": "http://127.0.0.1:1/p", "pid": 42}, {"name": "b", "url": "http://h:2/p"}]'
    )
    assert [(s.name, s.pid) for s in read_targets(path)] == [("a", 42), ("b", 0)]


def with_cpu(load, per_text):
    for level in load["levels"]:
        duration = level["summary"]["duration_s"]
        texts = level["summary"]["throughput"] * duration
        level["process_cpu_ms_per_text"] = per_text
        level["process_cpu_s"] = {k: v * texts / 1000 for k, v in per_text.items()}
    return load


def test_the_report_shows_cpu_per_text_by_process_and_compares_it_with_the_onnx_peer():
    record = results()
    size = record["sizes"]["base"]
    served = {"server": 1.0, MODELS[1]: 0.8, MODELS[2]: 40.0, MODELS[3]: 0.5, "idle_model_onnx": 0.0}
    with_cpu(size["variants"][1]["load"], served)
    with_cpu(size["peers"]["onnx"]["load"], {"server": 39.0})
    section = cpu_section(size)
    assert (
        "| Triton [current] | 32 | 20.0 | 42.30 | 0.85 | treatment_changes_onnx 40.00, server 1.00,"
        in section
    )
    assert "| FastAPI + ONNX Runtime per request | 8 | 15.0 | 39.00 | 0.58 | server 39.00 |" in section
    assert "previous" not in section  # recorded no CPU: no row rather than a zero
    assert "idle_model_onnx" not in section  # a model that did nothing in the window
    finding = cpu_finding(size, MODELS)
    assert finding is not None
    assert "42.3 ms served [current] against 39.0 ms for the ONNX Runtime peer" in finding
    assert "40.0 ms ran in the ONNX step's stubs and 2.3 ms in" in finding


def test_without_cpu_records_the_report_says_so_and_draws_no_conclusion():
    size = results()["sizes"]["base"]
    assert cpu_section(size) == "No process CPU times were recorded.\n"
    assert cpu_finding(size, MODELS) is None
