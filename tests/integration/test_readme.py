"""The README's example runs as written (against the test server's address)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import urllib.error
import urllib.request

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


@pytest.mark.integration
def test_readme_http_example_runs_as_written_and_decodes_the_json_in_json(triton_server):
    # The one bash block that calls the HTTP route; only the address is the test server's.
    [command] = [block for block in re.findall(r"```bash\n(.*?)```", README, re.S) if "curl" in block]
    command = command.replace("http://127.0.0.1:8000", triton_server.http_url)
    bash = ["bash", "-o", "pipefail", "-c", command]
    done = subprocess.run(bash, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sentences = json.loads(done.stdout)  # jq printed one array: the first text's sentences
    assert [s["text"] for s in sentences] == ["HER2 expression was high.", "PSA was 4.1 ng/mL."]
    assert all(s["label"] in {"0", "1"} and 0.0 <= s["score"] <= 1.0 for s in sentences)


@pytest.mark.integration
def test_readme_http_refusal_is_the_grpc_message_with_status_400(triton_server):
    body = {
        "inputs": [{"name": "TEXT", "shape": [1], "datatype": "BYTES", "data": ["A note."]}],
        "parameters": {"mode": "bogus"},
    }
    request = urllib.request.Request(
        f"{triton_server.http_url}/v2/models/treatment_changes/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    message = json.loads(refused.value.read())["error"]
    assert "mode='bogus' is not offered by this model; choose one of" in message
