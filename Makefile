# The two commands of README.rst: `make demo` (run the example shop) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dev,postgres,redis,openapi,bench

.PHONY: demo test lint checks test-sqlite test-postgres test-schema test-browser test-edges docs browser-deps clean bench bench-smoke

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	PY="$(abspath $(PY))" scripts/demo.sh

test: lint checks test-sqlite test-postgres test-schema docs test-browser bench-smoke

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

checks: $(STAMP)
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django makemigrations --check --dry-run
	cd example_project && ../$(PY) manage.py check --fail-level WARNING
	cd example_project && ../$(PY) manage.py makemigrations --check --dry-run

test-sqlite: $(STAMP)
	$(PY) -m pytest -m "not browser"

# Mandatory under CI=true: the conftest fails the run if PostgreSQL cannot be reached.
test-postgres: $(STAMP)
	DB=postgres $(PY) -m pytest -m "not browser"

# schemathesis against the live example shop's OpenAPI schema, as a shopper and a merchant.
test-schema: $(STAMP)
	PY="$(abspath $(PY))" scripts/schemathesis.sh

test-browser: $(STAMP) browser-deps
	$(PY) -m pytest -m browser -p no:randomly

# The benchmarks (docs/dispatch.rst, "Benchmark"): PostgreSQL and Redis on 127.0.0.1.
# BENCH_WAITERS sizes the fan-out; figures print and go to artifacts/bench/results.json.
BENCH_WAITERS ?= 100000
bench: $(STAMP)
	$(PY) -m benchmarks fanout --waiters $(BENCH_WAITERS) --profile
	$(PY) -m benchmarks save --sizes 0,10000,1000000
	$(PY) -m benchmarks position --sizes 10000,1000000
	$(PY) -m benchmarks explain --sizes 10000,$(BENCH_WAITERS)
	$(PY) -m benchmarks http

# Every benchmark at a small size (~30 s), failing on wrong results, never on timings.
bench-smoke: $(STAMP)
	$(PY) -m benchmarks smoke

# Python 3.10 + Django 5.2 and Python 3.13 + Django 6.1 on SQLite (CI; the matrix: tox).
test-edges: $(STAMP)
	PY="$(abspath $(PY))" scripts/test-edges.sh

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

browser-deps:
	scripts/ensure-chromium.sh

clean:
	rm -rf $(VENV) docs/_build artifacts *.egg-info example_project/db.sqlite3
