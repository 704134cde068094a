# The four commands of the project. `make run` and `make test` each install what they need.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test test-fast lint bench vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[bench]"
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

## run: install, then serve REST (+ Socket.IO) on the embedded default (SQLite, in-memory locks)
run: $(VENV)/.installed
	PRINTRELAY_ENV=$${PRINTRELAY_ENV:-development} $(BIN)/printrelay serve --host 127.0.0.1 --port $(PORT)

## test: install with test extras, then run the whole suite (Postgres/Redis tier skips if absent, unless CI=true)
test: $(VENV)/.installed-test
	$(BIN)/pytest

## test-fast: the SQLite tier only
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not postgres and not slow"

## lint: ruff (lint + format check) and mypy strict
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: the benchmark harness (issue 7): closed + open loop on SQLite and on PostgreSQL + Redis,
## idle bridges (1k/5k/10k) and reconnect (1k) on PostgreSQL + Redis, render cost, generator ceiling;
## see docs/benchmarks.md
BENCH_ARGS ?= --rate 200,25
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## vendor: refresh the vendored browser files (socket.io-client, swagger-ui-dist) from the npm
## registry, checking each against its SHA-256 in app/web/static/vendor/vendor.json; to move to
## the newest release of each major and record it: `python3 scripts/vendor.py --upgrade`
vendor:
	$(PYTHON) scripts/vendor.py
