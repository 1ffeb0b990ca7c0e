# The newcomer's two commands: `make demo` and `make test`. Each works from a fresh clone:
# it creates .venv, installs cntgraph with its dev extra, provisions Neo4j, then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cntgraph-installed

.PHONY: demo test neo4j install clean

demo: neo4j
	$(BIN)/cntgraph demo

test: neo4j
	$(BIN)/python -m pytest

neo4j: install
	$(BIN)/cntgraph neo4j install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
