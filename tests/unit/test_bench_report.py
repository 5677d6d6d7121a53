"""Key ratios and Markdown rendering of the benchmark report, from a synthetic run record."""

from __future__ import annotations

import math

import pytest

from benchmarks.report import key_ratios, long_docs_section, render
from benchmarks.results import at_concurrency, peak

MODELS = [
    "treatment_changes",
    "treatment_changes_tokenizer",
    "treatment_changes_onnx",
    "treatment_changes_postprocess",
]


def summary(c, throughput, p50):
    return {
        "concurrency": c,
        "requests": 100,
        "errors": 0,
        "duration_s": 8.0,
        "throughput": throughput,
        "p50_ms": p50,
        "p95_ms": p50 * 1.5,
        "p99_ms": p50 * 2,
        "mean_ms": p50 * 1.1,
    }


def load(points):
    return {
        "levels": [
            {"concurrency": c, "summary": summary(c, t, p), "latencies_ms": [p, p * 2]} for c, t, p in points
        ]
    }


def results(*, served_c32=20.0, served_c1_p50=52.0, transformers_peak=5.0, onnx_peak=15.0, long_docs=None):
    limit = {
        "texts": 200,
        "tokenize_s": 0.1,
        "tokenize_ms_per_text": 0.5,
        "policies": [
            {
                "policy": "sorted",
                "batch_size": 8,
                "texts_per_s": 24.0,
                "padded_tokens": 1000,
                "real_tokens": 980,
            },
            {
                "policy": "bucket",
                "batch_size": 32,
                "texts_per_s": 20.0,
                "padded_tokens": 1200,
                "real_tokens": 980,
            },
        ],
        "best": {
            "policy": "sorted",
            "batch_size": 8,
            "texts_per_s": 24.0,
            "texts_per_s_with_tokenization": 23.9,
        },
        "single": {"texts": 48, "p50_ms": 50.0, "p95_ms": 90.0, "tokenize_p50_ms": 0.3, "infer_p50_ms": 49.7},
    }
    return {
        "command": "python -m benchmarks",
        "started": "2026-01-01T00:00:00+00:00",
        "duration_s": 600.0,
        "machine": {
            "cpu_model": "Test CPU @ 2.50GHz",
            "cores": 2,
            "usable_cores": 2,
            "memory_gib": 24.0,
            "platform": "Linux",
            "python": "3.11.7",
            "load_average": [0.1, 0.1, 0.1],
            "git": "abc1234",
            "versions": {"onnxruntime": "1.31.1"},
        },
        "background_busy_before": 0.02,
        "background_busy_after": 0.03,
        "load_average_after": [1.0, 1.0, 1.0],
        "config": {
            "concurrency": [1, 8, 32, 64],
            "duration_s": {"base": 8.0},
            "warmup_s": {"base": 2.0},
            "corpus_size": 200,
            "seed": 0,
            "mix": {"tweet": 0.4, "sentence": 0.4, "abstract": 0.2},
        },
        "sizes": {
            "base": {
                "model": "treatment_changes",
                "corpus": {"tweet": {"count": 80, "chars_p50": 100, "chars_min": 40, "chars_max": 280}},
                "limit": limit,
                "variants": [
                    {
                        "name": "previous",
                        "changes": {"max_queue_delay_us": 2000},
                        "load": load([(1, 15.0, 60.0), (32, 12.0, 900.0)]),
                    },
                    {
                        "name": "current",
                        "changes": {},
                        "load": load([(1, 18.0, served_c1_p50), (8, 19.0, 300.0), (32, served_c32, 800.0)]),
                    },
                ],
                "peers": {
                    "transformers": {
                        "load": load([(1, 3.0, 200.0), (8, transformers_peak, 900.0)]),
                        "parity": {"max_abs_diff": 1e-7, "max_abs_logit": 0.03},
                    },
                    "onnx": {"load": load([(1, 10.0, 60.0), (8, onnx_peak, 400.0)])},
                },
            }
        },
        "long_docs": long_docs,
        "skipped": [],
    }


def by_name(ratios):
    return {r.name.split(" at ")[0].split(" minus")[0]: r for r in ratios}


def test_key_ratios_judge_the_last_variant_against_the_targets():
    ratios = by_name(key_ratios(results(served_c32=22.0)))
    throughput = ratios["served/limit throughput"]
    assert throughput.value == pytest.approx(22.0 / 23.9)
    assert throughput.met and throughput.target == ">= 0.9"  # base fp32 keeps 0.9
    latency = ratios["p50"]
    assert latency.value == pytest.approx(2.0)
    assert latency.met
    transformers = ratios["served/transformers peer peak throughput"]
    assert transformers.value == pytest.approx(22.0 / 5.0)
    assert transformers.met
    assert ratios["served/onnx peer peak throughput"].value == pytest.approx(22.0 / 15.0)


def test_key_ratios_report_a_missed_target_as_not_met():
    ratios = by_name(
        key_ratios(results(served_c32=10.0, served_c1_p50=60.0, transformers_peak=8.0, onnx_peak=25.0))
    )
    assert not ratios["served/limit throughput"].met
    assert not ratios["p50"].met
    assert not ratios["served/transformers peer peak throughput"].met
    assert not ratios["served/onnx peer peak throughput"].met
    assert "NOT met" in ratios["p50"].line()


def test_headline_concurrency_falls_back_to_the_highest_level_measured_below_it():
    measured = load([(1, 5.0, 10.0), (8, 9.0, 50.0)])
    fallback = at_concurrency(measured, 32)
    assert fallback is not None and fallback["concurrency"] == 8
    assert at_concurrency(measured, 0) is None
    best = peak(measured)
    assert best is not None and best["throughput"] == 9.0
    assert peak(None) is None


def test_report_names_the_command_the_machine_and_every_target():
    text = render(results(), {"base": MODELS}, {"base": ["throughput_base.png"]})
    assert "`python -m benchmarks`" in text
    assert "Test CPU @ 2.50GHz, 2 cores" in text
    assert "| base | served/limit throughput at c=32 | 0.84 | >= 0.9 | **no** |" in text
    assert "FastAPI + transformers pipeline" in text
    assert "![throughput_base.png](throughput_base.png)" in text
    assert "previous" in text and "max_queue_delay_us=2000" in text
    assert "was shared" not in text


def test_report_warns_when_the_machine_was_busy_during_the_run():
    record = results()
    record["background_busy_before"] = 0.6
    assert "The machine was shared during this run" in render(record, {"base": MODELS}, {})


def test_long_documents_flag_a_silent_truncation():
    silent = {
        "documents": [{"chars": 100_000, "p50_ms": 10.0, "truncated": False, "dropped_tokens": 5}],
        "linearity": [],
    }
    assert "**Silently truncated**" in long_docs_section(silent)
    honest = {
        "documents": [{"chars": 100_000, "p50_ms": 10.0, "truncated": True, "dropped_tokens": 5}],
        "linearity": [],
    }
    assert "No document lost word-pieces without its result saying so" in long_docs_section(honest)


def test_long_documents_report_growth_between_sizes():
    record = {
        "size": "base",
        "documents": [
            {"chars": 1_000, "p50_ms": 10.0, "truncated": False, "dropped_tokens": 0, "entities": 3},
            {"chars": 10_000, "p50_ms": 100.0, "truncated": False, "dropped_tokens": 0, "entities": 30},
        ],
        "linearity": [
            {
                "from_chars": 1_000,
                "to_chars": 10_000,
                "length_ratio": 10.0,
                "time_ratio": 10.0,
                "time_per_length": 1.0,
            }
        ],
    }
    text = render(results(long_docs=record), {"base": MODELS}, {})
    assert "1000→10000 chars: time ×10.00 for length ×10 (time/length 1.00; 1.00 = linear)" in text


def test_missing_measurements_give_no_ratio_instead_of_a_wrong_one():
    record = results()
    record["sizes"]["base"]["peers"] = {}
    names = [r.name for r in key_ratios(record)]
    assert not any("peer" in n for n in names)
    assert not any(math.isnan(r.value) for r in key_ratios(record))


def window(after, tps, single_p50):
    return {
        "after_concurrency": after,
        "best": {
            "policy": "sorted",
            "batch_size": 8,
            "texts_per_s": tps,
            "texts_per_s_with_tokenization": tps,
        },
        "single": {
            "texts": 24,
            "p50_ms": single_p50,
            "p95_ms": 80.0,
            "tokenize_p50_ms": 0.3,
            "infer_p50_ms": 48.0,
        },
    }


def test_ratios_use_the_better_of_the_limit_runs_next_to_their_level_in_time():
    record = results()
    # initial run: 23.9 texts/s, 50 ms; after c=1: 22 texts/s, 49 ms; after c=8: 30; after c=32: 26.
    record["sizes"]["base"]["limit_windows"] = [
        window(1, 22.0, 49.0),
        window(8, 30.0, 70.0),
        window(32, 26.0, 70.0),
    ]
    ratios = by_name(key_ratios(record))
    assert ratios["served/limit throughput"].value == pytest.approx(20.0 / 30.0)  # neighbours of c=32: 30, 26
    assert ratios["p50"].value == pytest.approx(52.0 - 49.0)  # neighbours of c=1: 50 ms, 49 ms
    text = render(record, {"base": MODELS}, {})
    assert "| after c=8 | 30.0 | 70.0 | 24 |" in text


def test_the_latency_target_uses_the_interleaved_measurement_when_there_is_one():
    record = results(served_c1_p50=70.0)  # separate runs: 70 vs 50 ms, 20 ms apart
    side = {
        "calls": 96,
        "served_p50_ms": 41.5,
        "served_p95_ms": 90.0,
        "limit_p50_ms": 39.0,
        "limit_p95_ms": 85.0,
        "excess_p50_ms": 2.5,
        "difference_p50_ms": 2.2,
    }
    record["sizes"]["base"]["paired"] = {
        "texts": 48,
        "rounds": 2,
        "targets": {"previous": {**side, "excess_p50_ms": 9.0}, "current": side},
    }
    latency = by_name(key_ratios(record))["p50"]
    assert latency.value == pytest.approx(2.5) and latency.met
    assert "interleaved (96 pairs)" in latency.detail
    report = render(record, {"base": []}, {})
    assert "### Single text: served and limit interleaved" in report
    assert "| Triton [current] | 41.5 | 90.0 | +2.50 | +2.20 |" in report
    assert "| Triton [previous] |" in report


def stats(name, *, requests, total_ms, queue_ms=0.0, infer_ms=0.0, io_ms=0.0):
    def ns(ms):
        return {"count": str(requests), "ns": str(int(ms * requests * 1e6))}

    return {
        "name": name,
        "execution_count": str(requests),
        "inference_count": str(requests),
        "inference_stats": {
            "success": ns(total_ms),
            "queue": ns(queue_ms),
            "compute_input": ns(io_ms / 2),
            "compute_infer": ns(infer_ms),
            "compute_output": ns(io_ms / 2),
        },
    }


def test_the_fixed_cost_of_a_single_request_is_read_from_the_c1_statistics():
    from benchmarks.report import fixed_cost_finding

    record = results(served_c1_p50=52.0)
    size = record["sizes"]["base"]
    level = size["variants"][1]["load"]["levels"][0]
    assert level["concurrency"] == 1
    level["summary"]["mean_ms"] = 50.0
    ensemble, tokenizer, onnx, post = MODELS
    after = [
        stats(ensemble, requests=10, total_ms=49.0, infer_ms=48.0),
        stats(tokenizer, requests=10, total_ms=1.25, queue_ms=0.25, infer_ms=0.75, io_ms=0.25),
        stats(onnx, requests=10, total_ms=46.0, queue_ms=0.25, infer_ms=45.5, io_ms=0.25),
        stats(post, requests=10, total_ms=1.0, infer_ms=0.75, io_ms=0.25),
    ]
    before = [stats(m, requests=0, total_ms=0.0) for m in MODELS]
    level["triton_stats"] = {"before": {"model_stats": before}, "after": {"model_stats": after}}
    finding = fixed_cost_finding(size, MODELS)
    assert finding is not None
    # 1.25 tokenizer + 1.00 post-processor + 0.50 around the execution + 1.00 client-to-Triton.
    assert "1.25 ms in the tokenizer step, 1.00 ms in the post-processor, 0.50 ms in the ONNX step" in finding
    assert "around its 45.50 ms execution" in finding and "1.00 ms between the client and Triton" in finding
    assert ": 3.8 ms that the limit's in-process call does not pay" in finding
    # No statistics at c=1 (no admin key), or no c=1 level: no statement rather than a wrong one.
    del level["triton_stats"]
    assert fixed_cost_finding(size, MODELS) is None
    size["variants"][1]["load"]["levels"] = size["variants"][1]["load"]["levels"][1:]
    assert fixed_cost_finding(size, MODELS) is None


def tiny_results(outside_ms: float, *, excess_ms: float = 1.0):
    record = results(served_c32=20.0, served_c1_p50=50.0 + excess_ms)
    size = record["sizes"].pop("base")
    level = size["variants"][-1]["load"]["levels"][-1]
    level["process_cpu_s"] = {"server": 1.0}
    level["process_cpu_ms_per_text"] = {
        "server": outside_ms / 2,
        "treatment_changes_tokenizer": outside_ms / 4,
        "treatment_changes_postprocess": outside_ms / 4,
        "treatment_changes_onnx": 1.2,
    }
    record["sizes"]["tiny"] = size
    return record


@pytest.mark.parametrize(("outside_ms", "met"), [(0.3, True), (0.5, False)])
def test_tiny_is_judged_on_cpu_outside_the_onnx_step_and_a_tighter_latency(outside_ms, met):
    ratios = by_name(key_ratios(tiny_results(outside_ms, excess_ms=2.0)))
    outside = ratios["CPU ms per text outside the ONNX step"]
    assert outside.value == pytest.approx(outside_ms) and outside.met is met
    assert "server" in outside.detail and "treatment_changes_onnx" not in outside.detail
    latency = ratios["p50"]
    assert latency.target == "<= 1.5 ms" and not latency.met  # 2 ms over the limit
    assert ratios["served/limit throughput"].target == ">= 0.8"


def test_the_batched_workload_is_reported_against_the_limit():
    record = results()
    size = record["sizes"]["base"]
    batched = load([(1, 40.0, 200.0), (8, 48.0, 1300.0)])
    for level in batched["levels"]:
        level["texts_per_request"] = 8
    size["variants"][-1]["load_batched"] = batched
    text = render(record, {"base": MODELS}, {})
    assert "Each request carries 8 texts" in text
    assert "| Triton [current] | 40.0 (1.67) / 200.0 | 48.0 (2.01) / 1300.0 |" in text
    assert "Not measured in this run (`--batch-texts 0`)" not in text
    assert "Not measured in this run (`--batch-texts 0`)" in render(results(), {"base": MODELS}, {})


def with_execution(record, *, profile, limit, served, onnx_peer):
    record["execution"] = {
        "profile": profile,
        "onnxruntime": f"onnxruntime 1.31.1 ({'GPU' if profile == 'gpu' else 'CPU'} build)",
        "in_process": {"providers": [limit], "reason": "test"},
    }
    base = record["sizes"]["base"]
    base["limit"]["provider"] = limit
    for variant in base["variants"]:
        variant["runs_on"] = served
    base["peers"]["onnx"]["runs_on"] = onnx_peer
    base["peers"]["transformers"]["runs_on"] = "PyTorch 2.13.0+cpu on the CPU"
    return record


def test_report_says_on_which_provider_the_limit_the_served_path_and_the_peers_ran():
    cpu = "CPUExecutionProvider"
    record = with_execution(results(), profile="cpu", limit=cpu, served=[cpu], onnx_peer=cpu)
    text = render(record, {"base": MODELS}, {})
    assert "- Execution profile `cpu`, onnxruntime 1.31.1 (CPU build)" in text
    assert (
        "  - base: limit: CPU provider (CPUExecutionProvider); Triton [previous] [current]: CPU provider"
        " (CPUExecutionProvider); FastAPI + transformers pipeline: PyTorch 2.13.0+cpu on the CPU;"
        " FastAPI + ONNX Runtime per request: CPU provider (CPUExecutionProvider)"
    ) in text
    assert "compares two providers" not in text


def test_report_flags_a_served_path_on_another_provider_than_the_limit():
    record = with_execution(
        results(),
        profile="gpu",
        limit="CUDAExecutionProvider",
        served=["TensorrtExecutionProvider"],
        onnx_peer="CUDAExecutionProvider",
    )
    text = render(record, {"base": MODELS}, {})
    assert "limit: GPU provider (CUDAExecutionProvider)" in text
    assert "Triton [previous] [current]: GPU provider (TensorrtExecutionProvider)" in text
    assert "FastAPI + ONNX Runtime per request: GPU provider (CUDAExecutionProvider)" in text
    assert (
        "**base: the served path ran on TensorrtExecutionProvider, the limit on CUDAExecutionProvider**:"
        " served/limit compares two providers"
    ) in text
    record["sizes"]["base"]["variants"][0]["runs_on"] = []
    assert "Triton [previous]: not found in the Triton log" in render(record, {"base": MODELS}, {})


def test_report_of_a_run_before_profiles_were_recorded_says_it_ran_on_the_cpu():
    text = render(results(), {"base": MODELS}, {})
    assert "ONNX Runtime stand-in backend on CPU" in text
    assert "Execution profile" not in text
