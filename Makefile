# Two commands: `make run` (service on the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test lint typecheck unit promtool bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## Install what is needed, migrate the embedded SQLite database and run the service.
run: $(STAMP)
	$(BIN)/tronrent migrate
	$(BIN)/tronrent serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## promtool runs the alert rules' unit tests: installed from Debian's prometheus package when
## missing and we are root; otherwise install it yourself (README, Set-up).
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	           apt-get install -y --no-install-recommends prometheus; }; \
	  else echo "promtool missing: install Prometheus (apt-get install prometheus)" >&2; exit 1; fi; }

## The suite on PYTEST_WORKERS processes (pytest-xdist; most tests wait on blocks, databases and
## subprocesses; see docs/testing.md). Default 0: one process (4 workers on 2 cores were not
## reliable yet: SQLite write-lock contention, timing waits - README, Tests).
PYTEST_WORKERS ?= 0

unit: $(STAMP) promtool
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

## Install what is needed and run lint, types and the whole test suite (SQLite; plus PostgreSQL
## and Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set).
test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
