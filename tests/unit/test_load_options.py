"""The load test's command-line options (parsed as Locust's configargparse parser does)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import configargparse
import pytest

from clinserve import RetryPolicy
from load_tests.options import LoadSettings, add_arguments, shape_from_options
from load_tests.run import build_command, parse_timespan
from load_tests.shapes import Spike
from load_tests.workload import DEFAULT_MODELS


def parse(args: list[str]):
    parser = configargparse.ArgumentParser()
    add_arguments(parser)
    # Locust's own options that the shape reads.
    parser.add_argument("--users", dest="num_users", type=int, default=None)
    parser.add_argument("--spawn-rate", type=float, default=None)
    parser.add_argument("--run-time", type=int, default=None)
    return parser.parse_args(args)


def test_the_pure_modules_do_not_import_locust():
    # Importing Locust monkey-patches the process with gevent: the tests and the runner must not.
    code = (
        "import sys, lab.corpus, load_tests.options, load_tests.run, load_tests.shapes,"
        " load_tests.slo, load_tests.workload;"
        "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=root
    )
    assert done.stdout.strip() == "[]"


def test_defaults_make_a_valid_workload():
    settings = LoadSettings.from_options(parse([]))
    assert [t.name for t in settings.workload.targets] == [
        item.split(":")[0] for item in DEFAULT_MODELS.split(",")
    ]
    assert settings.texts_per_call == 1
    assert settings.retry == RetryPolicy()  # the client library's own default
    assert settings.channel.tls is None
    assert settings.thresholds.max_failure_ratio == 0.0
    assert settings.preflight


def test_options_come_from_the_command_line_or_the_environment(monkeypatch):
    monkeypatch.setenv("LOCUST_MODELS", "biomarker/document:2")
    monkeypatch.setenv("LOCUST_SLO_P95_MS", "500,biomarker=900")
    settings = LoadSettings.from_options(parse(["--slo-min-rps", "3", "--payloads", "long"]))
    assert [(t.name, t.weight) for t in settings.workload.targets] == [("biomarker/document", 2.0)]
    assert settings.workload.payloads == {"biomarker": {"long": 1.0}}
    assert settings.thresholds.p95_for("biomarker/document") == 900
    assert settings.thresholds.min_rps == 3
    # The command line wins over the environment.
    settings = LoadSettings.from_options(parse(["--models", "treatment_changes"]))
    assert [t.name for t in settings.workload.targets] == ["treatment_changes"]


def test_tls_options_build_the_client_tls_config(tmp_path):
    ca = tmp_path / "ca.pem"
    settings = LoadSettings.from_options(parse(["--tls-ca", str(ca), "--tls-server-name", "triton.example"]))
    assert settings.channel.tls is not None
    assert settings.channel.tls.root_ca == ca and settings.channel.tls.server_name == "triton.example"
    assert LoadSettings.from_options(parse(["--tls"])).channel.tls is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--texts-per-call", "0"], "--texts-per-call must be at least 1"),
        (["--wait-min", "2", "--wait-max", "1"], "need 0 <= --wait-min <= --wait-max"),
        (["--call-timeout", "0"], "--call-timeout must be positive"),
        (["--max-attempts", "0"], "--max-attempts must be at least 1"),
        (["--models", "nope"], "unknown model 'nope'"),
        (["--payloads", "poem"], "unknown payload kind 'poem'"),
        (["--slo-max-failure-ratio", "2"], "--slo-max-failure-ratio must be in [0, 1]"),
    ],
)
def test_bad_options_are_named(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LoadSettings.from_options(parse(args))


def test_a_user_corpus_must_hold_every_kind_the_workload_sends(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"kind": "long", "text": "A discharge summary."}\n', encoding="utf-8")
    with pytest.raises(
        ValueError, match="treatment_changes sends 'tweet' payloads but the corpus has only long"
    ):
        LoadSettings.from_options(parse(["--corpus", str(path), "--models", "treatment_changes"]))
    settings = LoadSettings.from_options(
        parse(["--corpus", str(path), "--models", "biomarker", "--payloads", "long"])
    )
    assert settings.corpus.texts == {"long": ("A discharge summary.",)}


def test_shape_reads_locusts_users_spawn_rate_and_run_time():
    shape = shape_from_options(
        parse(["--shape", "spike", "--users", "10", "--spawn-rate", "5", "--run-time", "50"])
    )
    assert isinstance(shape, Spike)
    assert shape.tick(25) == (10, 10)
    with pytest.raises(SystemExit):
        parse(["--shape", "ramp"])


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1m5s", 65)]
)
def test_parse_timespan_reads_locust_spans(text, seconds):
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "ten", "5 m", "-3"])
def test_parse_timespan_refuses_the_rest(text):
    with pytest.raises(ValueError, match="--run-time"):
        parse_timespan(text)


def test_runner_command_is_headless_bounded_and_writes_reports(tmp_path):
    command = build_command(
        "dns:///triton-headless.ns.svc.cluster.local:8001",
        users=8,
        spawn_rate=2,
        run_time_s=60,
        shape="step",
        output=tmp_path,
        extra=["--models", "biomarker"],
    )
    assert command[:3] == [sys.executable, "-m", "locust"]
    assert Path(command[command.index("-f") + 1]).name == "locustfile.py"
    for flag, value in [
        ("--host", "dns:///triton-headless.ns.svc.cluster.local:8001"),
        ("--users", "8"),
        ("--run-time", "60s"),
        ("--shape", "step"),
        ("--csv", str(tmp_path / "clinserve")),
        ("--html", str(tmp_path / "report.html")),
    ]:
        assert command[command.index(flag) + 1] == value
    assert "--headless" in command
    assert command[-2:] == ["--models", "biomarker"]
