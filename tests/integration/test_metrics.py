"""Known traffic moves each clinserve_* counter by exactly what it holds (docs/metrics.md).

Against a real server of its own (fresh counters): read ``/metrics``, send a known set of requests one after
the other (good texts, a truncated text, a per-sentence request, bad inputs of three kinds),
read ``/metrics`` again and compare the differences with figures worked out here from the
texts, the tokenizer file and the responses. Then every series a dashboard panel or an alert
rule reads must be among those the server exports (external ones are allow-listed).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import tritonclient.grpc as grpcclient
from tokenizers import Tokenizer
from tritonclient.utils import InferenceServerException

from clinserve_ensemble.catalog import load_catalog
from clinserve_preprocess.encoding import bucket_length
from clinserve_preprocess.step_metrics import POSTPROCESS_ERRORS, REPORT_INTERVAL_S, TOKENIZER_ERRORS
from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.triton import TritonServer, loopback_options
from tests.conftest import TEST_REPOSITORY
from tests.integration.triton_calls import infer
from tests.observability import EXTERNAL_SERIES, recorded_series, used_series

pytestmark = pytest.mark.integration

MODEL = "treatment_changes"
SENTENCE_MODEL = "biomarker"
GOOD_TEXTS = ["Switched from ambien to melatonin.", "No change.", "Stopped the statin after two weeks."]
LONG_TEXT = " ".join(["improved"] * 300)  # far more word-pieces than the model's 128 positions
SHORT_TEXT = "Dose was halved."
TWO_SENTENCES = "HER2 expression was high. PSA was 4.1 ng/mL."
_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode("utf-8")
    samples: Samples = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if line.startswith("#") or match is None:
            continue
        name, labels, value = match.groups()
        samples[name, frozenset(_LABEL.findall(labels or ""))] = float(value)
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def config_parameter(repository: Path, model: str, key: str) -> Any:
    """A JSON-valued parameter of a model's config.pbtxt."""
    text = (repository / model / "config.pbtxt").read_text(encoding="utf-8")
    match = re.search(rf'key:\s*"{key}"\s*value\s*:?\s*\{{\s*string_value:\s*"((?:[^"\\]|\\.)*)"', text)
    assert match, f"{model}: no parameter {key}"
    return json.loads(match.group(1).encode().decode("unicode_escape"))


# Expected moves of the counters the known traffic makes, once every stub has reported.
REFUSED = {(MODEL, "empty_text"): 1, (MODEL, "invalid_utf8"): 1, (MODEL, "unknown_mode"): 1}
SETTLE_KIND = "too_many_texts"


def settle(
    client: grpcclient.InferenceServerClient, url: str, before: Samples
) -> tuple[Samples, dict[str, int]]:
    """The scrape once every stub has reported what the traffic held, and the settling requests sent.

    Each stub sends its counters at its next execution after ``REPORT_INTERVAL_S``, and each
    step has two instances. So: wait out the interval, send each model a request its tokenizer
    refuses as ``too_many_texts`` (no other counter moves), and scrape, until the counters hold
    the traffic (Triton alternates instances; 60 s at most).
    """
    settles = {MODEL: 0, SENTENCE_MODEL: 0}
    too_many = ["x"] * (ServingSettings().max_texts_per_request + 1)
    deadline = time.monotonic() + 60
    while True:
        time.sleep(REPORT_INTERVAL_S)
        for model in settles:
            with pytest.raises(InferenceServerException, match="takes at most"):
                infer(client, model, too_many)
            settles[model] += 1
        after = scrape(url)
        reported = (
            all(
                delta(before, after, "clinserve_errors_total", model=m, kind=k) == n
                for (m, k), n in REFUSED.items()
            )
            and delta(before, after, "clinserve_texts_total", model=MODEL) == 5
        )
        reported = reported and delta(before, after, "clinserve_texts_total", model=SENTENCE_MODEL) == 1
        if reported:
            return after, settles
        assert time.monotonic() < deadline, "the stubs did not report the traffic within 60 s"


@pytest.fixture(scope="module")
def server(triton_server) -> Iterator[TritonServer]:
    """A server of its own for the two models used (``triton_server`` built the repository).

    The steps report their counters at most once per ``REPORT_INTERVAL_S``: on the session's
    server, counts of earlier tests still held by a stub could be reported during this test's
    traffic. A fresh server holds none.
    """
    with tempfile.TemporaryDirectory(prefix="metrics-") as folder:
        root = Path(folder)
        catalog = load_catalog()
        for name in (*catalog[MODEL].triton_models, *catalog[SENTENCE_MODEL].triton_models):
            (root / name).symlink_to((triton_server.repository / name).resolve(), target_is_directory=True)
        options = loopback_options(root)
        with TritonServer(options, log_path=root / "triton.log") as running:
            running.wait_until_ready(300)
            yield running


@pytest.fixture(scope="module")
def traffic(server) -> dict[str, Any]:
    """Send the known requests, one at a time; the scrapes before and after, and what came back."""
    before = scrape(server.metrics_url)
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        good = infer(client, MODEL, GOOD_TEXTS)
        truncated = infer(client, MODEL, [SHORT_TEXT, LONG_TEXT])
        (sentences,) = infer(client, SENTENCE_MODEL, [TWO_SENTENCES], parameters={"mode": "sentences"})
        for texts, parameters in (
            (["fine", ""], None),  # empty_text
            ([b"caf\xc3("], None),  # invalid_utf8
            (["fine"], {"mode": "bogus"}),  # unknown_mode
        ):
            with pytest.raises(InferenceServerException) as info:
                infer(client, MODEL, texts, parameters=parameters)
            assert info.value.status() == "StatusCode.INVALID_ARGUMENT", str(info.value)
        after, settles = settle(client, server.metrics_url, before)
    return {
        "before": before,
        "after": after,
        "settles": settles,
        "results": good + truncated,
        "sentences": sentences,
        "repository": TEST_REPOSITORY,
    }


def pieces(repository: Path, text: str) -> int:
    """Word-pieces of ``text`` by the served tokenizer file, without special tokens or truncation."""
    tokenizer = Tokenizer.from_file(str(repository / f"{MODEL}_tokenizer" / "1" / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def test_work_counters_move_by_the_traffic(traffic):
    before, after, repository = traffic["before"], traffic["after"], traffic["repository"]
    max_tokens = int(config_parameter(repository, f"{MODEL}_tokenizer", "max_tokens"))
    buckets = config_parameter(repository, f"{MODEL}_tokenizer", "length_buckets")
    requests = [GOOD_TEXTS, [SHORT_TEXT, LONG_TEXT]]
    real = padding = dropped = truncated = 0
    for texts in requests:  # one sequence per text (mode whole), padded to the request's bucket
        lengths = [min(pieces(repository, t), max_tokens - 2) + 2 for t in texts]
        padded = bucket_length(max(lengths), max_tokens, buckets)
        real += sum(lengths)
        padding += padded * len(texts) - sum(lengths)
        cut = [max(0, pieces(repository, t) - (max_tokens - 2)) for t in texts]
        dropped += sum(cut)
        truncated += sum(1 for c in cut if c)
    assert (truncated, dropped) == (1, pieces(repository, LONG_TEXT) - (max_tokens - 2))
    # The results agree with the counters' view of truncation.
    assert sum(r["truncated"] for r in traffic["results"]) == truncated
    expected = {
        ("clinserve_texts_total", ()): 5,
        ("clinserve_sequences_total", ()): 5,
        ("clinserve_tokens_total", (("kind", "real"),)): real,
        ("clinserve_tokens_total", (("kind", "padding"),)): padding,
        ("clinserve_truncated_texts_total", ()): truncated,
        ("clinserve_dropped_word_pieces_total", ()): dropped,
    }
    for (name, labels), value in expected.items():
        assert delta(before, after, name, model=MODEL, **dict(labels)) == value, (name, labels)
    # Per sentence: one text, one sequence per sentence (the result lists them).
    assert len(traffic["sentences"]["sentences"]) == 2
    assert delta(before, after, "clinserve_texts_total", model=SENTENCE_MODEL) == 1
    assert delta(before, after, "clinserve_sequences_total", model=SENTENCE_MODEL) == 2
    assert delta(before, after, "clinserve_truncated_texts_total", model=SENTENCE_MODEL) == 0


def test_input_errors_are_counted_by_kind_apart_from_server_errors(traffic):
    before, after, settles = traffic["before"], traffic["after"], traffic["settles"]
    refused = {kind: n for (model, kind), n in REFUSED.items() if model == MODEL}
    for step, pairs in (("tokenizer", TOKENIZER_ERRORS), ("postprocess", POSTPROCESS_ERRORS)):
        for source, kind in pairs:
            expected = refused.get(kind, 0) if (step, source.value) == ("tokenizer", "input") else 0
            labels = {"model": MODEL, "step": step, "source": source.value, "kind": kind}
            moved = delta(before, after, "clinserve_errors_total", **labels)
            if (step, kind) == ("tokenizer", SETTLE_KIND):  # the settling requests reported so far
                assert 0 <= moved <= settles[MODEL], labels
            else:
                assert moved == expected, labels
            # Every label set exists before any error happened (joins and ratios never miss one).
            assert ("clinserve_errors_total", frozenset(labels.items())) in before, labels
    # How Triton 2.51 counts them (docs/metrics.md, "How Triton counts failures"), which the
    # recording rules rely on: a Python step's error answer is a success of the step, and the
    # ensemble counts each failed request twice.
    tokenizer = f"{MODEL}_tokenizer"
    failed = 3 + settles[MODEL]
    assert delta(before, after, "nv_inference_request_success", model=tokenizer) == 2 + failed
    assert delta(before, after, "nv_inference_request_failure", model=tokenizer) == 0
    assert delta(before, after, "nv_inference_request_failure", model=MODEL, reason="OTHER") == 2 * failed
    assert delta(before, after, "nv_inference_request_success", model=MODEL) == 2


def test_step_durations_are_observed_once_per_execution(traffic):
    before, after, settles = traffic["before"], traffic["after"], traffic["settles"]
    # Requests went one at a time: each was one execution of each step it reached. Durations
    # are observed at once (only the counters wait for the report interval).
    executions = {
        (MODEL, "tokenizer"): 5 + settles[MODEL],
        (MODEL, "postprocess"): 2,
        (SENTENCE_MODEL, "tokenizer"): 1 + settles[SENTENCE_MODEL],
    }
    for (model, step), count in executions.items():
        labels: Mapping[str, str] = {"model": model, "step": step}
        assert delta(before, after, "clinserve_step_duration_seconds_count", **labels) == count, labels
        assert delta(before, after, "clinserve_step_duration_seconds_sum", **labels) > 0, labels
        assert delta(before, after, "clinserve_step_duration_seconds_bucket", le="+Inf", **labels) == count


def test_every_series_the_dashboard_and_rules_read_is_exported(traffic):
    exported = {name for name, _ in traffic["after"]}
    missing = {
        name: sorted(where)
        for name, where in used_series().items()
        if name not in exported and name not in EXTERNAL_SERIES and name not in recorded_series()
    }
    assert not missing, f"read by the dashboard or rules but not exported by the server: {missing}"
    assert not set(EXTERNAL_SERIES) & exported, "an allow-listed external series is Triton's own"


def test_latency_summaries_give_the_documented_quantiles(traffic):
    after = traffic["after"]
    quantiles = {
        dict(labels).get("quantile")
        for name, labels in after
        if name == "nv_inference_request_summary_us" and dict(labels).get("model") == MODEL
    }
    assert quantiles == {"0.5", "0.95", "0.99"}
    assert total(after, "nv_inference_request_summary_us_count", model=MODEL) > 0
