# Orthanc Reshape: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup setup-test run test unit integration bench lint clean

setup:
	@bash scripts/setup.sh

## Start Orthanc in the foreground with the plugin, on orthanc.json (storage under ./data).
run: setup
	mkdir -p data
	Orthanc orthanc.json

## The test set-up also installs PostgreSQL and Orthanc's PostgreSQL index (the two-node test).
setup-test:
	@RESHAPE_POSTGRESQL=1 bash scripts/setup.sh

## Every test: the lint, unit tests (no server) and integration tests (real Orthanc on free ports).
test: setup-test
	$(VENV)/bin/ruff check --select F,E9 plugin tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: setup-test
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

## Plugin vs built-in, same Orthanc, same data (BENCH_SMALL=1 for a quick smoke run).
bench: setup
	BENCH_SMALL=$(BENCH_SMALL) $(PY) bench/run.py

## Undefined or unused names, syntax errors.
lint: setup
	$(VENV)/bin/ruff check --select F,E9 plugin tests bench

clean:
	rm -rf $(VENV) .pytest_cache
