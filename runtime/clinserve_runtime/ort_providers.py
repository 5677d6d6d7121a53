"""Which ONNX Runtime execution provider runs a graph: read from the model config, as the native backend does.

Triton's native onnxruntime backend picks providers from the instance group and the config's
``optimization.execution_accelerators``: for a ``KIND_GPU`` instance the TensorRT provider when
``gpu_execution_accelerator`` names ``tensorrt`` (its parameters mapped to the provider's
options), then CUDA on the instance's device; for ``KIND_CPU`` the CPU provider only. The stand-in
(``clinserve_runtime.onnx_backend``) follows the same rules through :func:`providers_for_config`,
so a gpu-profile repository runs on the GPU wherever ``onnxruntime-gpu`` is installed (``make
serve ORT=gpu``) and a GPU is present.

The ``onnxruntime`` and ``onnxruntime-gpu`` wheels share the module name; which one is installed
shows in :func:`onnxruntime_build`. In-process checks (the importer's parity, the benchmark's
limit) use :func:`local_providers`: the GPU when this build and this machine have one, else the
CPU, and say which.

Kept free of Triton's stub module so that tests and in-process tools import it.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnxruntime as ort

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# Triton's name for the TensorRT accelerator in gpu_execution_accelerator.
TENSORRT_ACCELERATOR = "tensorrt"
CUDA_ACCELERATOR = "cuda"
INSTALL_GPU_BUILD = "install onnxruntime-gpu in place of onnxruntime: make serve ORT=gpu (README)"
# precision_mode (Triton's key) -> the TensorRT provider's option that enables it.
PRECISION_OPTIONS = {"FP16": "trt_fp16_enable", "BF16": "trt_bf16_enable", "INT8": "trt_int8_enable"}
# Triton's own TensorRT keys that the backend renames; every trt_* key passes through unchanged.
RENAMED_TENSORRT_KEYS = {
    "max_workspace_size_bytes": "trt_max_workspace_size",
    "int8_calibration_table_name": "trt_int8_calibration_table_name",
    "int8_use_native_calibration_table": "trt_int8_use_native_calibration_table",
}

# Keys the TensorRT accelerator of Triton 24.10's onnxruntime backend accepts: its own
# (precision_mode, max_workspace_size_bytes, int8_*), the engine cache's, and the ORT options
# onnxruntime_backend#237 added. Any other key fails the model load there ("unknown parameter
# ... for TensorRT Execution Accelerator"); trt_timing_cache_path, for one, came later.
BACKEND_TENSORRT_KEYS = frozenset(
    {
        "precision_mode",
        "max_workspace_size_bytes",
        "int8_calibration_table_name",
        "int8_use_native_calibration_table",
        "trt_engine_cache_enable",
        "trt_engine_cache_path",
        "trt_max_partition_iterations",
        "trt_min_subgraph_size",
        "trt_dla_enable",
        "trt_dla_core",
        "trt_engine_cache_prefix",
        "trt_dump_subgraphs",
        "trt_force_sequential_engine_build",
        "trt_context_memory_sharing_enable",
        "trt_layer_norm_fp32_fallback",
        "trt_timing_cache_enable",
        "trt_force_timing_cache",
        "trt_detailed_build_log",
        "trt_build_heuristics_enable",
        "trt_sparsity_enable",
        "trt_builder_optimization_level",
        "trt_auxiliary_streams",
        "trt_tactic_sources",
        "trt_extra_plugin_lib_paths",
        "trt_profile_min_shapes",
        "trt_profile_max_shapes",
        "trt_profile_opt_shapes",
        "trt_cuda_graph_enable",
        "trt_dump_ep_context_model",
        "trt_ep_context_file_path",
        "trt_ep_context_embed_mode",
    }
)
Provider = str | tuple[str, dict[str, str]]


class AcceleratorError(ValueError):
    """The config asks for an accelerator the onnxruntime backend does not know."""


@dataclass(frozen=True)
class ProviderChoice:
    """The providers to create a session with, best first, and why."""

    providers: list[Provider]
    reason: str
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The provider names, without their options."""
        return [p if isinstance(p, str) else p[0] for p in self.providers]


def onnxruntime_build() -> str:
    """``onnxruntime 1.31.1 (GPU build)`` or ``(CPU build)``: which wheel provides the module."""
    return f"onnxruntime {ort.__version__} ({ort.get_device()} build)"


def tensorrt_options(parameters: Mapping[str, str], device_id: int) -> dict[str, str]:
    """The TensorRT provider's options for a config's ``tensorrt`` accelerator parameters.

    The mapping of Triton's onnxruntime backend: ``precision_mode`` FP16/BF16/INT8 turns on the
    matching ``trt_*_enable``, its three own keys are renamed, the ``trt_*`` keys it knows
    (``BACKEND_TENSORRT_KEYS``) pass as they are, and the device is the instance's.

    Raises:
        AcceleratorError: For a key or precision the backend would refuse.
    """
    options: dict[str, str] = {}
    for key, value in parameters.items():
        if key not in BACKEND_TENSORRT_KEYS:
            raise AcceleratorError(
                f"unknown parameter {key!r} is provided for TensorRT Execution Accelerator"
            )
        if key == "precision_mode":
            if value in PRECISION_OPTIONS:
                options[PRECISION_OPTIONS[value]] = "1"
            elif value != "FP32":
                raise AcceleratorError(f"unsupported precision mode {value!r} is requested")
        elif key in RENAMED_TENSORRT_KEYS:
            options[RENAMED_TENSORRT_KEYS[key]] = value
        elif key.startswith("trt_"):
            options[key] = value
        else:
            raise AcceleratorError(
                f"unknown parameter {key!r} is provided for TensorRT Execution Accelerator"
            )
    options["device_id"] = str(device_id)
    return options


def _instance_kind(config: Mapping[str, Any]) -> str:
    groups = config.get("instance_group") or [{}]
    return str(groups[0].get("kind", "KIND_AUTO"))


def _gpu_accelerators(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    optimization = config.get("optimization") or {}
    accelerators = optimization.get("execution_accelerators") or {}
    return list(accelerators.get("gpu_execution_accelerator") or [])


def providers_for_config(
    config: Mapping[str, Any], available: Sequence[str], *, device_id: int = 0
) -> ProviderChoice:
    """The providers a model config asks for, among those this ONNX Runtime build has.

    Args:
        config: The model config as Triton hands it to a backend (JSON form).
        available: ``onnxruntime.get_available_providers()``.
        device_id: The instance's GPU (``model_instance_device_id``).

    Raises:
        AcceleratorError: When the config names an accelerator or a TensorRT parameter the
            native backend would refuse (the stand-in refuses it too).
    """
    kind = _instance_kind(config)
    if kind == "KIND_CPU":
        return ProviderChoice([CPU], "KIND_CPU instance")
    if kind not in ("KIND_GPU", "KIND_AUTO"):
        return ProviderChoice([CPU], f"{kind} instance")
    providers: list[Provider] = []
    notes: list[str] = []
    cuda_options = {"device_id": str(device_id)}
    for accelerator in _gpu_accelerators(config):
        name = accelerator.get("name")
        parameters = {k: str(v) for k, v in (accelerator.get("parameters") or {}).items()}
        if name == TENSORRT_ACCELERATOR:
            options = tensorrt_options(parameters, device_id)
            if TENSORRT in available:
                providers.append((TENSORRT, options))
            else:
                notes.append(f"the config asks for TensorRT, which this {onnxruntime_build()} lacks")
        elif name == CUDA_ACCELERATOR:
            cuda_options |= parameters
        else:
            raise AcceleratorError(f"unknown Execution Accelerator {name!r} is requested")
    if CUDA not in available:
        notes.append(
            f"{kind} instance, but this {onnxruntime_build()} has no CUDA provider: {INSTALL_GPU_BUILD}"
        )
        return ProviderChoice([CPU], f"{kind} instance without a GPU build", notes)
    providers += [(CUDA, cuda_options), CPU]
    return ProviderChoice(providers, f"{kind} instance on GPU {device_id}", notes)


# CUDA driver API: CUDA_SUCCESS.
_CUDA_SUCCESS = 0


def _load_cuda_driver() -> Any:
    return ctypes.CDLL("libcuda.so.1")


def gpu_present(load_driver: Callable[[], Any] = _load_cuda_driver) -> tuple[bool, str]:
    """Whether this machine has a usable NVIDIA GPU, and what was found.

    Asks the CUDA driver itself (``cuInit``, ``cuDeviceGetCount``), so it needs neither PyTorch
    nor a CUDA toolkit, and is right in a container without ``/dev/nvidia*`` too.
    """
    try:
        driver = load_driver()
    except OSError:
        return False, "no NVIDIA driver (libcuda.so.1 not found)"
    status = driver.cuInit(0)
    if status != _CUDA_SUCCESS:
        return False, f"the NVIDIA driver found no usable GPU (cuInit returned {status})"
    count = ctypes.c_int(0)
    status = driver.cuDeviceGetCount(ctypes.byref(count))
    if status != _CUDA_SUCCESS or count.value < 1:
        return False, "the NVIDIA driver reports no GPU"
    return True, f"{count.value} GPU(s)"


def local_providers(*, prefer_gpu: bool = True) -> ProviderChoice:
    """Providers for an in-process session: CUDA when this build and this machine have one."""
    if not prefer_gpu:
        return ProviderChoice([CPU], "CPU asked for")
    if CUDA not in ort.get_available_providers():
        return ProviderChoice([CPU], f"{onnxruntime_build()} has no CUDA provider")
    present, found = gpu_present()
    if not present:
        return ProviderChoice([CPU], f"{onnxruntime_build()}, but {found}")
    return ProviderChoice([CUDA, CPU], f"{onnxruntime_build()}, {found}")


def active_provider(session: ort.InferenceSession) -> str:
    """The provider that runs the session's graph first (ONNX Runtime drops those it could not create)."""
    return str(session.get_providers()[0])


def running_message(model: str, provider: str, reason: str) -> str:
    """What the stand-in logs once per instance: the provider its session runs on, and why.

    The benchmark reads it back from Triton's log (:func:`providers_in_log`): what ONNX Runtime
    actually ran, not what the config asked for.
    """
    return f"{model}: {onnxruntime_build()} runs it on {provider} ({reason})"


def providers_in_log(log: str, model: str) -> list[str]:
    """The providers the stand-in's instances of ``model`` reported in a Triton log, in order."""
    pattern = re.compile(
        rf"(?<![\w.-]){re.escape(model)}: onnxruntime \S+ \([^)]* build\) runs it on (\w+) \("
    )
    return pattern.findall(log)
