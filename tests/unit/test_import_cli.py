"""`clinserve import` (client CLI plugin) and `clinserve-import` are one command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120, check=False
    )


def test_clinserve_import_shows_the_importer_options():
    result = run("clinserve", "import", "--help")
    assert result.returncode == 0, result.stderr
    assert "--model" in result.stdout and "--profile" in result.stdout


def test_clinserve_import_passes_arguments_through_and_reports_failures(tmp_path):
    missing = tmp_path / "no-such-model"
    via_client = run(
        "clinserve", "import", str(missing), "--model", "biomarker", "--repository", str(tmp_path)
    )
    direct = run("clinserve-import", str(missing), "--model", "biomarker", "--repository", str(tmp_path))
    assert via_client.returncode == direct.returncode == 2
    assert "is not a folder" in via_client.stderr and "is not a folder" in direct.stderr
    assert not any(tmp_path.iterdir()), "nothing written on a failed import"
