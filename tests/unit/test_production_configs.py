"""Generated ONNX configs hold only what the production image's native onnxruntime backend reads.

The image runs Triton's native onnxruntime backend; the stand-in (``clinserve_runtime.onnx_backend``)
only runs here. A parameter the native backend does not read is stand-in tuning that leaked into
production (issue 19), and an unknown TensorRT accelerator key fails the model's load there.
"""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_runtime.configs import Provenance, ServingSettings, render_all

# Read in triton-inference-server/onnxruntime_backend, src/onnxruntime.cc (Triton 24.x): the
# model-level `parameters` its ModelState reads (session options, CPU memory arena and pattern,
# the deprecated CUDA keys). A key missing here that the backend does read can be added with
# its place in that file; a key it does not read belongs to the stand-in, not to a config.
NATIVE_MODEL_PARAMETERS = frozenset(
    {
        "execution_mode",
        "intra_op_thread_count",
        "inter_op_thread_count",
        "session.use_device_allocator_for_initializers",
        "enable_mem_arena",
        "enable_mem_pattern",
        "cudnn_conv_algo_search",
        "gpu_mem_limit",
        "arena_extend_strategy",
        "do_copy_in_default_stream",
    }
)
# The same file's TensorRT accelerator keys (any other key: "unknown parameter ... is provided for
# TensorRT Execution Accelerator", and the model does not load).
NATIVE_TENSORRT_PARAMETERS = frozenset(
    {
        "precision_mode",
        "max_workspace_size_bytes",
        "trt_max_partition_iterations",
        "trt_min_subgraph_size",
        "int8_calibration_table_name",
        "int8_use_native_calibration_table",
        "trt_dla_enable",
        "trt_dla_core",
        "trt_engine_cache_enable",
        "trt_engine_cache_path",
        "trt_engine_cache_prefix",
        "trt_dump_subgraphs",
        "trt_force_sequential_engine_build",
        "trt_context_memory_sharing_enable",
        "trt_layer_norm_fp32_fallback",
        "trt_timing_cache_enable",
        "trt_timing_cache_path",
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


def onnxruntime_configs(catalog, settings: ServingSettings) -> list[model_config_pb2.ModelConfig]:
    """Every generated config that names the onnxruntime backend, all catalog entries."""
    provenance = Provenance(weights="imported", untrained=False)
    configs = [
        text_format.Parse(text, model_config_pb2.ModelConfig())
        for spec in catalog.values()
        for text in render_all(spec, settings, provenance).values()
    ]
    return [config for config in configs if config.backend == "onnxruntime"]


def unread_parameters(config: model_config_pb2.ModelConfig) -> list[str]:
    """Parameters of ``config`` the native backend does not read, as ``where: key``."""
    unread = [f"parameters: {key}" for key in config.parameters if key not in NATIVE_MODEL_PARAMETERS]
    accelerators = config.optimization.execution_accelerators
    for accelerator in [*accelerators.gpu_execution_accelerator, *accelerators.cpu_execution_accelerator]:
        if accelerator.name != "tensorrt":
            unread.append(f"accelerator {accelerator.name}")
            continue
        unread += [
            f"tensorrt: {key}" for key in accelerator.parameters if key not in NATIVE_TENSORRT_PARAMETERS
        ]
    return unread


@pytest.mark.parametrize(
    "settings",
    [ServingSettings(), ServingSettings(execution_profile="gpu"), ServingSettings(cpu_limit=4)],
    ids=["cpu", "gpu", "cpu-with-a-cpu-limit"],
)
def test_no_generated_onnx_config_holds_a_parameter_the_native_backend_does_not_read(catalog, settings):
    configs = onnxruntime_configs(catalog, settings)
    assert len(configs) == len(catalog)
    found = {config.name: unread_parameters(config) for config in configs}
    assert found == {config.name: [] for config in configs}


def test_a_stand_in_only_parameter_is_caught(catalog):
    [config, *_] = onnxruntime_configs(catalog, ServingSettings())
    config.parameters["share_cores"].string_value = "false"
    assert unread_parameters(config) == ["parameters: share_cores"]
    gpu = onnxruntime_configs(catalog, ServingSettings(execution_profile="gpu"))[0]
    gpu.optimization.execution_accelerators.gpu_execution_accelerator[0].parameters["trt_fp16"] = "1"
    assert unread_parameters(gpu) == ["tensorrt: trt_fp16"]
