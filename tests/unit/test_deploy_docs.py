"""docs/deploy.md and docs/long-documents.md quote what the config generator and manifests write.

The gpu profile's table and example config are generated (``python -m
clinserve_runtime.gpu_table``) and must match byte for byte; the other figures the prose
quotes (per-model sequence limits, the cpu limit, the startup budget) are checked one by one.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from clinserve_runtime.configs import ServingSettings, onnx_max_batch_size
from clinserve_runtime.gpu_table import GPU_SETTINGS, deploy_doc_section

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = (PROJECT_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
LONG_DOCUMENTS_DOC = (PROJECT_ROOT / "docs" / "long-documents.md").read_text(encoding="utf-8")
K8S = PROJECT_ROOT / "deploy" / "k8s"


def marked(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*)\n<!-- {name}:end -->", text, flags=re.DOTALL)
    assert match is not None, f"no {name} block"
    return match.group(1)


def test_the_gpu_profile_block_is_what_the_generator_writes():
    assert marked(DEPLOY_DOC, "gpu-profile") == deploy_doc_section(), (
        "docs/deploy.md is stale: paste the output of `python -m clinserve_runtime.gpu_table`"
    )


def test_quoted_sequence_limits_are_the_gpu_batch_limits(catalog):
    limits = {name: onnx_max_batch_size(spec, GPU_SETTINGS) for name, spec in catalog.items()}
    short = {limits[n] for n, spec in catalog.items() if spec.max_tokens == 128}
    assert len(short) == 1
    sentence = (
        f"{short.pop()} for the 128-token models, {limits['pubmed_multilabel']} for `pubmed_multilabel`,"
        f" {limits['biomarker']} for `biomarker`"
    )
    for doc in (DEPLOY_DOC, LONG_DOCUMENTS_DOC):
        assert sentence in " ".join(doc.split()), sentence
    assert f"cpu profile's {ServingSettings().max_batch_size:,}" in DEPLOY_DOC
    assert f"{GPU_SETTINGS.token_budget():,} / the model's max tokens" in LONG_DOCUMENTS_DOC
    assert f"more than {limits['biomarker']} sentences" in " ".join(LONG_DOCUMENTS_DOC.split())


def probe_minutes(*patches: Path) -> int:
    probe: dict[str, int] = {}
    for path in (K8S / "base" / "deployment.yaml", *patches):
        (container,) = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]["template"]["spec"][
            "containers"
        ]
        probe |= container.get("startupProbe", {})
    return probe["failureThreshold"] * probe["periodSeconds"] // 60


def test_quoted_startup_budgets_are_the_manifests():
    gpu = probe_minutes(K8S / "overlays" / "gpu" / "deployment-gpu.yaml")
    cpu = probe_minutes(K8S / "overlays" / "cpu" / "deployment-cpu.yaml")
    text = " ".join(DEPLOY_DOC.split())
    assert f"allows {cpu} minutes (cpu) or {gpu} minutes (gpu" in text
    assert f"startup probe allows {gpu} minutes" in text


def test_quoted_cpu_limit_is_the_images_default():
    dockerfile = (PROJECT_ROOT / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    (default,) = re.findall(r"^ARG CPU_LIMIT=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert f"| `CPU_LIMIT` | `{default}` |" in DEPLOY_DOC
    assert f"(`CPU_LIMIT`, {default})" in DEPLOY_DOC
