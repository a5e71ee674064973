# Everything runs from a virtual environment in .venv, made on first use.
# BASE_PYTHON only creates it; all later work uses $(PY).
BASE_PYTHON ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

HANDLER  ?= handler
PACKAGE  ?= $(HANDLER)
FUNCTION ?= shim/local/templates/handlers

BENCH_ARGS ?=
# pytest-xdist workers for `make test`: a test spends about half its time waiting (on its runtime subprocesses,
# their timers, a server's poll), so three workers a core (2 here) keep both busy; a worker costs about 3.5 s of
# CPU to start and collect. --dist loadfile: a file's tests run in one worker, so a module-scoped fixture is
# built once (loadgroup cannot group with pytest 9 and xdist 3.8); in collection order, where
# tests/conftest.py puts the files with slow tests first, then the longest ones.
TEST_WORKERS ?= 6

.PHONY: demo test test-slow test-all lint bench bench-cold pack layer dist venv clean docs sam-tools cdk-tools

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@

demo: $(STAMP)
	$(PY) -m shim.local.demo --function $(FUNCTION) --handler $(HANDLER).Handle

# `make test`: the suite but its slow tier, the developer's loop (at most 90 s on 2 cores). `make test-slow`:
# the tests marked slow (real package installs and builds, sam build, cdk synth, whole durable executions,
# every example of the docs). `make test-all`: both, as CI runs them.
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(PYTEST) -m "not slow"

test-slow: $(STAMP)
	$(PYTEST) -m slow

test-all: test test-slow

# ruff (its rules, and the format: `ruff format .` applies it) and mypy, from the `lint` extra; all three
# report, any one fails it.
lint: $(VENV)/.lint-installed
	$(PY) -m ruff check .; check=$$?; $(PY) -m ruff format --check .; format=$$?; $(PY) -m mypy; \
	test $$check -eq 0 -a $$format -eq 0 -a $$? -eq 0

$(VENV)/.lint-installed: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,lint]' --config-settings editable_mode=compat
	touch $@

# The documentation site, into site/; --strict: a broken link or a page missing from the nav fails.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[docs]' --config-settings editable_mode=compat
	touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# lambda-shim against awslambdaric, in one run; rewrites README's Performance section.
bench: $(STAMP)
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# Only the like-with-like cold start rows (instructions, wall, the dev .venv, the ecosystem functions).
bench-cold: $(STAMP)
	$(PY) benchmarks/bench.py --cold-only $(BENCH_ARGS)

# The deployable zip: dist/$(PACKAGE).zip, handler $(HANDLER).Handle, from $(FUNCTION)/.
pack: $(STAMP)
	$(PY) -m shim.cli pack $(FUNCTION) --handler $(HANDLER).Handle --output dist/$(PACKAGE).zip

# The runtime layer: dist/shim-layer.zip, for functions packed with `shim pack --no-runtime`.
layer: $(STAMP)
	$(PY) -m shim.cli pack --layer --output dist/shim-layer.zip

# The package as published: the sdist and the wheel in dist/ (setuptools' own output goes to .setuptools-build/).
dist: $(STAMP)
	$(PY) -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) dist .bench .setuptools-build *.egg-info site

# aws-sam-cli and cfn-lint for tests/deploy/test_sam.py, in a cached venv of their own (heavy; not in .venv).
SAM_TOOLS ?= $(HOME)/.cache/lambda-shim-deploy/sam
sam-tools:
	test -x $(SAM_TOOLS)/bin/python || $(BASE_PYTHON) -m venv $(SAM_TOOLS)
	$(SAM_TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli cfn-lint

# node's aws-cdk CLI and aws-cdk-lib for tests/deploy/test_cdk.py (about 220 MB, from npm).
CDK_TOOLS ?= $(HOME)/.cache/lambda-shim-deploy/cdk
cdk-tools:
	mkdir -p $(CDK_TOOLS) && cd $(CDK_TOOLS) && (test -f package.json || npm init -y >/dev/null) \
	  && npm install --no-audit --no-fund aws-cdk-lib constructs aws-cdk
