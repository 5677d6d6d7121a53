"""The gpu profile of the model configs (the image that deploy/k8s/overlays/gpu runs).

Only the ONNX step changes: KIND_GPU instances, ONNX Runtime's TensorRT execution provider in
FP16 with an engine cache (the onnxruntime backend's keys), and warm-up requests at the
smallest and largest shapes so the engine is built for the whole range while loading.
"""

from __future__ import annotations

import json

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_preprocess.contract import MODEL_INPUTS
from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.repository import BUILD_STAMP

PROVENANCE = Provenance(weights="demo-tiny", untrained=True)
GPU = ServingSettings(execution_profile="gpu")


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def rendered(spec, settings: ServingSettings) -> dict[str, model_config_pb2.ModelConfig]:
    return {name: parse(text) for name, text in render_all(spec, settings, PROVENANCE).items()}


def tensorrt_parameters(config: model_config_pb2.ModelConfig) -> dict[str, str]:
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    return dict(accelerator.parameters)


def test_gpu_profile_runs_the_onnx_step_on_gpu_with_tensorrt_fp16_and_an_engine_cache(catalog):
    cache_paths = set()
    for spec in catalog.values():
        configs = rendered(spec, GPU)
        onnx = configs[spec.onnx_model]
        assert [group.kind for group in onnx.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_GPU]
        assert onnx.backend == "onnxruntime"
        parameters = tensorrt_parameters(onnx)
        assert parameters["precision_mode"] == "FP16"
        assert parameters["trt_engine_cache_enable"] == "1"
        assert parameters["trt_engine_cache_path"] == f"{GPU.trt_cache_dir}/{spec.onnx_model}"
        cache_paths.add(parameters["trt_engine_cache_path"])
        # The Python steps stay on the CPU.
        for step in (spec.tokenizer_model, spec.postprocess_model):
            kinds = [group.kind for group in configs[step].instance_group]
            assert kinds == [model_config_pb2.ModelInstanceGroup.KIND_CPU], step
    assert len(cache_paths) == len(catalog), "each model needs its own engine cache folder"


def test_gpu_warmup_spans_every_shape_the_tokenizer_can_send(catalog):
    for spec in catalog.values():
        onnx = rendered(spec, GPU)[spec.onnx_model]
        shapes = set()
        for sample in onnx.model_warmup:
            assert set(sample.inputs) == set(MODEL_INPUTS)
            (dims,) = {tuple(i.dims) for i in sample.inputs.values()}
            assert all(
                i.zero_data and i.data_type == model_config_pb2.TYPE_INT64 for i in sample.inputs.values()
            )
            shapes.add((sample.batch_size, *dims))
        shortest = min(b for b in GPU.buckets() if b <= spec.max_tokens)
        longest_batch = min(GPU.max_batch_size, GPU.max_padded_tokens_per_request // spec.max_tokens)
        widest = min(GPU.max_batch_size, GPU.max_padded_tokens_per_request // shortest)
        assert shapes == {(1, shortest), (widest, shortest), (longest_batch, spec.max_tokens)}, spec.name
        # Together they span every (batch, length) the tokenizer's limits allow.
        assert max(b for b, _ in shapes) == GPU.max_batch_size
        assert max(n for _, n in shapes) == spec.max_tokens


def test_cpu_profile_has_no_accelerator_and_no_warmup(catalog):
    for spec in catalog.values():
        onnx = rendered(spec, ServingSettings())[spec.onnx_model]
        assert not onnx.HasField("optimization")
        assert len(onnx.model_warmup) == 0
        assert [g.kind for g in onnx.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_CPU]


def test_unknown_profile_is_refused_by_name(catalog):
    spec = next(iter(catalog.values()))
    with pytest.raises(ValueError, match="'tpu'"):
        render_all(spec, ServingSettings(execution_profile="tpu"), PROVENANCE)


def test_build_demo_writes_the_requested_profile_and_rebuilds_when_it_changes(tmp_path, catalog):
    assert build(tmp_path, "tiny", settings=GPU)
    stamp = json.loads((tmp_path / BUILD_STAMP).read_text(encoding="utf-8"))
    assert stamp["profile"] == "gpu"
    spec = next(iter(catalog.values()))
    onnx = parse((tmp_path / spec.onnx_model / "config.pbtxt").read_text(encoding="utf-8"))
    assert tensorrt_parameters(onnx)["precision_mode"] == "FP16"
    assert not build(tmp_path, "tiny", settings=GPU), "an identical build is skipped"
    assert build(tmp_path, "tiny", settings=ServingSettings()), "a profile change rebuilds"
    onnx = parse((tmp_path / spec.onnx_model / "config.pbtxt").read_text(encoding="utf-8"))
    assert not onnx.HasField("optimization")
