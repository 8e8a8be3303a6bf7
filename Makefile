# Quick start: `make demo` runs a bot on the simulated venue; `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mmbot demo

lint: $(STAMP)
	$(VENV)/bin/ruff check agent controlplane ui mmbot tests benchmarks
	$(VENV)/bin/ruff format --check agent controlplane ui mmbot tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(PY) -m benchmarks.engine
	$(PY) -m benchmarks.stream

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
