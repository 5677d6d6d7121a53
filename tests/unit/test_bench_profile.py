"""The benchmark's execution profile: resolved like the server's, rendered into the served configs,
and the provider of every in-process session.

No GPU is needed: the ONNX Runtime build's providers and the CUDA driver are simulated as in
``test_ort_providers.py``; sessions are real and run where this machine lets them (the CPU).
"""

from __future__ import annotations

import warnings
from importlib import metadata

import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from benchmarks import machine, sessions
from benchmarks.peers.onnx_app import create_app
from benchmarks.repository import build_weights, materialize
from benchmarks.run import local_variant, parse_args, served_providers
from benchmarks.variants import VARIANTS, on_profile, select, served_form
from clinserve_runtime import ort_providers
from clinserve_runtime.build_demo import build
from clinserve_runtime.ort_providers import CPU, CUDA, TENSORRT, ProviderChoice, running_message

MODEL = "treatment_changes"


@pytest.fixture
def gpu_machine(monkeypatch):
    """The GPU build of ONNX Runtime on a machine whose CUDA driver reports a GPU."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [TENSORRT, CUDA, CPU])
    monkeypatch.setattr(ort_providers, "gpu_present", lambda: (True, "1 GPU(s)"))


@pytest.fixture
def cpu_build(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["AzureExecutionProvider", CPU])


def identity_graph(path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_auto_profile_measures_the_cpu_where_no_gpu_would_run_the_models(cpu_build, tmp_path, capsys):
    plan = parse_args(["--work-dir", str(tmp_path)])
    assert plan.profile == "cpu"
    assert "profile auto -> cpu: onnxruntime" in capsys.readouterr().out
    assert plan.sizes == ["base", "base-int8", "tiny"]
    assert [v.name for v in plan.variants] == ["previous", "current"]
    assert {v.settings.execution_profile for v in plan.variants} == {"cpu"}
    assert plan.skipped == []
    assert plan.weights_root == tmp_path / "weights"


def test_auto_profile_measures_the_gpu_where_one_runs_the_models_and_leaves_out_int8(gpu_machine, tmp_path):
    plan = parse_args(["--work-dir", str(tmp_path)])
    assert plan.profile == "gpu"
    assert plan.sizes == ["base", "tiny"]
    assert plan.skipped == ["base-int8: the cpu import profile's int8 graph, not served on the gpu profile"]
    assert [v.name for v in plan.variants] == ["previous", "current"]
    assert {v.settings.execution_profile for v in plan.variants} == {"gpu"}
    assert plan.weights_root == tmp_path / "weights-gpu"  # plain graphs, apart from the cpu profile's
    assert parse_args(["--profile", "cpu"]).profile == "cpu"  # an explicit profile is kept


def test_gpu_profile_is_refused_where_nothing_would_run_on_a_gpu(cpu_build, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--profile", "gpu"])
    error = capsys.readouterr().err
    assert "--profile gpu measures the GPU, but onnxruntime" in error and "has no CUDA provider" in error


def test_gpu_profile_with_only_int8_sizes_or_twin_variants_leaves_nothing_and_says_why(gpu_machine, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--sizes", "base-int8"])
    assert "nothing left to measure on the gpu profile: base-int8: the cpu import" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--variants", "no-trim"])
    assert "serves exactly what [current] serves" in capsys.readouterr().err


def test_twin_variants_are_left_out_on_gpu_and_none_on_cpu():
    every = select(["all"])
    kept, left_out = on_profile(every, "cpu")
    assert [v.name for v in kept] == list(VARIANTS) and left_out == []

    kept, left_out = on_profile(every, "gpu")
    names = [v.name for v in kept]
    assert {"previous", "current", "untuned", "fine-buckets", "one-python"} <= set(names)
    assert {"no-trim", "no-share", "onnx-3-instances", "onnx-1-thread", "no-delay"}.isdisjoint(names)
    assert len(names) + len(left_out) == len(VARIANTS)
    # What is measured differs pairwise; what is left out is what its named twin serves.
    assert len({served_form(v) for v in kept}) == len(kept)
    assert any(line.startswith("served [no-trim]:") and "[current]" in line for line in left_out)
    gpu = {
        name: VARIANTS[name].on_profile("gpu")
        for name in ("no-trim", "no-share", "current", "no-delay", "previous")
    }
    assert served_form(gpu["no-trim"]) == served_form(gpu["current"])
    assert served_form(gpu["no-share"]) == served_form(gpu["current"])
    assert served_form(gpu["no-delay"]) == served_form(gpu["previous"])


def test_int8_sizes_have_no_gpu_form(tmp_path):
    with pytest.raises(ValueError, match="tiny-int8 is the cpu import profile's int8 graph"):
        build_weights(tmp_path, "tiny-int8", [MODEL], profile="gpu")


def test_gpu_variants_are_served_from_kind_gpu_configs_with_their_own_engine_cache(gpu_machine, tmp_path):
    plan = parse_args(["--work-dir", str(tmp_path / "work"), "--sizes", "tiny"])
    weights = build_weights(plan.weights_root, "tiny", [MODEL], profile=plan.profile)
    current = local_variant(plan, "tiny", plan.variants[-1])
    served = materialize(weights, tmp_path / "served", [MODEL], current, weights="demo-tiny")

    config = (served / f"{MODEL}_onnx" / "config.pbtxt").read_text(encoding="utf-8")
    assert "KIND_GPU" in config and "KIND_CPU" not in config
    assert '"tensorrt"' in config
    cache = tmp_path / "work" / "tensorrt" / "tiny-current"
    assert f"{cache.resolve()}/{MODEL}_onnx" in config and cache.is_dir()
    # The weights were written in the gpu form (plain): the variant links them, the limit runs them.
    graph = served / f"{MODEL}_onnx" / "1" / "model.onnx"
    assert graph.stat().st_ino == (weights / f"{MODEL}_onnx" / "1" / "model.onnx").stat().st_ino

    cpu_plan = parse_args(["--work-dir", str(tmp_path / "work"), "--profile", "cpu"])
    assert local_variant(cpu_plan, "tiny", cpu_plan.variants[-1]) == cpu_plan.variants[-1]


def test_in_process_sessions_ask_for_cuda_exactly_on_the_gpu_profile_with_a_gpu(monkeypatch, gpu_machine):
    assert sessions.session_providers("gpu").names == [CUDA, CPU]
    assert sessions.session_providers("cpu").names == [CPU]  # the GPU is there, the profile says cpu
    monkeypatch.setattr(ort_providers, "gpu_present", lambda: (False, "no NVIDIA driver"))
    without = sessions.session_providers("gpu")
    assert without.names == [CPU] and "no NVIDIA driver" in without.reason
    with pytest.raises(ValueError, match="not 'auto'"):
        sessions.session_providers("auto")


def test_a_session_records_the_provider_it_got_not_the_one_it_asked_for(monkeypatch, tmp_path):
    monkeypatch.setattr(sessions, "local_providers", lambda: ProviderChoice([CUDA, CPU], "1 GPU(s)"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ONNX Runtime warns that this build has no CUDA provider
        session = sessions.open_session(identity_graph(tmp_path / "identity.onnx"), "gpu", threads=1)
    where = sessions.runs_on(session)
    assert where["provider"] == CPU
    assert where["onnxruntime"] == ort_providers.onnxruntime_build()


def test_the_onnx_peer_says_on_which_provider_it_runs(tmp_path):
    build(tmp_path, "tiny", models=[MODEL])
    app = create_app(tmp_path, MODEL, threads=1, profile="cpu")
    (health,) = [route for route in app.routes if getattr(route, "path", "") == "/health"]
    assert health.endpoint() == {"status": "ok", "runs_on": CPU}  # type: ignore[attr-defined]


def stand_in_log_line(model: str, provider: str) -> str:
    return f'I1206 14:18:00.1 1 onnx_backend.py:68] "{running_message(model, provider, "why")}"\n'


def test_the_served_provider_is_read_from_this_runs_part_of_the_triton_log(tmp_path):
    log = tmp_path / "triton.log"
    log.write_text(stand_in_log_line(f"{MODEL}_onnx", CUDA), encoding="utf-8")  # an earlier run's
    offset = log.stat().st_size
    with log.open("a", encoding="utf-8") as sink:
        for model in (f"{MODEL}_onnx", "drug_development_trials_onnx", f"{MODEL}_onnx"):
            sink.write(stand_in_log_line(model, CPU))
    assert served_providers(log, offset, f"{MODEL}_onnx") == [CPU]
    assert served_providers(log, 0, f"{MODEL}_onnx") == [CPU, CUDA]


def test_the_gpu_build_of_onnxruntime_is_recorded_under_its_module_name(monkeypatch):
    real_version = metadata.version

    def version(name: str) -> str:
        if name == "onnxruntime":
            raise metadata.PackageNotFoundError(name)
        return "1.31.1" if name == "onnxruntime-gpu" else real_version(name)

    monkeypatch.setattr(metadata, "version", version)
    assert machine.versions()["onnxruntime"] == "1.31.1 (onnxruntime-gpu)"
