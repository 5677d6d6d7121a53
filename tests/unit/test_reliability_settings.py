"""Queue policy in the rendered configs, and the latency bound the overload scenario derives from it."""

from __future__ import annotations

from dataclasses import replace

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from lab.driver import Call, Outcome
from reliability.runner import serving_settings
from reliability.scenarios.overload import UNBOUNDED_SETTINGS, latency_bound_s, offered_rate

PROVENANCE = Provenance(weights="demo-tiny", untrained=True)


def configs(spec, settings: ServingSettings) -> dict[str, model_config_pb2.ModelConfig]:
    return {
        name: text_format.Parse(text, model_config_pb2.ModelConfig())
        for name, text in render_all(spec, settings, PROVENANCE).items()
    }


def test_every_step_of_an_ensemble_has_a_bounded_queue_that_rejects_on_timeout(catalog):
    settings = ServingSettings()
    for spec in catalog.values():
        rendered = configs(spec, settings)
        assert not rendered[spec.name].HasField("dynamic_batching")  # an ensemble has no queue
        for step, size in (
            (spec.tokenizer_model, settings.python_max_queue_size),
            (spec.postprocess_model, settings.python_max_queue_size),
            (spec.onnx_model, settings.max_queue_size),
        ):
            policy = rendered[step].dynamic_batching.default_queue_policy
            assert policy.max_queue_size == size > 0, step
            assert policy.default_timeout_microseconds == settings.queue_timeout_us > 0, step
            assert policy.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
            assert policy.allow_timeout_override  # a caller may ask for less, never more


def test_python_steps_batch_without_waiting_and_every_step_has_two_instances(catalog):
    settings = ServingSettings()
    spec = catalog["biomarker"]
    rendered = configs(spec, settings)
    for step in (spec.tokenizer_model, spec.postprocess_model):
        assert rendered[step].max_batch_size > 0, step
        assert not rendered[step].dynamic_batching.preferred_batch_size, step
        assert rendered[step].dynamic_batching.max_queue_delay_microseconds == 0, step
    # A queue policy with a single instance stalls bursts on Triton 2.51 (the burst scenario).
    for step in (spec.tokenizer_model, spec.onnx_model, spec.postprocess_model):
        assert [group.count for group in rendered[step].instance_group] == [2], step


def test_the_baseline_settings_have_no_policy_on_the_python_steps(catalog):
    spec = catalog["treatment_changes"]
    rendered = configs(spec, UNBOUNDED_SETTINGS)
    assert not rendered[spec.tokenizer_model].dynamic_batching.HasField("default_queue_policy")
    assert not rendered[spec.postprocess_model].dynamic_batching.HasField("default_queue_policy")
    onnx_policy = rendered[spec.onnx_model].dynamic_batching.default_queue_policy
    assert onnx_policy.max_queue_size == 512 and onnx_policy.default_timeout_microseconds == 0


def test_the_latency_bound_is_three_queue_timeouts_plus_a_margin():
    assert latency_bound_s(replace(ServingSettings(), queue_timeout_us=1_000_000)) == 4.0
    assert latency_bound_s(UNBOUNDED_SETTINGS) is None
    assert latency_bound_s(replace(ServingSettings(), python_max_queue_size=0)) is None


def test_the_runner_overrides_only_the_queue_settings_it_is_given():
    assert serving_settings(None, None, None) == ServingSettings()
    changed = serving_settings(500, 32, 256)
    assert (changed.queue_timeout_us, changed.python_max_queue_size, changed.max_queue_size) == (
        500_000,
        32,
        256,
    )
    shipped = ServingSettings()
    restored = replace(
        changed,
        queue_timeout_us=shipped.queue_timeout_us,
        python_max_queue_size=shipped.python_max_queue_size,
        max_queue_size=shipped.max_queue_size,
    )
    assert restored == shipped


def test_offered_rate_is_measured_from_send_times():
    calls = [Call(i * 0.01, i * 0.01 + 5, Outcome.ANSWERED) for i in range(101)]  # 100 gaps in 1 s
    assert offered_rate(calls) == 100.0
    assert offered_rate(calls[:1]) == 0.0
