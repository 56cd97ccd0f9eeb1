# Orthanc Reshape: the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup run test unit integration bench lint clean

setup:
	@bash scripts/setup.sh

## Start Orthanc in the foreground with the plugin, on orthanc.json (storage under ./data).
run: setup
	mkdir -p data
	Orthanc orthanc.json

## Every test: unit tests (no server) and integration tests (real Orthanc on free ports).
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: setup
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

## Plugin vs built-in, same Orthanc, same data (BENCH_SMALL=1 for a quick smoke run).
bench: setup
	BENCH_SMALL=$(BENCH_SMALL) $(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
