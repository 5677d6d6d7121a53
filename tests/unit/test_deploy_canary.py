"""deploy/k8s/canary renders one more Deployment: the stable pod spec with the new image.

Rendered with ``kubectl kustomize`` in a copy of deploy/k8s (test registry settings in the
overlays, a test ``canary.env``), validated strictly like the overlays, and compared with the
stable overlay it is applied beside: the same Services, NetworkPolicy and PodDisruptionBudget
must take its pods in, its own selector must not take the stable pods, and only the image may
differ (docs/deploy.md, "Canary of new weights").
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_deploy_manifests import (
    K8S,
    KUBERNETES_VERSIONS,
    PROJECT_ROOT,
    TEST_PULL_SECRET,
    TEST_REGISTRY,
    copy_k8s,
    kustomize,
    one,
    selects,
    validate_strictly,
)

CANARY_IMAGE = f"{TEST_REGISTRY}/clinserve-triton:0.2.0-gpu"
STABLE_OVERLAY = "gpu"  # the canary's `resources` (deploy/k8s/canary/kustomization.yaml)


def documents(directory: Path) -> list[dict[str, Any]]:
    result = kustomize(directory)
    assert result.returncode == 0, f"kubectl kustomize {directory.name} failed:\n{result.stderr}"
    assert result.stderr.strip() == "", result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = f"REGISTRY={TEST_REGISTRY}\nIMAGE_PULL_SECRET={TEST_PULL_SECRET}\n"
    tree = copy_k8s(tmp_path_factory.mktemp("canary"), settings=settings)
    (tree / "canary" / "canary.env").write_text(f"CANARY_IMAGE={CANARY_IMAGE}\n", encoding="utf-8")
    return tree


@pytest.fixture(scope="module")
def rendered(tree: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(canary documents, stable overlay documents)``."""
    return documents(tree / "canary"), documents(tree / "overlays" / STABLE_OVERLAY)


def pod_template(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_canary_is_one_deployment_that_validates_strictly(rendered, version):
    canary, stable = rendered
    assert [(d["kind"], d["metadata"]["name"]) for d in canary] == [("Deployment", "clinserve-triton-canary")]
    (deployment,) = canary
    validate_strictly(deployment, version)
    assert deployment["metadata"]["namespace"] == one(stable, "Deployment")["metadata"]["namespace"]
    assert deployment["spec"]["replicas"] == 1  # no autoscaler owns it
    assert not [
        d
        for d in stable
        if d["kind"] == "HorizontalPodAutoscaler"
        and d["spec"]["scaleTargetRef"]["name"] == "clinserve-triton-canary"
    ]


def test_the_canary_runs_the_stable_pod_spec_with_only_the_new_image(rendered):
    canary, stable = rendered
    canary_pod = pod_template(one(canary, "Deployment"))
    stable_pod = pod_template(one(stable, "Deployment"))
    (container,) = [c for c in canary_pod["spec"]["containers"] if c["name"] == "triton"]
    assert container["image"] == CANARY_IMAGE
    container["image"] = next(c["image"] for c in stable_pod["spec"]["containers"] if c["name"] == "triton")
    assert canary_pod["spec"] == stable_pod["spec"]
    # It uses the stable release's ServiceAccount, admin-key Secret and pull secret.
    accounts = [d["metadata"]["name"] for d in stable if d["kind"] == "ServiceAccount"]
    assert canary_pod["spec"]["serviceAccountName"] in accounts


def test_the_stable_services_take_in_the_canary_pods_but_not_the_reverse(rendered):
    canary, stable = rendered
    canary_deployment, stable_deployment = one(canary, "Deployment"), one(stable, "Deployment")
    canary_labels = pod_template(canary_deployment)["metadata"]["labels"]
    assert canary_labels["clinserve.io/track"] == "canary"
    for service in [d for d in stable if d["kind"] == "Service"]:
        assert selects(service["spec"]["selector"], canary_labels), service["metadata"]["name"]
    policy = one(stable, "NetworkPolicy")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], canary_labels)
    assert selects(one(stable, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], canary_labels)
    # The canary's ReplicaSets never select the stable pods.
    stable_labels = pod_template(stable_deployment)["metadata"]["labels"]
    assert not selects(canary_deployment["spec"]["selector"]["matchLabels"], stable_labels)


def test_the_canary_is_refused_until_its_image_is_set(tmp_path):
    settings = f"REGISTRY={TEST_REGISTRY}\nIMAGE_PULL_SECRET={TEST_PULL_SECRET}\n"
    missing = copy_k8s(tmp_path / "missing", settings=settings)
    result = kustomize(missing / "canary")
    assert result.returncode != 0 and "canary.env" in result.stderr, result.stderr
    unchanged = copy_k8s(tmp_path / "unchanged", settings=settings)
    example = (K8S / "canary" / "canary.env.example").read_text(encoding="utf-8")
    (unchanged / "canary" / "canary.env").write_text(example, encoding="utf-8")
    result = kustomize(unchanged / "canary")
    assert result.returncode != 0 and "data.CANARY_IMAGE" in result.stderr, result.stderr
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(K8S / "canary" / "canary.env")],
        cwd=PROJECT_ROOT,
        check=False,
        timeout=30,
    )
    assert ignored.returncode == 0, "canary.env holds one rollout's image: it must stay out of git"
