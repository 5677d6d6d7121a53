"""lab/ sits below everything that measures and beside the serving path, never inside it.

The benchmark, the reliability scenarios and the load tests import ``lab``; ``lab`` imports only
the standard library (so none of them can close a cycle through it), and no serving package
imports ``lab`` or any measurement package.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEASUREMENT = {"lab", "benchmarks", "reliability", "load_tests", "tools"}
SERVING = [
    "preprocess/clinserve_preprocess",
    "ensemble/clinserve_ensemble",
    "runtime/clinserve_runtime",
    "client/src/clinserve",
]


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "lab").glob("*.py")), ids=lambda p: p.name)
def test_lab_imports_only_the_standard_library(path):
    outside = {name for name in imported_top_levels(path) if name not in sys.stdlib_module_names}
    assert outside <= {"__future__"}, f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("package", SERVING)
def test_no_serving_package_imports_measurement_code(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & MEASUREMENT)
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
