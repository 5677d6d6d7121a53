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
def test_readme_python_example_runs_against_a_real_server(triton_server):
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    code = example.replace('"127.0.0.1:8001"', repr(triton_server.grpc_url))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().startswith("True [")
