# Everything runs from a virtual environment in .venv, made on first use.
# BASE_PYTHON only creates it; all later work uses $(PY).
BASE_PYTHON ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

HANDLER  ?= handler
PACKAGE  ?= $(HANDLER)
FUNCTION ?= handlers

BENCH_ARGS ?=

.PHONY: demo test bench bench-cold pack layer dist venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@

demo: $(STAMP)
	$(PY) -m shim.local.demo --function $(FUNCTION) --handler $(HANDLER).Handle

test: $(STAMP)
	$(PY) -m pytest -q

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
	rm -rf $(VENV) dist .bench .setuptools-build *.egg-info
