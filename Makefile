# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a step of theirs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest demo bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check lotusx tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict lotusx examples

pytest: $(STAMP)
	$(BIN)/pytest --cov=lotusx --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(if $(PROFILE),--profile $(PROFILE),) $(if $(IDLE),--idle,)

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache .pytest_cache
