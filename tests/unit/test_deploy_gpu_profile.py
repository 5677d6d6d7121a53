"""The gpu profile of the model configs (the image that deploy/k8s/overlays/gpu runs).

Only the ONNX step changes: one KIND_GPU instance, ONNX Runtime's TensorRT execution provider in
FP16 with an engine and a timing cache (the onnxruntime backend's keys), an explicit TensorRT
profile sized by the token budget, and warm-up requests at the profile's corners. The tokenizer's
sequence limit follows the ONNX step's batch limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_preprocess.contract import MODEL_INPUTS
from clinserve_preprocess.encoding import bucket_length
from clinserve_runtime.build_demo import build
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.demo_bert import DEMO_SIZES
from clinserve_runtime.ort_providers import BACKEND_TENSORRT_KEYS
from clinserve_runtime.repository import BUILD_STAMP
from clinserve_runtime.tensorrt_profile import TENSORRT_MAX_TENSOR_ELEMENTS, Shape, TensorRTProfile

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
        assert [(g.kind, g.count) for g in onnx.instance_group] == [
            (model_config_pb2.ModelInstanceGroup.KIND_GPU, 1)
        ]
        assert onnx.backend == "onnxruntime"
        parameters = tensorrt_parameters(onnx)
        assert parameters["precision_mode"] == "FP16"
        assert parameters["trt_engine_cache_enable"] == "1"
        assert parameters["trt_timing_cache_enable"] == "1"
        assert parameters["trt_engine_cache_path"] == f"{GPU.trt_cache_dir}/{spec.onnx_model}"
        cache_paths.add(parameters["trt_engine_cache_path"])
        # The Python steps stay on the CPU.
        for step in (spec.tokenizer_model, spec.postprocess_model):
            kinds = [group.kind for group in configs[step].instance_group]
            assert kinds == [model_config_pb2.ModelInstanceGroup.KIND_CPU], step
    assert len(cache_paths) == len(catalog), "each model needs its own engine cache folder"


def test_tensorrt_parameters_are_keys_the_r24_10_backend_accepts(catalog):
    for spec in catalog.values():
        keys = set(tensorrt_parameters(rendered(spec, GPU)[spec.onnx_model]))
        assert keys <= BACKEND_TENSORRT_KEYS, keys - BACKEND_TENSORRT_KEYS


PROFILE_SHAPES = re.compile(r"(\w+):(\d+)x(\d+)")


def profile_shapes(config: model_config_pb2.ModelConfig) -> dict[str, Shape]:
    """min/opt/max of the TensorRT profile, checked to name every model input with one shape."""
    parameters = tensorrt_parameters(config)
    shapes = {}
    for corner in ("min", "opt", "max"):
        value = parameters[f"trt_profile_{corner}_shapes"]
        assert re.fullmatch(rf"{PROFILE_SHAPES.pattern}(,{PROFILE_SHAPES.pattern})*", value), value
        entries = PROFILE_SHAPES.findall(value)
        assert [name for name, _, _ in entries] == list(MODEL_INPUTS), value
        (shape,) = {Shape(int(b), int(n)) for _, b, n in entries}
        shapes[corner] = shape
    return shapes


def warmup_shapes(config: model_config_pb2.ModelConfig) -> set[Shape]:
    shapes = set()
    for sample in config.model_warmup:
        assert set(sample.inputs) == set(MODEL_INPUTS)
        assert all(i.zero_data and i.data_type == model_config_pb2.TYPE_INT64 for i in sample.inputs.values())
        ((length,),) = {tuple(i.dims) for i in sample.inputs.values()}
        shapes.add(Shape(sample.batch_size, length))
    return shapes


def parameter(config: model_config_pb2.ModelConfig, key: str) -> str:
    return str(config.parameters[key].string_value)


def largest_shapes(spec, configs: dict[str, model_config_pb2.ModelConfig]) -> tuple[int, int, int]:
    """(token budget, most tokens, most attention elements) over every shape the configs allow."""
    onnx = configs[spec.onnx_model]
    budget = int(parameter(configs[spec.tokenizer_model], "max_padded_tokens_per_request"))
    profile = profile_shapes(onnx)
    candidates = {*profile.values(), *warmup_shapes(onnx), Shape(onnx.max_batch_size, profile["max"].length)}
    heads = DEMO_SIZES["base"].heads
    return (
        budget,
        max(s.tokens for s in candidates),
        max(s.attention_elements(heads) for s in candidates),
    )


def test_no_gpu_shape_exceeds_the_token_budget_or_tensorrts_tensor_limit(catalog):
    assert DEMO_SIZES["base"].heads == 12  # BERT-base, the shape of the real checkpoints
    for spec in catalog.values():
        budget, tokens, attention = largest_shapes(spec, rendered(spec, GPU))
        assert tokens <= budget, f"{spec.name}: {tokens} token positions > {budget}"
        assert attention <= TENSORRT_MAX_TENSOR_ELEMENTS, f"{spec.name}: attention of {attention:,} elements"


def test_the_budget_check_catches_a_budget_too_large_for_tensorrt(catalog):
    # The settings before this check (1024 x 512 for biomarker): 3.2e9 attention elements.
    spec = catalog["biomarker"]
    wide = replace(GPU, max_padded_tokens_per_request=1024 * spec.max_tokens)
    budget, tokens, attention = largest_shapes(spec, rendered(spec, wide))
    assert tokens == budget == 524_288
    assert attention > TENSORRT_MAX_TENSOR_ELEMENTS


def test_every_shape_the_tokenizer_and_the_batcher_can_send_lies_in_the_profile(catalog):
    for spec in catalog.values():
        configs = rendered(spec, GPU)
        onnx, tokenizer = configs[spec.onnx_model], configs[spec.tokenizer_model]
        profile = profile_shapes(onnx)
        box = TensorRTProfile(**profile)
        # A request never needs more sequences than the ONNX step batches, nor merged requests.
        assert int(parameter(tokenizer, "max_sequences_per_request")) == onnx.max_batch_size
        assert profile["max"].batch == onnx.max_batch_size
        buckets = tuple(json.loads(parameter(tokenizer, "length_buckets")))
        max_tokens = int(parameter(tokenizer, "max_tokens"))
        lengths = {bucket_length(n, max_tokens, buckets) for n in range(1, max_tokens + 1)}
        for length in lengths:
            for batch in (1, onnx.max_batch_size):
                assert box.contains(Shape(batch, length)), f"{spec.name}: {batch} x {length}"
        assert profile["min"] == Shape(1, min(lengths)) and profile["max"].length == max(lengths)
        assert box.contains(profile["opt"]) and profile["opt"].length in lengths
        assert warmup_shapes(onnx) == {profile["min"], profile["max"]}, spec.name
        # The batcher aims for the shape the engine is tuned for, within the batch limit.
        (preferred,) = onnx.dynamic_batching.preferred_batch_size
        assert preferred == profile["opt"].batch <= onnx.max_batch_size


def test_a_single_gpu_instance_has_no_queue_policy_and_two_have_it(catalog):
    spec = catalog["treatment_changes"]
    one = rendered(spec, GPU)[spec.onnx_model]
    assert not one.dynamic_batching.HasField("default_queue_policy")
    two = rendered(spec, replace(GPU, gpu_onnx_instances=2))[spec.onnx_model]
    assert two.instance_group[0].count == 2
    assert two.dynamic_batching.default_queue_policy.max_queue_size == GPU.max_queue_size
    with pytest.raises(ValueError, match="at least one instance"):
        render_all(spec, replace(GPU, gpu_onnx_instances=0), PROVENANCE)


def test_onnx_thread_pools_follow_the_profile_and_the_cpu_limit(catalog):
    spec = catalog["biomarker"]

    def threads(settings: ServingSettings) -> str:
        return parameter(rendered(spec, settings)[spec.onnx_model], "intra_op_thread_count")

    assert threads(GPU) == "1"  # TensorRT computes; the pool would only spin
    assert threads(replace(GPU, cpu_limit=8)) == "1"
    assert threads(ServingSettings()) == "0"  # a local run: ONNX Runtime counts the cores
    assert threads(ServingSettings(cpu_limit=4)) == str(4 // ServingSettings().onnx_instances)
    assert threads(ServingSettings(cpu_limit=1)) == "1"
    assert threads(ServingSettings(cpu_limit=4, onnx_intra_op_threads=3)) == "3"


def test_a_budget_smaller_than_one_sequence_is_refused_by_name(catalog):
    spec = catalog["biomarker"]
    with pytest.raises(ValueError, match="max_padded_tokens_per_request"):
        render_all(spec, replace(GPU, max_padded_tokens_per_request=spec.max_tokens - 1), PROVENANCE)


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
