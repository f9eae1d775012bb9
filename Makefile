# Every target bootstraps what it needs from this repository's own files:
# .venv (development and tests, requirements/dev.txt + the package, editable)
# and .venv-gen (the pinned code generators, requirements/generate.txt).

PYTHON ?= python3
VENV := .venv
GEN_VENV := .venv-gen
PY := $(VENV)/bin/python
BUF := $(VENV)/bin/buf
HOST ?= 127.0.0.1
PORT ?= 50051

.DEFAULT_GOAL := help
.PHONY: help serve test generate check-generated docs check-docs check-conformance-docs lint breaking wheel compat pytest bench clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -e '.[server]'
	touch $@

$(GEN_VENV)/.stamp: requirements/generate.txt
	$(PYTHON) -m venv $(GEN_VENV)
	$(GEN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/generate.txt
	touch $@

serve: $(VENV)/.stamp ## Run the reference server with demo data on $(HOST):$(PORT).
	$(VENV)/bin/ocpp-broker-protos serve --demo --host $(HOST) --port $(PORT)

generate: $(GEN_VENV)/.stamp ## Regenerate the committed bindings and descriptor set from proto/.
	$(GEN_VENV)/bin/python scripts/generate.py

check-generated: $(GEN_VENV)/.stamp ## Fail when the committed generated code is not what proto/ generates.
	$(GEN_VENV)/bin/python scripts/generate.py --check

docs: $(VENV)/.stamp ## Regenerate docs/api.md (.proto comments) and docs/conformance.md (case registry).
	$(PY) scripts/gen_api_docs.py
	$(PY) scripts/gen_conformance_docs.py

check-docs: $(VENV)/.stamp ## Fail when docs/api.md is not what the .proto comments give.
	$(PY) scripts/gen_api_docs.py --check

check-conformance-docs: $(VENV)/.stamp ## Fail when docs/conformance.md is not what the case registry gives.
	$(PY) scripts/gen_conformance_docs.py --check

lint: $(VENV)/.stamp ## buf lint, buf format check, ruff (lint + format), mypy --strict.
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict ocpp_broker_protos scripts tests examples benchmarks

breaking: $(VENV)/.stamp ## Compare proto/ with the released baseline image.
	$(BUF) breaking --against baseline/released.binpb
	@echo "no breaking change against baseline/released.binpb"

wheel: $(VENV)/.stamp ## Build the wheel into dist/ and check its contents.
	rm -rf dist
	$(PY) -m build --wheel --outdir dist . >/dev/null
	$(VENV)/bin/check-wheel-contents dist
	@ls dist

pytest: $(VENV)/.stamp ## The test suite in the development environment.
	$(PY) -m pytest

compat: wheel ## The suite against the built wheel at the lowest and the newest declared runtimes.
	$(PY) scripts/compat.py dist/*.whl

test: lint check-generated check-docs check-conformance-docs breaking pytest compat ## Everything that proves the package.
	@echo "make test: all checks passed"

bench: $(VENV)/.stamp $(GEN_VENV)/.stamp ## Benchmarks against same-run baselines; writes benchmarks/results/latest.json.
	$(PY) benchmarks/run.py

clean: ## Remove environments and build output.
	rm -rf $(VENV) $(GEN_VENV) build dist
