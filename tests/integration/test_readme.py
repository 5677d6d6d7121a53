"""The README's example runs as written (against the test server's address)."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from clinserve_ensemble.catalog import markdown_table
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_model_table_is_the_catalog():
    table = README.split("<!-- catalog-table:start -->\n")[1].split("\n<!-- catalog-table:end -->")[0]
    assert table == markdown_table()


@pytest.mark.integration
@pytest.mark.parametrize("index", [0, 1])
def test_readme_python_examples_run_against_a_real_server(triton_server, index):
    examples = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(examples) == 2
    code = examples[index].replace('"127.0.0.1:8001"', repr(triton_server.grpc_url))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    if index == 0:
        assert printed.startswith("True [")
    else:
        assert "True" in printed and "treatment_changes" in printed
