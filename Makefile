# The two commands a newcomer needs: `make demo` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint typecheck bench completions docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgresql]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check per_cli commands tests bench

typecheck: install
	$(BIN)/mypy

# three workers on two cores: most tests wait on `per` subprocesses, servers and databases
test: lint typecheck
	$(BIN)/pytest -n 3 --dist worksteal

bench: install
	$(BIN)/python -m bench

completions: install
	for shell in bash zsh fish; do _PER_COMPLETE=$${shell}_source $(BIN)/per > completions/per.$$shell; done

docs: install
	$(BIN)/python -m per_cli.cli.reference > docs/cli.md.tmp
	mv docs/cli.md.tmp docs/cli.md

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
