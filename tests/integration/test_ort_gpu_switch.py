"""`make serve ORT=gpu` on a machine without a GPU: onnxruntime-gpu installed, served on the CPU.

The switch runs for real, through the Makefile's own targets, in a second environment layered
over the project's (``build/ort-gpu-venv``: its site-packages hold only onnxruntime-gpu, a .pth
file adds the project environment's behind it), so the project's environment keeps the CPU build
and the ~370 MB wheel is installed once and kept between runs (``build/`` survives; pip's cache
keeps the download). Checked: the layered environment imports the GPU build; ``make serve
ORT=gpu`` builds the cpu profile there because no GPU is found, says so once, starts Triton whose
ONNX stand-in imports the GPU build and runs every model on the CPU provider, and answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from clinserve_runtime.ort_providers import gpu_present
from clinserve_runtime.triton import free_ports
from tests.conftest import PROJECT_ROOT
from tests.integration.triton_calls import infer

pytestmark = pytest.mark.integration

LAYERED_VENV = PROJECT_ROOT / "build" / "ort-gpu-venv"
READY_LINE = "Triton is ready"


def layered_python() -> Path:
    """The layered environment's interpreter, created once and kept."""
    python = LAYERED_VENV / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(LAYERED_VENV)], check=True, timeout=300)
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    # A site directory, not a plain path: its own .pth files (the editable installs) count too.
    project_site = sysconfig.get_paths()["purelib"]
    (site / "clinserve-layered.pth").write_text(
        f"import site; site.addsitedir({project_site!r})\n", encoding="utf-8"
    )
    # Its packages are the project environment's: make must never reinstall the project into it.
    # The stamp gets the time of the newest file it depends on, so make finds it up to date
    # without making a switch done on an earlier run stale (the wheel stays installed).
    stamp = LAYERED_VENV / ".installed"
    stamp.touch()
    newest = max(
        (PROJECT_ROOT / name).stat().st_mtime
        for name in ("pyproject.toml", "requirements/constraints.txt", "client/pyproject.toml")
    )
    os.utime(stamp, (newest, newest))
    return python


def make(*arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *arguments, "ORT=gpu", f"VENV={LAYERED_VENV.relative_to(PROJECT_ROOT)}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def gpu_build_python() -> Path:
    python = layered_python()
    switched = make("ort", timeout=1200)
    assert switched.returncode == 0, switched.stdout + switched.stderr
    return python


def test_the_switch_installs_the_gpu_build_in_place_of_the_cpu_one(gpu_build_python):
    probe = subprocess.run(
        [
            str(gpu_build_python),
            "-c",
            "import onnxruntime as o;"
            " print(o.get_device(), ' '.join(o.get_available_providers()), o.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert probe[0] == "GPU"
    assert {"CUDAExecutionProvider", "TensorrtExecutionProvider"} <= set(probe[1:-1])
    assert probe[-1].startswith(str(LAYERED_VENV)), "the GPU build must shadow the project's CPU build"
    # The project environment keeps the CPU build (the switch never reaches outside its own).
    import onnxruntime

    assert onnxruntime.get_device() == "CPU"


def test_make_serve_with_ort_gpu_serves_on_the_cpu_provider_without_a_gpu(
    gpu_build_python, tmp_path, catalog
):
    present, found = gpu_present()
    if present:
        pytest.skip(f"this machine has a GPU ({found}): the CPU fallback is not what would run")
    http, grpc, metrics = free_ports(3)
    process = subprocess.Popen(
        [
            "make",
            "serve",
            "ORT=gpu",
            f"VENV={LAYERED_VENV.relative_to(PROJECT_ROOT)}",
            f"MODEL_REPOSITORY={tmp_path / 'repository'}",
            f"HTTP_PORT={http}",
            f"GRPC_PORT={grpc}",
            f"METRICS_PORT={metrics}",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        lines.extend(process.stdout)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        while not any(READY_LINE in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make serve ORT=gpu did not become ready:\n{''.join(lines)}")
            time.sleep(0.5)
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc}")
        [result] = infer(client, "treatment_changes", ["I switched from ambien to trazodone."])
        assert result["model"] == "treatment_changes"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
        reader.join(timeout=10)
    output = "".join(lines)
    # Said once, where the repository is built: no GPU, so the cpu profile and the CPU provider.
    assert output.count("profile auto -> cpu") == 1, output
    assert "(GPU build), but" in output
    # Triton's stand-in imported the GPU build and runs every ONNX model on the CPU provider.
    for spec in catalog.values():
        assert f"{spec.onnx_model}: onnxruntime" in output, spec.onnx_model
    provider_lines = [line for line in lines if "_onnx: onnxruntime" in line]
    assert provider_lines and all(
        "(GPU build) runs it on CPUExecutionProvider" in line for line in provider_lines
    )
    assert "ONNX     on the CPU (KIND_CPU;" in output
