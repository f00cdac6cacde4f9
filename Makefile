# Taskyard: `make run` starts the whole stack, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m deploy.devstack

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# `make bench` runs every benchmark, `make bench tools workflows` the ones named.
BENCHES := $(filter-out bench,$(MAKECMDGOALS))

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m bench $(BENCHES)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy engine activities connectors api store deploy settings.py worker.py server.py

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Benchmark names after `make bench` are arguments, not targets.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
$(BENCHES):
	@:
endif

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
