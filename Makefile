# Every target bootstraps what it needs from this repository's own files:
# .venv (development and tests: requirements/dev.txt, then the package,
# editable) and .venv-gen (the pinned code generators, requirements/generate.txt).
# The requirements/*.txt files are locks: every package, direct or transitive,
# pinned with its hashes and compiled from requirements/*.in by `make lock`.

PYTHON ?= python3
VENV := .venv
GEN_VENV := .venv-gen
PY := $(VENV)/bin/python
BUF := $(VENV)/bin/buf
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 50051

.DEFAULT_GOAL := help
.PHONY: help serve test generate check-generated docs check-docs check-conformance-docs lint breaking dist compat pytest bench lock lock-upgrade clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# The package goes in editable and without dependencies or build isolation:
# everything it needs, the build backend included, comes from the lock.
$(VENV)/.stamp: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) $(PIP_INSTALL) --require-hashes -r requirements/dev.txt
	$(PY) $(PIP_INSTALL) --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

$(GEN_VENV)/.stamp: requirements/generate.txt
	$(PYTHON) -m venv --clear $(GEN_VENV)
	$(GEN_VENV)/bin/python $(PIP_INSTALL) --require-hashes -r requirements/generate.txt
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

dist: $(VENV)/.stamp ## Build the wheel and the sdist into dist/ (locked backend, no isolation) and check the wheel.
	rm -rf dist
	$(PY) -m build --no-isolation --sdist --wheel --outdir dist . >/dev/null
	$(VENV)/bin/check-wheel-contents dist
	@ls dist

# -n auto: one pytest-xdist worker per core; --dist loadfile keeps a file on
# one worker, so its module fixtures (fleets of 150,000 stations) are built once.
PYTEST_PARALLEL := -n auto --dist loadfile

pytest: $(VENV)/.stamp ## The test suite in the development environment, spread over the cores.
	$(PY) -m pytest $(PYTEST_PARALLEL)

compat: dist ## The installed wheel at the floor and newest locks on every classified Python, and the sdist's own suite.
	$(PY) scripts/compat.py --wheel dist/*.whl --sdist dist/*.tar.gz

test: lint check-generated check-docs check-conformance-docs breaking pytest compat ## Everything that proves the package.
	@echo "make test: all checks passed"

bench: $(VENV)/.stamp $(GEN_VENV)/.stamp ## Benchmarks against same-run baselines; writes benchmarks/results/latest.json.
	$(PY) benchmarks/run.py

lock: $(VENV)/.stamp ## Compile requirements/*.in into the hashed locks, keeping current pins (after editing a .in or pyproject.toml).
	$(PY) scripts/lock.py

lock-upgrade: $(VENV)/.stamp ## Refresh every lock to the newest releases (then run make test and commit).
	$(PY) scripts/lock.py --upgrade

clean: ## Remove environments and build output.
	rm -rf $(VENV) $(GEN_VENV) build dist
