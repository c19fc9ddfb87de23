# Two entry points that work on a fresh machine with only Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.edge-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[edge]"
	touch $@

$(VENV)/.all-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[train,edge,serve,dev]"
	touch $@ $(VENV)/.edge-installed

## demo: classify sample garment photos and benchmark the bundled int8 model (no TensorFlow)
demo: $(VENV)/.edge-installed
	$(BIN)/edgeclf classify examples/ --expect-dirs
	$(BIN)/edgeclf bench --limit 2000

## test: lint and run the whole test suite
test: $(VENV)/.all-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lint: $(VENV)/.all-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build *.egg-info
