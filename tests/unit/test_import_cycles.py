"""No import cycles among the measurement code's modules (benchmarks/, reliability/, load_tests/, tools/).

Imports are read from the source (``ast``), those inside functions included: a deferred import
hides a cycle from Python but still ties the two modules to each other (issue 19 found
``benchmarks.run``, ``report`` and ``plots`` importing each other that way).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("benchmarks", "reliability", "load_tests", "tools")


def local_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every Python file under ``packages`` of ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules`` (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that module ``name`` imports anywhere in its source."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import module` imports that module; `from module import name`, the module.
            targets += [f"{base}.{alias.name}" for alias in node.names]
    found = {_known(target, modules) for target in targets}
    return {module for module in found if module is not None and module != name}


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the local modules it imports."""
    modules = local_modules(root, packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or ``None`` when there is none."""
    on_path, done = set(), set()
    for start in sorted(graph):
        if start in done:
            continue
        # Depth-first with an explicit stack of each module's imports still to follow.
        path, stack = [start], [iter(sorted(graph[start]))]
        on_path.add(start)
        while stack:
            following = next(stack[-1], None)
            if following is None:
                on_path.discard(path[-1])
                done.add(path.pop())
                stack.pop()
            elif following in on_path:
                return [*path[path.index(following) :], following]
            elif following not in done and following in graph:
                path.append(following)
                on_path.add(following)
                stack.append(iter(sorted(graph[following])))
    return None


def test_measurement_modules_import_no_cycle():
    graph = import_graph(ROOT, PACKAGES)
    assert "benchmarks.report" in graph and "tools.core_sharing_cost" in graph  # the walk saw them
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_the_report_reads_results_without_importing_the_runner():
    graph = import_graph(ROOT, PACKAGES)
    assert "benchmarks.results" in graph["benchmarks.plots"]
    assert "benchmarks.run" not in graph["benchmarks.report"]


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    package = tmp_path / "lab"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from lab.b import helper\n")
    (package / "b.py").write_text("def helper():\n    from . import c\n")
    (package / "c.py").write_text("import lab.a\n")
    (package / "d.py").write_text("from lab import a\n")  # imports into the cycle, is not in it
    graph = import_graph(tmp_path, ("lab",))
    assert graph["lab.d"] == {"lab.a"}
    assert find_cycle(graph) == ["lab.a", "lab.b", "lab.c", "lab.a"]


def test_no_cycle_is_reported_for_a_chain(tmp_path):
    package = tmp_path / "lab"
    package.mkdir()
    (package / "a.py").write_text("from lab import b\n")
    (package / "b.py").write_text("import lab.c as c\n")
    (package / "c.py").write_text("import json\n")
    assert find_cycle(import_graph(tmp_path, ("lab",))) is None
