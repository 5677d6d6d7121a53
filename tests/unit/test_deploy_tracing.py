"""deploy/k8s/components/tracing: one setting (TRACE_URL) turns Triton's OpenTelemetry traces on.

test_deploy_manifests.py renders it into every overlay with the other components and validates
every document strictly; here each overlay is rendered without and with it alone: the flags are
the local server's own (``trace_flags``), the URL comes from the overlay's image.env and nowhere
else, the pods may reach the collector, and a missing setting fails the render by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from clinserve_runtime.triton import ServerOptions, server_flags, trace_flags
from tests.unit.test_deploy_manifests import (
    DEPLOYMENT_OPTIONS,
    K8S,
    OVERLAYS,
    TEST_PULL_SECRET,
    TEST_REGISTRY,
    TEST_TRACE_URL,
    add_components,
    container,
    copy_k8s,
    kustomize,
    one,
    pod_labels,
    render_tree,
    selects,
)

TRACE_URL_ENV = "CLINSERVE_TRACE_URL"
# What the Deployment runs with the component: the same options with the URL from the pod's env.
TRACED_OPTIONS = ServerOptions(
    **{**DEPLOYMENT_OPTIONS.__dict__, "trace_url": f"$({TRACE_URL_ENV})"},
)


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[dict[str, Any]]]:
    """``render(overlay, components=False)``: the overlay without or with the tracing component."""
    settings = f"REGISTRY={TEST_REGISTRY}\nIMAGE_PULL_SECRET={TEST_PULL_SECRET}\nTRACE_URL={TEST_TRACE_URL}\n"
    plain = copy_k8s(tmp_path_factory.mktemp("plain"), settings=settings)
    traced = copy_k8s(tmp_path_factory.mktemp("traced"), settings=settings)
    for overlay in OVERLAYS:
        add_components(traced, overlay, ("tracing",))
    cache: dict[tuple[str, bool], list[dict[str, Any]]] = {}

    def rendered(overlay: str, components: bool = False) -> list[dict[str, Any]]:
        if (overlay, components) not in cache:
            cache[overlay, components] = render_tree(traced if components else plain, overlay)
        return cache[overlay, components]

    return rendered


def test_without_the_component_nothing_is_traced(render):
    for overlay in OVERLAYS:
        triton = container(render(overlay))
        assert not [a for a in triton["args"] if a.startswith("--trace-config")], overlay
        assert TRACE_URL_ENV not in {e["name"] for e in triton["env"]}


def test_the_component_adds_exactly_the_local_servers_trace_flags(render):
    for overlay in OVERLAYS:
        triton = container(render(overlay, components=True))
        assert triton["args"] == server_flags(TRACED_OPTIONS), f"{overlay}: args drifted from server_flags()"
        assert triton["args"][-len(trace_flags("x")) :] == trace_flags(f"$({TRACE_URL_ENV})")


def test_the_collector_url_is_the_one_setting(render):
    for overlay in OVERLAYS:
        triton = container(render(overlay, components=True))
        env = {e["name"]: e for e in triton["env"]}
        assert env[TRACE_URL_ENV]["value"] == TEST_TRACE_URL
        # Kubernetes expands $(VAR) only for variables defined before the one that uses them.
        names = [e["name"] for e in triton["env"]]
        resource = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        for used in re.findall(r"\$\((\w+)\)", resource):
            assert names.index(used) < names.index("OTEL_RESOURCE_ATTRIBUTES"), used
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_pods_may_reach_the_collectors_port(render):
    for overlay in OVERLAYS:
        docs = render(overlay, components=True)
        policy = one(docs, "NetworkPolicy", "clinserve-triton-traces")["spec"]
        assert selects(policy["podSelector"]["matchLabels"], pod_labels(docs))
        assert policy["policyTypes"] == ["Egress"]
        opened = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
        assert opened == {urlsplit(TEST_TRACE_URL).port}


def test_render_is_refused_without_the_trace_url(tmp_path: Path):
    settings = f"REGISTRY={TEST_REGISTRY}\nIMAGE_PULL_SECRET={TEST_PULL_SECRET}\n"
    tree = copy_k8s(tmp_path, settings=settings)
    for overlay in OVERLAYS:
        add_components(tree, overlay, ("tracing",))
        result = kustomize(tree / "overlays" / overlay)
        assert result.returncode != 0, overlay
        assert "data.TRACE_URL" in result.stderr, result.stderr


def test_the_patch_appends_to_the_triton_container():
    # The JSON patch addresses containers/0: the base must keep Triton first.
    base = (K8S / "base" / "deployment.yaml").read_text(encoding="utf-8")
    first = re.search(r"^\s+containers:\n\s+- name: (\S+)", base, flags=re.MULTILINE)
    assert first is not None and first.group(1) == "triton"
