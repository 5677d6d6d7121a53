"""The client documentation's examples run as written, from any folder, against a real server.

Every ``python`` and ``bash`` block of the pages below runs in a fresh process whose working
folder is a new temporary one (nothing relative to the repository resolves), with the test
server's address put where the examples say ``127.0.0.1:8001`` and the environment a user of
``make serve`` would have: the tools on ``PATH`` and the admin key in ``CLINSERVE_ADMIN_KEY``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

PAGES = ("docs/client.md", "docs/long-documents.md")
DOCUMENTED_URL = "127.0.0.1:8001"


def examples() -> list[tuple[str, int, str, str]]:
    found = []
    for page in PAGES:
        text = (PROJECT_ROOT / page).read_text(encoding="utf-8")
        for number, (language, code) in enumerate(re.findall(r"```(python|bash)\n(.*?)```", text, re.S)):
            found.append((page, number, language, code))
    return found


def test_the_pages_have_examples_to_run():
    languages = [language for _, _, language, _ in examples()]
    assert languages.count("python") >= 8 and languages.count("bash") >= 1


@pytest.mark.parametrize(
    ("page", "number", "language", "code"),
    examples(),
    ids=[f"{page}-{number}-{language}" for page, number, language, _ in examples()],
)
def test_an_example_runs_as_written_from_another_folder(
    triton_server, tmp_path, page, number, language, code
):
    code = code.replace(DOCUMENTED_URL, triton_server.grpc_url)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CLINSERVE_URL": triton_server.grpc_url,
        "CLINSERVE_ADMIN_KEY": triton_server.admin_key,
    }
    command = (
        [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]
    )
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{page} example {number} failed:\n{done.stderr[-3000:]}"
