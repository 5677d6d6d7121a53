"""ONNX instances of the stand-in share the cores: the running count across processes, the thread
counts, and the switch only the benchmark's no-share variant writes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from benchmarks.repository import variant_configs
from benchmarks.variants import VARIANTS
from clinserve_runtime import ort_options
from clinserve_runtime.configs import Provenance, ServingSettings, render_all
from clinserve_runtime.core_sharing import RunningInstances, counter_path, remove_orphans
from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier
from clinserve_runtime.ort_options import session_options, shared_thread_count


def _hold_running(path, started, release):
    counter = RunningInstances(path)
    with counter.running():
        started.set()
        release.wait(30)
    counter.close()


def test_the_count_sees_a_run_in_another_process(tmp_path):
    path = tmp_path / "running"
    counter = RunningInstances(path)
    context = multiprocessing.get_context("spawn")
    started, release = context.Event(), context.Event()
    other = context.Process(target=_hold_running, args=(path, started, release))
    other.start()
    try:
        assert started.wait(60)
        with counter.running() as others:
            assert others == 1
    finally:
        release.set()
        other.join(60)
    with counter.running() as others:
        assert others == 0
    counter.close()


def test_nested_runs_count_each_other_and_the_count_returns_to_zero(tmp_path):
    path = tmp_path / "running"
    first, second = RunningInstances(path), RunningInstances(path)
    with first.running() as before_first:
        with second.running() as before_second:
            assert (before_first, before_second) == (0, 1)
        with second.running() as again:
            assert again == 1
    with first.running() as alone:
        assert alone == 0
    first.close()
    second.close()


def test_the_first_instance_to_stop_removes_the_file_and_the_others_keep_counting(tmp_path):
    path = tmp_path / "running"
    first, second = RunningInstances(path), RunningInstances(path)
    first.close(remove=True)
    assert not path.exists()
    with second.running() as others:
        assert others == 0
    second.close(remove=True)


def test_each_server_and_model_has_its_own_count(tmp_path):
    paths = {counter_path(m, pid, tmp_path) for m in ("a_onnx", "b_onnx") for pid in (100, 200)}
    assert len(paths) == 4
    assert counter_path("a_onnx", 100).parent.is_dir()


@pytest.mark.parametrize(
    ("parameters", "instances", "cores", "expected"),
    [
        ({"share_cores": "true"}, 2, 2, 1),  # alone 2 threads, beside the other 1
        ({"share_cores": "true"}, 2, 16, 8),
        ({"share_cores": "true"}, 3, 2, 1),
        ({"share_cores": "true"}, 1, 2, 0),  # no other instance to share with
        ({"share_cores": "true", "intra_op_thread_count": "1"}, 2, 2, 0),  # already one thread
        ({"share_cores": "true", "intra_op_thread_count": "4"}, 2, 16, 0),  # its share is more than asked
        ({"share_cores": "false"}, 2, 2, 0),  # the stand-in-only switch the no-share variant writes
        ({}, 2, 2, 1),  # the stand-in's own default: every generated config
        ({"intra_op_thread_count": "2"}, 2, 16, 0),  # its share is more than asked
    ],
)
def test_the_shared_thread_count(monkeypatch, parameters, instances, cores, expected):
    monkeypatch.setattr(ort_options, "available_cores", lambda: cores)
    assert shared_thread_count(parameters, instances) == expected


def test_runs_alone_and_beside_another_give_the_same_logits():
    # The session a run gets depends on load; its answer must not.
    graph = build_bert_classifier("sharing", 2, token_level=False, shape=DEMO_SIZES["tiny"])
    sessions = [
        ort.InferenceSession(
            graph.SerializeToString(),
            session_options({"intra_op_thread_count": str(threads)}),
            providers=["CPUExecutionProvider"],
        )
        for threads in (2, 1)
    ]
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(4, 40), dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    alone, beside = (s.run(None, feeds)[0] for s in sessions)
    np.testing.assert_allclose(alone, beside, rtol=1e-5, atol=1e-6)


def test_a_share_cores_value_other_than_true_or_false_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match='parameter share_cores must be "true" or "false", not \'yes\''):
        shared_thread_count({"share_cores": "yes"}, 2)


def _onnx_parameters(configs: dict[str, str], spec) -> dict[str, str]:
    config = text_format.Parse(configs[spec.onnx_model], model_config_pb2.ModelConfig())
    return {k: v.string_value for k, v in config.parameters.items()}


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_generated_configs_leave_core_sharing_to_the_stand_in(catalog, profile):
    spec = catalog["treatment_changes"]
    configs = render_all(spec, ServingSettings(execution_profile=profile), Provenance("demo-tiny", True))
    assert all("share_cores" not in text for text in configs.values())


def test_only_the_no_share_variant_turns_sharing_off_and_only_on_the_cpu_profile(catalog):
    spec = catalog["treatment_changes"]
    provenance = Provenance("demo-tiny", True)
    current = variant_configs(spec, VARIANTS["current"], provenance)
    no_share = variant_configs(spec, VARIANTS["no-share"], provenance)
    assert _onnx_parameters(no_share, spec)["share_cores"] == "false"
    assert "share_cores" not in _onnx_parameters(current, spec)
    # Everything else it serves is the defaults'.
    assert {k: v for k, v in no_share.items() if k != spec.onnx_model} == {
        k: v for k, v in current.items() if k != spec.onnx_model
    }
    assert VARIANTS["no-share"].changes(ServingSettings()) == {"share_cores": False}
    # The variants from before core sharing still measure without it.
    before_sharing = {"untuned", "no-delay", "fine-buckets", "coarse-buckets", "onnx-1-thread", "one-thread"}
    assert {name for name, variant in VARIANTS.items() if not variant.share_cores} == {
        *before_sharing,
        "one-python",
        "no-share",
    }
    on_gpu = variant_configs(spec, VARIANTS["no-share"].on_profile("gpu"), provenance)
    assert on_gpu == variant_configs(spec, VARIANTS["current"].on_profile("gpu"), provenance)


def test_counts_of_servers_that_no_longer_run_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = counter_path("a_onnx", dead.pid, tmp_path)
    reparented = counter_path("b_onnx", 1, tmp_path)  # a stub whose server had died named it so
    live = counter_path("a_onnx", os.getpid(), tmp_path)
    unrelated = tmp_path / "other-file"
    for path in (orphan, reparented, live, unrelated):
        path.write_bytes(bytes(4))
    assert sorted(remove_orphans(tmp_path)) == sorted([orphan, reparented])
    assert not orphan.exists() and not reparented.exists()
    assert live.exists() and unrelated.exists()
