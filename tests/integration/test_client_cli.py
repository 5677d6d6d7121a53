"""The ``clinserve`` command end to end, as a subprocess against the session's real server."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clinserve_runtime.triton import free_ports
from tools.client_long_document import clinical_note

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("clinserve"))


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_models_lists_every_catalog_model_with_its_labels(triton_server, catalog):
    done = run("models", "--url", triton_server.grpc_url)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["model", "task", "labels"]
    assert [row.split()[0] for row in rows] == sorted(catalog)
    assert all("UNTRAINED" in row for row in rows)

    as_json = run("models", "--url", triton_server.grpc_url, "--json")
    models = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {m["name"]: m["labels"] for m in models} == {n: list(s.labels) for n, s in catalog.items()}


def test_classify_texts_from_arguments_prints_a_table(triton_server, seed_samples):
    texts = seed_samples["treatment_changes"]
    done = run("classify", "--model", "treatment_changes", "--url", triton_server.grpc_url, *texts)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["line", "label", "score", "text"]
    assert [row.split()[0] for row in rows] == ["1", "2"]
    assert all(row.split()[1] in ("negative", "positive") for row in rows)
    assert "untrained demo weights" in done.stderr


def test_classify_json_output_has_one_line_per_text(triton_server, seed_samples):
    [text] = seed_samples["drug_development_trials"]
    done = run("classify", "-m", "drug_development_trials", "--url", triton_server.grpc_url, "--json", text)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    assert (result["index"], result["line"], result["model"]) == (0, 1, "drug_development_trials")
    assert all(text[e["begin"] : e["end"]] == e["text"] for e in result["entities"])


def test_classify_reads_one_text_per_stdin_line_and_the_url_from_the_environment(triton_server):
    done = run(
        "classify",
        "-m",
        "biomarker",
        "-",
        "--json",
        stdin="HER2 is high. PSA is low.\n\nNo marker here.\n",
        env={"CLINSERVE_URL": triton_server.grpc_url},
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [[s["text"] for s in r["sentences"]] for r in results] == [
        ["HER2 is high.", "PSA is low."],
        ["No marker here."],
    ]


def test_classify_a_jsonl_file_in_order_with_a_progress_bar(triton_server, tmp_path):
    texts = [f"Sentence number {i} about HER2." for i in range(300)]
    path = tmp_path / "notes.jsonl"
    lines = [json.dumps({"text": t, "id": i}) if i % 2 else json.dumps(t) for i, t in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run(
        "classify",
        "-m",
        "biomarker",
        "--url",
        triton_server.grpc_url,
        "--file",
        str(path),
        "--json",
        "--progress",
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["index"] for r in results] == list(range(300))
    assert [r["sentences"][0]["text"] for r in results] == texts
    assert "300/300 texts" in done.stderr and "texts/s" in done.stderr


def test_classify_an_unknown_model_exits_2_listing_the_served_ones(triton_server):
    done = run("classify", "-m", "Biomarker", "--url", triton_server.grpc_url, "text")
    assert done.returncode == 2
    assert "clinserve: error: [NOT_FOUND]" in done.stderr and "the server serves biomarker," in done.stderr
    assert "did you mean 'biomarker'" in done.stderr


def test_classify_an_empty_line_in_a_file_exits_2_naming_its_line(triton_server, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('"fine"\n"   "\n"never sent"\n', encoding="utf-8")
    done = run("classify", "-m", "treatment_changes", "--url", triton_server.grpc_url, "--file", str(path))
    assert done.returncode == 2
    assert f"clinserve: error: line 2: {path} line 2 is empty or whitespace only" in done.stderr
    assert [row.split()[0] for row in done.stdout.splitlines()[1:]] == ["1"]  # the lines before it


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-m", "treatment_changes", "-"], b"fine\nab\xffc\n", "stdin line 2 is not valid UTF-8: byte 2"),
        (["-m", "treatment_changes", "--mode", "windows", "text"], None, "offers the modes"),
        (["-m", "treatment_changes", "   "], None, "TEXT argument 1 is empty"),
    ],
)
def test_input_and_usage_errors_exit_2(triton_server, args, stdin, message):
    done = subprocess.run(
        [CLI, "classify", "--url", triton_server.grpc_url, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr.decode()


def test_a_batch_with_bad_lines_goes_on_with_on_error_skip(triton_server, tmp_path):
    lines = [json.dumps({"text": f"Note {i}: stopped drug {i} after a rash."}) for i in range(5000)]
    lines[4000] = json.dumps({"text": ""})
    lines[4500] = "{not json"
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run(
        "classify", "-m", "treatment_changes", "--url", triton_server.grpc_url, "--file", str(path),
        "--json", "--on-error", "skip", "--progress",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["line"] for r in records] == list(range(1, 5001))
    failed = [r for r in records if "error" in r]
    assert [(r["line"], r["error"]) for r in failed] == [(4001, "InputError"), (4501, "InputError")]
    assert "empty or whitespace only" in failed[0]["message"] and "not valid JSON" in failed[1]["message"]
    assert "5000/5000 texts  2 failed" in done.stderr
    assert "2 of 5000 lines failed" in done.stderr


def test_stdin_results_carry_their_input_line_blank_lines_counted(triton_server):
    done = run(
        "--url", triton_server.grpc_url, "classify", "-m", "treatment_changes", "-", "--json",
        stdin="first\n\n\nsecond\n  \nthird\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [(r["index"], r["line"]) for r in map(json.loads, done.stdout.splitlines())] == [
        (0, 1),
        (1, 4),
        (2, 6),
    ]


def test_a_table_warns_about_a_truncated_text(triton_server):
    text = "The patient switched from drug A to drug B after a rash. " * 4000
    done = run("classify", "-m", "treatment_changes", "--url", triton_server.grpc_url, "-", stdin=text)
    assert done.returncode == 0, done.stderr
    assert "warning: line 1: the text was cut at the model's 128 tokens:" in done.stderr
    assert "word-pieces were not read" in done.stderr


def test_a_long_note_goes_through_the_command_in_parts(triton_server, tmp_path):
    note = clinical_note(400_000, paragraphs=False)
    path = tmp_path / "note.jsonl"
    path.write_text(json.dumps({"text": note}) + "\n", encoding="utf-8")
    done = run(
        "classify",
        "-m",
        "drug_development_trials",
        "--url",
        triton_server.grpc_url,
        "-f",
        str(path),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    [result] = [json.loads(line) for line in done.stdout.splitlines()]
    entities = result["entities"]
    assert all(note[e["begin"] : e["end"]] == e["text"] for e in entities)
    assert all(a["end"] <= b["begin"] for a, b in itertools.pairwise(entities))
    assert entities[-1]["end"] > len(note) - 500


def test_the_url_may_come_before_the_command(triton_server):
    done = run("--url", triton_server.grpc_url, "models", "--json")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5


def test_nothing_listening_names_the_address_and_the_option_and_exits_1():
    [port] = free_ports(1)
    done = run("--url", f"127.0.0.1:{port}", "--timeout", "5", "models")
    assert done.returncode == 1
    assert f"cannot reach 127.0.0.1:{port}: nothing is listening there" in done.stderr
    assert "comes from --url or $CLINSERVE_URL" in done.stderr


def test_the_http_port_is_recognised_as_not_grpc(triton_server):
    http = triton_server.http_url.rsplit("/", 1)[-1]
    done = run("--url", http, "--timeout", "5", "models")
    assert done.returncode == 1
    assert "probably not a plaintext gRPC port but an HTTP one" in done.stderr


def test_tls_against_a_plaintext_server_fails_at_once_without_grpc_log_lines(triton_server):
    done = run("--url", triton_server.grpc_url, "--tls", "models")
    assert done.returncode == 1
    assert "the server speaks plaintext gRPC: connect without TLS" in done.stderr
    assert "attempts" not in done.stderr  # not retried
    assert not re.search(r"^[EIW]\d{4} ", done.stderr, re.M), done.stderr  # no gRPC C-core log line


def test_a_ca_file_that_is_not_a_certificate_is_a_usage_error(triton_server, tmp_path):
    (tmp_path / "ca.pem").write_text("hello\n")
    done = run("--url", triton_server.grpc_url, "--ca", str(tmp_path / "ca.pem"), "models")
    assert done.returncode == 2
    assert "is not in PEM format" in done.stderr
    assert not re.search(r"^[EIW]\d{4} ", done.stderr, re.M), done.stderr


def test_python_dash_m_runs_the_same_tool(triton_server):
    done = subprocess.run(
        [sys.executable, "-m", "clinserve", "models", "--url", triton_server.grpc_url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 5
