"""Provider choice of the stand-in and the in-process checks (clinserve_runtime.ort_providers).

No GPU is needed: the available providers and the CUDA driver are given to the functions, so the
choice for a GPU machine with the GPU build is tested here as well as the fall-backs.
"""

from __future__ import annotations

import ctypes
from typing import Any

import onnxruntime
import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from clinserve_runtime import ort_providers
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.ort_providers import (
    CPU,
    CUDA,
    TENSORRT,
    AcceleratorError,
    gpu_present,
    local_providers,
    providers_for_config,
    providers_in_log,
    running_message,
    tensorrt_options,
)

GPU_BUILD = [TENSORRT, CUDA, CPU]


def triton_json(spec, settings: ServingSettings) -> dict[str, Any]:
    """The ONNX step's config as Triton hands it to a backend (JSON, proto field names)."""
    text = render_all(spec, settings, Provenance("w", True))[spec.onnx_model]
    message = text_format.Parse(text, model_config_pb2.ModelConfig())
    config: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return config


@pytest.fixture
def gpu_config(catalog) -> dict[str, Any]:
    return triton_json(catalog["biomarker"], ServingSettings(execution_profile="gpu"))


def test_gpu_config_with_the_gpu_build_runs_tensorrt_with_the_configs_parameters(gpu_config):
    choice = providers_for_config(gpu_config, GPU_BUILD, device_id=1)
    assert choice.names == [TENSORRT, CUDA, CPU]
    assert not choice.notes
    (accelerator,) = gpu_config["optimization"]["execution_accelerators"]["gpu_execution_accelerator"]
    parameters = accelerator["parameters"]
    first = choice.providers[0]
    assert isinstance(first, tuple)
    trt = first[1]
    assert trt == {
        "trt_fp16_enable": "1",  # precision_mode FP16, as the native backend maps it
        "trt_engine_cache_enable": parameters["trt_engine_cache_enable"],
        "trt_engine_cache_path": parameters["trt_engine_cache_path"],
        "trt_timing_cache_enable": parameters["trt_timing_cache_enable"],
        "trt_profile_min_shapes": parameters["trt_profile_min_shapes"],
        "trt_profile_opt_shapes": parameters["trt_profile_opt_shapes"],
        "trt_profile_max_shapes": parameters["trt_profile_max_shapes"],
        "device_id": "1",
    }
    assert choice.providers[1] == (CUDA, {"device_id": "1"})


def test_gpu_config_without_tensorrt_runs_on_cuda_and_says_why(gpu_config):
    choice = providers_for_config(gpu_config, [CUDA, CPU])
    assert choice.names == [CUDA, CPU]
    assert any("asks for TensorRT" in note for note in choice.notes)


def test_gpu_config_with_the_cpu_build_runs_on_cpu_and_says_how_to_get_the_gpu_build(gpu_config):
    choice = providers_for_config(gpu_config, ["AzureExecutionProvider", CPU])
    assert choice.names == [CPU]
    assert any("ORT=gpu" in note for note in choice.notes)


def test_cpu_config_runs_on_cpu_whatever_the_build(catalog):
    config = triton_json(catalog["biomarker"], ServingSettings())
    assert providers_for_config(config, GPU_BUILD).names == [CPU]


def test_accelerators_the_native_backend_refuses_are_refused(gpu_config):
    accelerators = gpu_config["optimization"]["execution_accelerators"]["gpu_execution_accelerator"]
    accelerators[0]["parameters"]["trt_timing_cache_pathh"] = "/tmp"
    with pytest.raises(AcceleratorError, match="trt_timing_cache_pathh"):
        providers_for_config(gpu_config, GPU_BUILD)
    accelerators[0] = {"name": "openvino"}
    with pytest.raises(AcceleratorError, match="unknown Execution Accelerator 'openvino'"):
        providers_for_config(gpu_config, GPU_BUILD)
    with pytest.raises(AcceleratorError, match="precision mode 'FP8'"):
        tensorrt_options({"precision_mode": "FP8"}, 0)
    assert tensorrt_options({"precision_mode": "FP32", "max_workspace_size_bytes": "1024"}, 0) == {
        "trt_max_workspace_size": "1024",
        "device_id": "0",
    }


class FakeDriver:
    def __init__(self, init_status: int, count: int) -> None:
        self.init_status, self.count = init_status, count

    def cuInit(self, flags: int) -> int:
        return self.init_status

    def cuDeviceGetCount(self, pointer: Any) -> int:
        ctypes.cast(pointer, ctypes.POINTER(ctypes.c_int)).contents.value = self.count
        return 0


def test_gpu_presence_comes_from_the_cuda_driver():
    def no_driver() -> Any:
        raise OSError("libcuda.so.1: cannot open shared object file")

    assert gpu_present(no_driver) == (False, "no NVIDIA driver (libcuda.so.1 not found)")
    present, found = gpu_present(lambda: FakeDriver(100, 0))
    assert not present and "cuInit returned 100" in found
    assert gpu_present(lambda: FakeDriver(0, 0))[0] is False
    assert gpu_present(lambda: FakeDriver(0, 2)) == (True, "2 GPU(s)")


def test_in_process_checks_use_cuda_only_with_the_gpu_build_and_a_gpu(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    cpu_build = local_providers()
    assert cpu_build.names == [CPU] and "no CUDA provider" in cpu_build.reason
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort_providers, "gpu_present", lambda: (False, "no NVIDIA driver"))
    no_gpu = local_providers()
    assert no_gpu.names == [CPU] and "no NVIDIA driver" in no_gpu.reason
    monkeypatch.setattr(ort_providers, "gpu_present", lambda: (True, "1 GPU(s)"))
    assert local_providers().names == [CUDA, CPU]
    assert local_providers(prefer_gpu=False).names == [CPU]


def test_auto_profile_is_gpu_only_where_the_onnx_models_would_run_on_a_gpu(monkeypatch, capsys):
    from clinserve_runtime import build_demo

    monkeypatch.setattr(build_demo, "local_providers", lambda: ort_providers.ProviderChoice([CPU], "why not"))
    assert build_demo.resolve_profile("auto") == "cpu"
    assert "profile auto -> cpu: why not; the ONNX models run on the CPU provider" in capsys.readouterr().out
    monkeypatch.setattr(
        build_demo, "local_providers", lambda: ort_providers.ProviderChoice([CUDA, CPU], "1 GPU(s)")
    )
    assert build_demo.resolve_profile("auto") == "gpu"
    assert build_demo.resolve_profile("cpu") == "cpu"  # an explicit profile is never second-guessed


def test_the_provider_each_instance_logs_is_read_back_from_a_triton_log(monkeypatch):
    # Verbatim from a Triton 2.51 log of `make bench` (the stand-in's line as Triton prints it).
    logged = (
        'I1206 14:17:08.188762 13555 onnx_backend.py:68] "treatment_changes_onnx: onnxruntime 1.31.1'
        ' (CPU build) runs it on CPUExecutionProvider (KIND_CPU instance)"'
    )
    monkeypatch.setattr(onnxruntime, "__version__", "1.31.1")
    monkeypatch.setattr(onnxruntime, "get_device", lambda: "CPU")
    assert running_message("treatment_changes_onnx", CPU, "KIND_CPU instance") in logged
    assert providers_in_log(logged, "treatment_changes_onnx") == [CPU]
    assert providers_in_log(logged, "changes_onnx") == []  # a model name is matched whole
    gpu = running_message("biomarker_onnx", TENSORRT, "KIND_GPU instance on GPU 0")
    assert providers_in_log(f"{logged}\n{gpu}", "biomarker_onnx") == [TENSORRT]
