"""The ``clinserve`` command end to end, as a subprocess against the session's real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert header.split() == ["#", "label", "score", "text"]
    assert [row.split()[0] for row in rows] == ["0", "1"]
    assert all(row.split()[1] in ("negative", "positive") for row in rows)
    assert "untrained demo weights" in done.stderr


def test_classify_json_output_has_one_line_per_text(triton_server, seed_samples):
    [text] = seed_samples["drug_development_trials"]
    done = run("classify", "-m", "drug_development_trials", "--url", triton_server.grpc_url, "--json", text)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    assert result["index"] == 0 and result["model"] == "drug_development_trials"
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


def test_classify_an_unknown_model_exits_1_with_the_servers_message(triton_server):
    done = run("classify", "-m", "no_such_model", "--url", triton_server.grpc_url, "text")
    assert done.returncode == 1
    assert "clinserve: error: [NOT_FOUND]" in done.stderr and "no_such_model" in done.stderr


def test_classify_an_empty_line_in_a_file_exits_1_naming_its_index(triton_server, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('"fine"\n"   "\n', encoding="utf-8")
    done = run("classify", "-m", "treatment_changes", "--url", triton_server.grpc_url, "--file", str(path))
    assert done.returncode == 1
    assert "texts[1] is empty" in done.stderr


def test_python_dash_m_runs_the_same_tool(triton_server):
    done = subprocess.run(
        [sys.executable, "-m", "clinserve", "models", "--url", triton_server.grpc_url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 5
