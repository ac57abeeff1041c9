# The two commands: `make run` (try it) and `make test` (everything CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

# The PostgreSQL pass: the tests that use the service's database (the agent's and the served
# hybrid tests run their own processes on SQLite).
DATABASE_TESTS := tests/unit tests/integration

.PHONY: run run-hybrid test lint typecheck unit postgres e2e messages clean

run: $(INSTALLED)
	$(BIN)/sspr demo --host 127.0.0.1 --port 8000

# The demo with a local OpenLDAP (tenant fabrikam) and an enrolled sspr-agent; needs slapd.
run-hybrid: $(INSTALLED)
	$(BIN)/sspr demo --hybrid --host 127.0.0.1 --port 8000

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

test: $(TEST_INSTALLED)
	scripts/ensure-system-packages
	$(MAKE) lint typecheck
	$(BIN)/pytest -q
	scripts/with-postgres $(BIN)/pytest -q -m "not e2e" $(DATABASE_TESTS)

lint: $(TEST_INSTALLED)
	$(BIN)/ruff check src tests scripts

typecheck: $(TEST_INSTALLED)
	$(BIN)/mypy

unit: $(TEST_INSTALLED)
	$(BIN)/pytest -q -m "not e2e"

postgres: $(TEST_INSTALLED)
	scripts/with-postgres $(BIN)/pytest -q -m "not e2e" $(DATABASE_TESTS)

e2e: $(TEST_INSTALLED)
	$(BIN)/pytest -q -m e2e

# After changing user-facing text: new messages into src/sspr/locale/*/django.po, then compiled
# (translate the empty msgstr entries, then `make messages` again; commit the .po and .mo files).
messages: $(TEST_INSTALLED)
	$(BIN)/python scripts/messages update

clean:
	rm -rf $(VENV) var build src/*.egg-info
