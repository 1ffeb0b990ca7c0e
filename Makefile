# The newcomer's two commands: `make demo` and `make test`. Each works from a fresh clone:
# it creates .venv, installs cntgraph with its dev extra, provisions Neo4j, then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cntgraph-installed

.PHONY: demo test neo4j chromium install clean

demo: neo4j
	$(BIN)/cntgraph demo

test: neo4j chromium
	CI=true $(BIN)/python -m pytest

neo4j: install
	$(BIN)/cntgraph neo4j install

# The Neo4j Browser tests drive headless Chromium through the system chromedriver (Debian packages).
chromium:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium chromium-driver; \
	else sudo apt-get update && sudo apt-get install -y chromium chromium-driver; fi

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
