# Everything runs from a virtual environment in .venv, made on first use.
# BASE_PYTHON only creates it; all later work uses $(PY).
BASE_PYTHON ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

HANDLER  ?= handler
PACKAGE  ?= $(HANDLER)
FUNCTION ?= handlers

.PHONY: demo test bench pack venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@

demo: $(STAMP)
	$(PY) -m shim.demo --function $(FUNCTION) --handler $(HANDLER).Handle

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) dist .bench
