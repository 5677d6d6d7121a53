"""The per-request limits the docs quote are the ones the configs render."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clinserve_runtime.configs import ServingSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"
CPU = ServingSettings()
GPU = replace(CPU, execution_profile="gpu")


def read(name: str) -> str:
    return " ".join((DOCS / name).read_text(encoding="utf-8").split())


def test_docs_long_documents_quotes_the_limits():
    page = read("long-documents.md")
    for row in (
        f"| texts per request | {CPU.max_texts_per_request} |",
        f"| characters per text | {CPU.max_text_chars:,} |",
        f"| characters per request, its texts together | {CPU.max_request_chars:,} |",
        f"| {CPU.token_budget():,} on the cpu profile, {GPU.token_budget():,} on gpu |",
        f"cpu profile's {CPU.token_budget():,} positions",
    ):
        assert row in page, row


def test_docs_tensor_contract_quotes_the_limits():
    page = read("tensor-contract.md")
    for fragment in (
        f"a text over `max_text_chars` ({CPU.max_text_chars:,})",
        f"texts over `max_request_chars` ({CPU.max_request_chars:,}) together",
        f"more than {CPU.max_texts_per_request} texts in one request",
    ):
        assert fragment in page, fragment
