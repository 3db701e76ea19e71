# Two commands from a fresh clone: `make run` and `make test`.
# Each creates .venv on first use and (re)installs when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

run: $(VENV)/.installed
	$(BIN)/gdlab run --all; status=$$?; $(BIN)/gdlab report && exit $$status

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15 --doctest-modules tests gdlab

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/sweep.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .pytest_cache
