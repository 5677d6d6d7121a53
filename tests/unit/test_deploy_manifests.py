"""deploy/k8s renders, validates strictly, and agrees with the local server's own settings.

Every overlay is rendered with ``kubectl kustomize`` (in a copy of deploy/k8s whose overlays
carry a test ``image.env``: without one kustomize refuses to render) and each document is
validated with kubernetes-validate in strict mode (unknown fields rejected) against the oldest
Kubernetes version we support and the newest its schemas know; a missing schema is a failure,
not a warning. The optional components are rendered into the overlays too; the PodMonitor (a
Prometheus Operator custom resource) is checked against the strict schema shipped in
deploy/k8s/schemas. The container's flags, ports and probe paths must be the ones
``clinserve_runtime.triton`` uses for the local server: one source of truth.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from clinserve_runtime.configs import ServingSettings
from clinserve_runtime.serve import ADMIN_KEY_ENV
from clinserve_runtime.triton import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_METRICS_PORT,
    HEALTH_LIVE_PATH,
    HEALTH_READY_PATH,
    ServerOptions,
    TritonRuntimeError,
    server_environment,
    server_flags,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
K8S = PROJECT_ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
COMPONENTS = K8S / "components"
ADAPTER_RULES = COMPONENTS / "monitoring" / "prometheus-adapter-rules.yaml"
# The registry settings the tests render with (deploy/k8s/overlays/*/image.env.example).
TEST_REGISTRY = "registry.test.invalid/clinical"
TEST_PULL_SECRET = "clinserve-registry-test"
# The collector the tracing component is rendered with (tests/unit/test_deploy_tracing.py).
TEST_TRACE_URL = "http://otel-collector.observability.svc:4318/v1/traces"
# Optional components each overlay is also rendered with.
OVERLAY_COMPONENTS = {
    "gpu": ("monitoring", "observability", "gpu-feature-discovery", "tracing"),
    "cpu": ("monitoring", "observability", "tracing"),
}
# Oldest Kubernetes the manifests support, and the newest kubernetes-validate has schemas for.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
# Custom resources: validated against the strict schemas shipped with the manifests.
CUSTOM_SCHEMAS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): K8S / "schemas" / "podmonitor-monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): K8S
    / "schemas"
    / "prometheusrule-monitoring.coreos.com-v1.json",
}
# What the Deployment runs: the deployment's settings given to the local server's flag builder.
MODEL_REPOSITORY = Path("/models")
DEPLOYMENT_OPTIONS = ServerOptions(
    model_repository=MODEL_REPOSITORY,
    host="0.0.0.0",  # the pod's own interfaces; the NetworkPolicy limits who connects
    admin_key=f"$({ADMIN_KEY_ENV})",
)
NGC_ENTRYPOINT = ["/opt/nvidia/nvidia_entrypoint.sh", "tritonserver"]


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed: run `make tools` (Debian package kubectl)")
    return path


def copy_k8s(destination: Path, *, settings: str | None) -> Path:
    """deploy/k8s copied to ``destination``, each overlay's image.env holding ``settings``."""
    tree = destination / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("image.env"))
    if settings is not None:
        for overlay in OVERLAYS:
            (tree / "overlays" / overlay / "image.env").write_text(settings, encoding="utf-8")
    return tree


def add_components(tree: Path, overlay: str, components: tuple[str, ...]) -> None:
    """Turn optional components on in an overlay, as docs/deploy.md tells a user to."""
    kustomization = tree / "overlays" / overlay / "kustomization.yaml"
    listed = "".join(f"  - ../../components/{name}\n" for name in components)
    kustomization.write_text(
        kustomization.read_text(encoding="utf-8") + f"components:\n{listed}", encoding="utf-8"
    )


def kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def k8s_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Copies of deploy/k8s with test registry settings: without (False) and with (True) components."""
    settings = f"REGISTRY={TEST_REGISTRY}\nIMAGE_PULL_SECRET={TEST_PULL_SECRET}\nTRACE_URL={TEST_TRACE_URL}\n"
    plain = copy_k8s(tmp_path_factory.mktemp("plain"), settings=settings)
    full = copy_k8s(tmp_path_factory.mktemp("components"), settings=settings)
    for overlay, components in OVERLAY_COMPONENTS.items():
        add_components(full, overlay, components)
    return {False: plain, True: full}


def render_tree(tree: Path, overlay: str) -> list[dict[str, Any]]:
    result = kustomize(tree / "overlays" / overlay)
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    assert result.stderr.strip() == "", f"kubectl kustomize {overlay} warned:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def render(k8s_trees: dict[bool, Path]) -> Callable[..., list[dict[str, Any]]]:
    """``render(overlay, components=False)``: the overlay's documents, rendered once."""
    cache: dict[tuple[str, bool], list[dict[str, Any]]] = {}

    def rendered(overlay: str, components: bool = False) -> list[dict[str, Any]]:
        if (overlay, components) not in cache:
            cache[overlay, components] = render_tree(k8s_trees[components], overlay)
        return copy.deepcopy(cache[overlay, components])

    return rendered


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, render) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


@pytest.fixture(scope="module", params=[(o, c) for o in OVERLAYS for c in (False, True)], ids=str)
def rendering(request: pytest.FixtureRequest, render) -> tuple[str, bool, list[dict[str, Any]]]:
    """Every overlay, without and with its optional components."""
    overlay, components = request.param
    return overlay, components, render(overlay, components)


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    (triton,) = [c for c in containers if c["name"] == "triton"]
    return triton  # type: ignore[no-any-return]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def pod_labels(docs: list[dict[str, Any]]) -> dict[str, str]:
    return one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def flag_value(args: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} appears {len(values)} times"
    return values[0]


def validate_strictly(doc: dict[str, Any], version: str) -> None:
    key = (doc["apiVersion"], doc["kind"])
    if key in CUSTOM_SCHEMAS:
        schema = json.loads(CUSTOM_SCHEMAS[key].read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(doc)
        return
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except SchemaNotFoundError as exc:  # kubernetes-validate's warning: a failure here
        pytest.fail(f"{exc.message}; ship a schema in deploy/k8s/schemas and list it in CUSTOM_SCHEMAS")


# --- rendering and schema validation ----------------------------------------------------------


def test_both_production_and_dev_overlays_exist():
    assert {"gpu", "cpu"} <= set(OVERLAYS)


CORE_KINDS = [
    "Deployment",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "Service",
    "ServiceAccount",
]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_document_validates_strictly(rendering, version):
    name, components, docs = rendering
    kinds = sorted(d["kind"] for d in docs)
    # monitoring, observability (dashboard ConfigMap, rules), tracing (egress NetworkPolicy)
    optional = ["ConfigMap", "NetworkPolicy", "PodMonitor", "PrometheusRule"] if components else []
    assert kinds == sorted(CORE_KINDS + optional), f"{name}: {kinds}"
    for doc in docs:
        try:
            validate_strictly(doc, version)
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']} at {path}: {exc.message}")


def test_the_overlays_need_no_custom_resource_definitions(overlay):
    # `kubectl apply -k` on a plain cluster: only built-in API groups, no local-config leftovers.
    name, docs = overlay
    for doc in docs:
        group = doc["apiVersion"].rpartition("/")[0]
        assert group in {"", "apps", "autoscaling", "networking.k8s.io", "policy"}, f"{name}: {doc['kind']}"
        assert "config.kubernetes.io/local-config" not in doc["metadata"].get("annotations", {})


def test_components_are_kustomize_components():
    names = sorted(p.name for p in COMPONENTS.iterdir() if p.is_dir())
    assert names == sorted({c for cs in OVERLAY_COMPONENTS.values() for c in cs})
    for name in names:
        kustomization = yaml.safe_load((COMPONENTS / name / "kustomization.yaml").read_text(encoding="utf-8"))
        assert kustomization["kind"] == "Component", name


# --- the image's registry and pull secret -------------------------------------------------------


def test_image_comes_from_the_registry_setting_with_its_pull_secret(overlay):
    name, docs = overlay
    assert container(docs)["image"] == f"{TEST_REGISTRY}/clinserve-triton:0.1.0-{name}"
    assert pod_spec(docs)["imagePullSecrets"] == [{"name": TEST_PULL_SECRET}]
    assert not [d for d in docs if d["kind"] == "ConfigMap"], "the settings ConfigMap must not be applied"


def test_render_is_refused_until_the_registry_is_set(tmp_path):
    missing = copy_k8s(tmp_path / "missing", settings=None)
    for overlay in OVERLAYS:
        result = kustomize(missing / "overlays" / overlay)
        assert result.returncode != 0 and "image.env" in result.stderr, result.stderr
    # The example copied unchanged keeps both settings commented out: still refused, by name.
    example = (K8S / "overlays" / OVERLAYS[0] / "image.env.example").read_text(encoding="utf-8")
    assert all(line.startswith("#") for line in example.splitlines() if line.strip())
    for setting in ("REGISTRY", "IMAGE_PULL_SECRET"):
        assert re.search(rf"^# {setting}=", example, flags=re.MULTILINE), setting
    unchanged = copy_k8s(tmp_path / "unchanged", settings=example)
    for overlay in OVERLAYS:
        result = kustomize(unchanged / "overlays" / overlay)
        assert result.returncode != 0 and "data.REGISTRY" in result.stderr, result.stderr
    only_registry = copy_k8s(tmp_path / "half", settings=f"REGISTRY={TEST_REGISTRY}\n")
    result = kustomize(only_registry / "overlays" / OVERLAYS[0])
    assert result.returncode != 0 and "data.IMAGE_PULL_SECRET" in result.stderr, result.stderr


def test_every_overlay_reads_the_same_registry_settings():
    for overlay in OVERLAYS:
        folder = K8S / "overlays" / overlay
        assert (folder / "image.env.example").is_file(), overlay
        assert (folder / "image-settings.yaml").read_text(encoding="utf-8") == (
            K8S / "overlays" / OVERLAYS[0] / "image-settings.yaml"
        ).read_text(encoding="utf-8")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(K8S / "overlays" / "gpu" / "image.env")],
        cwd=PROJECT_ROOT,
        check=False,
        timeout=30,
    )
    assert ignored.returncode == 0, "image.env holds one deployment's settings: it must stay out of git"


def test_strict_validation_rejects_a_misspelt_field(render):
    docs = render("gpu", components=True)
    deployment = copy.deepcopy(one(docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(jsonschema.ValidationError, match="livenessProbes"):
        validate_strictly(deployment, KUBERNETES_VERSIONS[0])
    podmonitor = copy.deepcopy(one(docs, "PodMonitor"))
    podmonitor["spec"]["podMetricEndpoints"] = podmonitor["spec"].pop("podMetricsEndpoints")
    with pytest.raises(jsonschema.ValidationError):
        validate_strictly(podmonitor, KUBERNETES_VERSIONS[0])


def test_a_kind_without_schema_is_a_failure_not_a_warning():
    unknown = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(pytest.fail.Exception, match="Widget"):
        validate_strictly(unknown, KUBERNETES_VERSIONS[0])


# --- one source of truth with the local server ------------------------------------------------


def test_container_runs_exactly_the_local_servers_flags(overlay):
    name, docs = overlay
    triton = container(docs)
    assert triton["command"] == NGC_ENTRYPOINT
    # server_flags() without a backend directory: the image uses Triton's own backends.
    assert triton["args"] == server_flags(DEPLOYMENT_OPTIONS), f"{name}: args drifted from server_flags()"
    env = {e["name"]: e for e in triton["env"]}
    assert "value" not in env[ADMIN_KEY_ENV], "the admin key must come from a Secret"
    assert env[ADMIN_KEY_ENV]["valueFrom"]["secretKeyRef"]["key"]


def test_container_ports_are_the_servers_ports(overlay):
    _, docs = overlay
    triton = container(docs)
    ports = {p["name"]: p["containerPort"] for p in triton["ports"]}
    assert ports == {"http": DEFAULT_HTTP_PORT, "grpc": DEFAULT_GRPC_PORT, "metrics": DEFAULT_METRICS_PORT}
    for flag in ("http", "grpc", "metrics"):
        assert int(flag_value(triton["args"], f"{flag}-port")) == ports[flag]


def test_probes_use_the_servers_health_paths(overlay):
    _, docs = overlay
    triton = container(docs)
    for probe in ("startupProbe", "readinessProbe"):
        assert triton[probe]["httpGet"] == {"path": HEALTH_READY_PATH, "port": "http"}, probe
    # Liveness is an exec of the stub check (a dead stub leaves Triton's health green), which
    # also asks the live endpoint on the server's own HTTP port, with the image's Python.
    command = triton["livenessProbe"]["exec"]["command"]
    assert command == [
        f"python{image_python_version()}",
        "-m",
        "clinserve_runtime.stub_check",
        "--live-url",
        f"http://127.0.0.1:{DEFAULT_HTTP_PORT}{HEALTH_LIVE_PATH}",
    ]
    assert importlib.util.find_spec(command[2]) is not None


def image_python_version() -> str:
    dockerfile = (PROJECT_ROOT / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    (version,) = re.findall(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, flags=re.MULTILINE)
    return str(version)


def test_graceful_stop_outlasts_the_exit_timeout(overlay):
    name, docs = overlay
    triton = container(docs)
    exit_timeout = int(flag_value(triton["args"], "exit-timeout-secs"))
    pre_stop = triton["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = pod_spec(docs)["terminationGracePeriodSeconds"]
    assert grace > exit_timeout + int(pre_stop[1]), f"{name}: {grace}s grace"


THREAD_BOUNDS = ("RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM", "OMP_NUM_THREADS")


def test_python_stub_thread_bounds_are_the_local_servers(overlay, monkeypatch):
    _, docs = overlay
    for key in THREAD_BOUNDS:
        monkeypatch.delenv(key, raising=False)
    try:
        local = server_environment()
    except TritonRuntimeError:
        pytest.skip("needs the local Triton runtime (make runtime)")
    env = {e["name"]: e.get("value") for e in container(docs)["env"]}
    assert {k: env.get(k) for k in THREAD_BOUNDS} == {k: local[k] for k in THREAD_BOUNDS}


def test_secure_deployment_flags_are_present():
    args = server_flags(DEPLOYMENT_OPTIONS)
    for flag in (
        "--model-control-mode=none",
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--disable-auto-complete-config",
        "--log-verbose=0",
    ):
        assert flag in args
    assert any(a.startswith("--grpc-restricted-protocol=model-repository,") for a in args)
    assert flag_value(args, "model-repository") == str(MODEL_REPOSITORY)


# --- pod hardening ----------------------------------------------------------------------------


def test_pod_runs_unprivileged_with_a_read_only_root(overlay):
    _, docs = overlay
    spec = pod_spec(docs)
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(docs)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert spec["automountServiceAccountToken"] is False
    account = one(docs, "ServiceAccount", spec["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False


def test_shared_memory_is_memory_backed_and_every_mount_has_a_volume(overlay):
    _, docs = overlay
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
    assert set(mounts.values()) <= set(volumes)


def test_cpu_and_memory_requests_and_limits_are_set(overlay):
    _, docs = overlay
    resources = container(docs)["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind


def test_gpu_overlay_takes_one_gpu_without_depending_on_node_labels(render):
    docs = render("gpu")
    spec = pod_spec(docs)
    resources = container(docs)["resources"]
    assert str(resources["limits"]["nvidia.com/gpu"]) == "1"
    # The GPU request picks GPU nodes; a label selector is the optional component's.
    assert "nodeSelector" not in spec
    assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in spec["tolerations"])
    assert pod_spec(render("gpu", components=True))["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert container(docs)["image"].endswith("-gpu")
    # The gpu profile's TensorRT engine cache must be a writable volume (the root is read-only),
    # one per pod: replicas never write the same engine files.
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    cache_volume = mounts.get(ServingSettings().trt_cache_dir)
    assert cache_volume is not None, "no volume mounted at ServingSettings.trt_cache_dir"
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == cache_volume)


def test_cpu_image_sizes_onnx_threads_by_the_cpu_overlays_cpu_limit(render):
    # The cpu-profile image renders intra_op_thread_count from CPU_LIMIT (ServingSettings.cpu_limit).
    limit = container(render("cpu"))["resources"]["limits"]["cpu"]
    dockerfile = (PROJECT_ROOT / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    (default,) = re.findall(r"^ARG CPU_LIMIT=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert default == str(limit)
    assert '--cpu-limit "${CPU_LIMIT}"' in dockerfile


def test_cpu_overlay_asks_for_no_gpu_and_uses_the_cpu_image(render):
    docs = render("cpu")
    resources = container(docs)["resources"]
    assert not any("nvidia.com" in k for part in resources.values() for k in part)
    assert "nodeSelector" not in pod_spec(docs)
    assert container(docs)["image"].endswith("-cpu")


# --- services, budget, autoscaling, monitoring, network ----------------------------------------


def test_services_select_the_pods_and_target_named_container_ports(overlay):
    _, docs = overlay
    labels = pod_labels(docs)
    container_ports = {p["name"] for p in container(docs)["ports"]}
    services = [d for d in docs if d["kind"] == "Service"]
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    assert len(services) == 2
    assert len(headless) == 1
    assert headless[0]["spec"].get("publishNotReadyAddresses", False) is False
    assert DEFAULT_GRPC_PORT in {p["port"] for p in headless[0]["spec"]["ports"]}
    for service in services:
        assert selects(service["spec"]["selector"], labels)
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


def test_disruption_budget_and_monitor_select_the_pods(overlay, render):
    name, docs = overlay
    labels = pod_labels(docs)
    assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels)
    monitored = render(name, components=True)
    monitor = one(monitored, "PodMonitor")
    assert monitor["metadata"]["namespace"] == one(docs, "Deployment")["metadata"]["namespace"]
    assert selects(monitor["spec"]["selector"]["matchLabels"], labels)
    container_ports = {p["name"] for p in container(docs)["ports"]}
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"metrics"} <= container_ports


def test_dashboard_config_map_carries_the_dashboard_for_grafanas_sidecar(overlay, render):
    name, docs = overlay
    rendered = render(name, components=True)
    config_map = one(rendered, "ConfigMap", "clinserve-grafana-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == one(docs, "Deployment")["metadata"]["namespace"]
    shipped = (COMPONENTS / "observability" / "clinserve-dashboard.json").read_text(encoding="utf-8")
    assert json.loads(config_map["data"]["clinserve-dashboard.json"]) == json.loads(shipped)
    rule = one(rendered, "PrometheusRule")
    assert rule["metadata"]["namespace"] == config_map["metadata"]["namespace"]
    # The no-ready-replicas alert names the Deployment the overlay renders.
    deployment = one(docs, "Deployment")["metadata"]["name"]
    exprs = [
        r["expr"]
        for g in rule["spec"]["groups"]
        for r in g["rules"]
        if r.get("alert") == "ClinServeNoReadyReplicas"
    ]
    assert exprs and f'deployment="{deployment}"' in exprs[0]


def test_network_policy_covers_the_pods_and_only_their_ports(overlay):
    _, docs = overlay
    policy = one(docs, "NetworkPolicy")["spec"]
    assert selects(policy["podSelector"]["matchLabels"], pod_labels(docs))
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    opened = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert opened == {p["name"] for p in container(docs)["ports"]}


def adapter_rule() -> dict[str, Any]:
    config = yaml.safe_load(ADAPTER_RULES.read_text(encoding="utf-8"))
    schema = json.loads((K8S / "schemas" / "prometheus-adapter-rules.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(config)
    (rule,) = config["rules"]
    return rule  # type: ignore[no-any-return]


def test_autoscaler_targets_the_deployment_on_the_adapters_queue_metric(overlay):
    name, docs = overlay
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    deployment = one(docs, "Deployment")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == adapter_rule()["name"]["as"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], name


def queue_selectors(query: str) -> Iterator[tuple[str, str, str]]:
    """(metric, operator, regex) of every ``model`` matcher in a PromQL query."""
    for metric, matchers in re.findall(r"(nv_inference_\w+)\{([^}]*)\}", query):
        for operator, regex in re.findall(r'model(=~|!~)"([^"]*)"', matchers):
            yield metric, operator, regex


def test_adapter_rule_averages_queue_time_over_end_to_end_requests(catalog):
    rule = adapter_rule()
    series = re.match(r"(\w+)\{", rule["seriesQuery"])
    assert series is not None
    assert re.fullmatch(rule["name"]["matches"], series.group(1))
    query = rule["metricsQuery"]
    assert "<<.LabelMatchers>>" in query
    assert "<<.GroupBy>>" in query
    assert re.search(r"rate\(nv_inference_queue_duration_us\{[^}]*\}\[\d+m\]\)", query)
    assert re.search(r"rate\(nv_inference_request_success\{[^}]*\}\[\d+m\]\)", query)
    selectors = {metric: (operator, regex) for metric, operator, regex in queue_selectors(query)}
    # Queue time is summed over the step models; requests are counted at the ensembles.
    assert selectors["nv_inference_queue_duration_us"][0] == "=~"
    assert selectors["nv_inference_request_success"][0] == "!~"
    steps_regex = selectors["nv_inference_queue_duration_us"][1]
    assert selectors["nv_inference_request_success"][1] == steps_regex
    for spec in catalog.values():
        for step in (spec.tokenizer_model, spec.onnx_model, spec.postprocess_model):
            assert re.fullmatch(steps_regex, step), step
        assert not re.fullmatch(steps_regex, spec.name), spec.name
