# Two commands set everything up on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean graphviz

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "asyncdag needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python examples/word_count.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check asyncdag tests examples benchmarks
	$(BIN)/ruff format --check asyncdag tests examples benchmarks
	$(BIN)/mypy

# The picture tests render with Graphviz's `dot` (Debian package graphviz).
graphviz:
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update && apt-get install -y graphviz; } \
		|| echo "Graphviz's dot is missing and could not be installed (apt-get needs root: run" \
			"'sudo apt-get install graphviz'); the picture tests will be skipped."

test: lint graphviz
	$(BIN)/pytest

# BENCH_ARGS=--quick for a run under a minute; results go to benchmarks/results/.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
