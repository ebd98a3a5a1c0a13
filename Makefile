# Two commands: `make run` (service on the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test lint typecheck unit promtool chromium bench clean

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

## The console's browser tests drive Debian's chromium through Playwright (never a downloaded
## browser): installed from Debian's chromium package when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	           apt-get install -y --no-install-recommends chromium; }; \
	  else echo "chromium missing: install Debian's chromium package (apt-get install chromium)" >&2; exit 1; fi; }

## The suite on PYTEST_WORKERS processes (pytest-xdist; most tests wait on blocks, databases and
## subprocesses; see docs/testing.md). Default 2 on this 2-core machine: 28 min instead of 57 in
## one process (PYTEST_WORKERS=0). PostgreSQL and Redis are the local servers unless
## TEST_DATABASE_URL / TEST_REDIS_URL say otherwise; tests that need them fail, never skip,
## when they are missing.
PYTEST_WORKERS ?= 2
TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export TEST_DATABASE_URL TEST_REDIS_URL

unit: $(STAMP) promtool chromium
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

## Install what is needed and run lint, types and the whole test suite (SQLite, PostgreSQL and
## Redis).
test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
